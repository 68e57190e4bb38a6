"""In a real (headless) browser, with a real Celery worker: a large label print goes to its progress page, which refreshes
itself (no script) until the result page offers the PDF, which downloads."""
from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest
from pypdf import PdfReader

from identities.documents.models import LabelJob
from tests import factories
from tests.browser import chromium
from tests.browser.test_merge_browser import log_in, submit
from tests.browser.test_portal_browser import browser, portal_url  # noqa: F401 - fixtures
from tests.identities.documents.test_labels import ALL_EXTRAS, profile
from tests.processes import stop, worker_process

pytestmark = [
    pytest.mark.browser,
    pytest.mark.celery,
    pytest.mark.skipif(not chromium.available(), reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium)"),
    pytest.mark.django_db(transaction=True),
]
# Set to a folder (docs/screenshots) to keep the screens of this walk-through.
SCREENSHOTS = os.environ.get("INSPORTAL_SCREENSHOTS", "")

FETCH_PDF = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: "same-origin"}).then(async (answer) => {
  const bytes = new Uint8Array(await answer.arrayBuffer());
  let binary = "";
  bytes.forEach((byte) => { binary += String.fromCharCode(byte); });
  done([answer.status, answer.headers.get("Content-Type"), answer.headers.get("Content-Disposition"), btoa(binary)]);
});
"""


def shot(browser, name: str) -> None:  # noqa: F811
    if SCREENSHOTS:
        browser.save_screenshot(str(Path(SCREENSHOTS) / name))


def test_a_large_print_is_followed_then_downloaded(portal_url, browser, celery_queue, front_desk, birthplaces, settings):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    settings.LABEL_JOB_ABOVE = 48
    identity = factories.qualified(front_desk)
    chosen = profile(front_desk, extras=ALL_EXTRAS)
    worker = worker_process(celery_queue, LABEL_JOB_CHUNK_PAGES="1")
    try:
        log_in(browser, portal_url, front_desk)
        browser.get(f"{portal_url}/identities/identity/{identity.pk}/change/")
        browser.find_element(By.ID, "print-labels").click()
        assert "Au-delà de 48 étiquettes" in browser.find_element(By.TAG_NAME, "body").text
        Select(browser.find_element(By.NAME, "profile")).select_by_visible_text(str(chosen))
        copies = browser.find_element(By.NAME, "copies")
        copies.clear()
        copies.send_keys("96")  # 4 sheets of 24
        body = submit(browser, "print-submit")

        assert "96 étiquettes : l'impression est préparée en tâche de fond" in body
        assert "/ 4 page(s) rendue(s)" in body
        shot(browser, "09-etiquettes-avancement.png")
        download = WebDriverWait(browser, 300, poll_frequency=0.5).until(
            lambda driver: driver.find_elements(By.ID, "job-download")
        )[0]  # the page refreshed itself until the job was done
    finally:
        stop(worker)

    assert browser.find_element(By.ID, "job-state").text == "terminée"
    assert browser.find_element(By.ID, "job-pages").text == "4 / 4"
    shot(browser, "10-etiquettes-resultat.png")
    status, content_type, disposition, encoded = browser.execute_async_script(FETCH_PDF, download.get_attribute("href"))
    job = LabelJob.objects.get()
    assert (status, content_type, disposition) == (200, "application/pdf", f'attachment; filename="etiquettes-{job.pk}.pdf"')
    pdf = base64.b64decode(encoded)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 4

    browser.find_element(By.LINK_TEXT, "Mes impressions d'étiquettes").click()
    assert "96" in browser.find_element(By.ID, "label-jobs").text
