"""Screenshots of the portal's main screens into docs/screenshots/, run by hand against a running server.

Usage (a demonstration database, never production)::

    DATABASE_URL=postgres://…/demo python manage.py generate_identities 20000
    DATABASE_URL=postgres://…/demo DEBUG=1 python manage.py runserver 8431 &
    DATABASE_URL=postgres://…/demo DEBUG=1 python bench/portal_screenshots.py --url http://127.0.0.1:8431

It creates (or resets) demonstration accounts ``demo.civ`` and ``demo.direction``, refreshes
the worklists, then drives headless Chromium through: home, anteriority search, identity
page, a worklist item, the queues and the dashboard.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db.models import Count  # noqa: E402

from identities.core import roles  # noqa: E402
from identities.core.models import Identity, Status, WorklistItem  # noqa: E402
from identities.matching import pairs  # noqa: E402
from tests.browser.chromium import chromium_driver  # noqa: E402

PASSWORD = "demo-password-not-for-production"
OUT = ROOT / "docs" / "screenshots"


def demo_account(username: str, role: str):
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"first_name": "Démo"})
    user.set_password(PASSWORD)
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    return user


def a_common_name() -> tuple[str, str]:
    """A birth name shared by several qualified identities, and one of their given names: a realistic search."""
    row = (Identity.objects.filter(status=Status.QUAL).values("birth_name").annotate(n=Count("id")).order_by("-n").first())
    sample = Identity.objects.filter(status=Status.QUAL, birth_name=row["birth_name"]).first()
    return row["birth_name"], sample.first_birth_given_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8431")
    args = parser.parse_args()
    civ = demo_account("demo.civ", roles.CIV_MEMBER)
    demo_account("demo.direction", roles.MANAGER)
    pairs.worklists_refresh(actor=civ)
    name, given = a_common_name()
    OUT.mkdir(parents=True, exist_ok=True)

    from selenium.webdriver.common.by import By

    driver = chromium_driver(width=1440, height=1000)
    driver.implicitly_wait(5)

    def shot(filename: str, full_height: bool = True) -> None:
        if full_height:
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1440, min(max(height, 800), 2400))
        driver.save_screenshot(str(OUT / filename))
        driver.set_window_size(1440, 1000)
        print("  ", OUT / filename)

    def login(username: str) -> None:
        driver.delete_all_cookies()
        driver.get(args.url + "/login/")
        driver.find_element(By.NAME, "username").send_keys(username)
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    try:
        login("demo.civ")
        shot("01-accueil.png")
        driver.get(args.url + "/identities/identity/")
        driver.find_element(By.NAME, "nom").send_keys(name.lower())
        driver.find_element(By.NAME, "prenom").send_keys(given.lower())
        driver.find_element(By.CSS_SELECTOR, "#anteriority-search input[type=submit]").click()
        shot("02-recherche-anteriorite.png")
        # Open a qualified one: its page shows the matricule (the diffusion gate allows it).
        driver.find_element(By.XPATH, "//tr[.//span[contains(@class, 'ins-status-qual')]]//th/a").click()
        shot("03-fiche-identite.png")
        driver.get(args.url + "/identities/worklistitem/")
        shot("04-files-de-travail.png", full_height=False)
        pair = WorklistItem.objects.filter(state=WorklistItem.State.OPEN, other__isnull=False).order_by("kind", "id").first()
        if pair is not None:
            driver.get(f"{args.url}/identities/worklistitem/{pair.pk}/change/")
            shot("05-element-file-doublon.png")
        login("demo.direction")
        driver.get(args.url + "/tableau-de-bord/")
        shot("06-tableau-de-bord.png")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
