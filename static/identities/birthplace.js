/* The birthplace field of the identity form: the name of a typed code at once, the postal-code
   mix-up named with the INSEE code to use, and a search by commune or country name.
   Plain JavaScript served by the portal itself (closed hospital networks: no CDN, no framework);
   without it the field still works and the server explains a refused code. */
/* exported insBirthplaceField */
function insBirthplaceField() {
  "use strict";

  var field = document.getElementById("id_birthplace_code");
  if (!field || !field.dataset.lookupUrl) {
    return;
  }
  var url = field.dataset.lookupUrl;
  var birth = document.getElementById("id_birth_date");

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text) { node.textContent = text; }
    return node;
  }

  var box = element("div", {"class": "ins-birthplace"});
  var status = element("div", {"id": "birthplace-status", "class": "ins-birthplace-status", "aria-live": "polite"});
  var postal = element("div", {"id": "birthplace-postal", "class": "ins-birthplace-postal", "aria-live": "polite"});
  var label = element("label", {"for": "birthplace-search"}, field.dataset.searchLabel);
  var search = element("input", {
    "type": "search", "id": "birthplace-search", "autocomplete": "off", "placeholder": field.dataset.searchPlaceholder,
    "role": "combobox", "aria-expanded": "false", "aria-controls": "birthplace-results", "aria-autocomplete": "list"
  });
  var results = element("ul", {"id": "birthplace-results", "role": "listbox", "class": "ins-birthplace-results", "hidden": ""});
  box.append(status, postal, label, search, results);
  field.insertAdjacentElement("afterend", box);

  function birthDate() { return birth ? birth.value.trim() : ""; }

  function query(params) {
    params.naissance = birthDate();
    var target = url + "?" + new URLSearchParams(params).toString();
    return fetch(target, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; });
  }

  function choose(code) {
    field.value = code;
    results.hidden = true;
    search.setAttribute("aria-expanded", "false");
    lookup();
  }

  function useButton(place) {
    var button = element("button", {"type": "button", "class": "button ins-birthplace-use", "data-code": place.code},
      field.dataset.useLabel.replace("%(code)s", place.code));
    button.addEventListener("click", function () { choose(place.code); });
    return button;
  }

  var lastCode = null;
  function lookup() {
    var code = field.value.trim().toUpperCase();
    var key = code + "|" + birthDate();
    if (key === lastCode) { return; }
    lastCode = key;
    status.textContent = "";
    status.className = "ins-birthplace-status";
    postal.replaceChildren();
    if (code.length !== 5) { return; }
    query({code: code}).then(function (answer) {
      if (!answer || answer.code !== field.value.trim().toUpperCase()) { return; }
      status.textContent = answer.message;
      var valid = answer.place && answer.place.valid;
      status.classList.add(valid ? "ins-birthplace-ok" : "ins-birthplace-warning");
      if (answer.postal.length) {
        postal.append(element("span", {}, answer.postal_message + " "));
        answer.postal.filter(function (place) { return place.valid; }).forEach(function (place) {
          postal.append(useButton(place), " ");
        });
      }
    });
  }

  var active = -1;
  function highlight(index) {
    var items = results.querySelectorAll("li");
    items.forEach(function (item, position) { item.setAttribute("aria-selected", position === index ? "true" : "false"); });
    active = index;
  }

  var pending = null;
  function find() {
    var text = search.value.trim();
    if (text.length < 2) { results.hidden = true; return; }
    query({q: text}).then(function (answer) {
      if (!answer || search.value.trim() !== text) { return; }
      results.replaceChildren();
      if (!answer.results.length) {
        results.append(element("li", {"class": "ins-birthplace-none"}, field.dataset.noneLabel));
      }
      answer.results.forEach(function (place) {
        var item = element("li", {"role": "option", "data-code": place.code, "aria-selected": "false",
          "class": place.valid ? "" : "ins-birthplace-invalid"});
        item.append(element("strong", {}, place.code + " " + place.name), " ", element("small", {}, place.detail));
        if (place.note) { item.append(element("small", {"class": "ins-birthplace-note"}, " — " + place.note)); }
        item.addEventListener("mousedown", function (event) { event.preventDefault(); choose(place.code); });
        results.append(item);
      });
      results.hidden = false;
      search.setAttribute("aria-expanded", "true");
      highlight(-1);
    });
  }

  field.addEventListener("input", lookup);
  if (birth) { birth.addEventListener("change", lookup); }
  search.addEventListener("input", function () {
    clearTimeout(pending);
    pending = setTimeout(find, 200);
  });
  search.addEventListener("keydown", function (event) {
    var items = results.querySelectorAll("li[role=option]");
    if (event.key === "ArrowDown" && items.length) {
      event.preventDefault();
      highlight(Math.min(active + 1, items.length - 1));
    } else if (event.key === "ArrowUp" && items.length) {
      event.preventDefault();
      highlight(Math.max(active - 1, 0));
    } else if (event.key === "Enter") {
      // Enter picks a place; it never submits the identity form from the search box.
      event.preventDefault();
      if (active >= 0 && items[active]) { choose(items[active].dataset.code); }
    } else if (event.key === "Escape") {
      results.hidden = true;
      search.setAttribute("aria-expanded", "false");
    }
  });
  search.addEventListener("blur", function () { results.hidden = true; });
  lookup();
}
// The admin loads form scripts in the page head, before the form exists.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", insBirthplaceField);
} else {
  insBirthplaceField();
}
