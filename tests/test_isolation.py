"""Tests share one Redis with other runs: none names a broker of its own or empties a queue it did not create."""
from pathlib import Path

FORBIDDEN = ("redis://", ".purge(", "TEST_CELERY_BROKER_URL")


def test_every_test_uses_the_runs_broker_and_its_own_queue():
    here = Path(__file__)
    offenders = [
        f"{path.relative_to(here.parent)}: {word}"
        for path in sorted(here.parent.rglob("*.py")) if path != here
        for word in FORBIDDEN if word in path.read_text(encoding="utf-8")
    ]
    assert not offenders, "use settings.CELERY_BROKER_URL and the celery_queue fixture: " + ", ".join(offenders)
