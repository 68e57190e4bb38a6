// django-celery-beat's periodic task form (templates/admin/djcelery/change_periodictask_form.html):
// the chosen crontab read out under its field, as the package's inline script did.
"use strict";
{
    const $ = django.jQuery;
    const readableCrontabs = JSON.parse($("#readable-crontabs").text());
    const help = $(".field-crontab .help");
    const originalHelp = help.text();
    $(".field-crontab_translation").hide();
    $(".field-crontab").change(function() {
        const readable = readableCrontabs[$("#id_crontab").val()];
        help.text(originalHelp).append($("<br>"), document.createTextNode("Traduction : " + (readable || "")));
    });
}
