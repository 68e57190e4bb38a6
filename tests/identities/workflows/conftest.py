"""Fixtures of the INSi workflow tests: the simulator behind its switchboard, people of the INSi test book, a real Celery worker."""
from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker

from identities.core.models import Birthplace
from insi.simulator.catalog import _PLACES as _SIMULATOR_PLACES
from insi.transport import DEFAULT_WSDL
from tests.identities.workflows.switchboard import Switchboard, serve


@pytest.fixture(scope="session")
def switchboard():
    board = Switchboard()
    with serve(board) as url:
        board.url = url
        yield board


@pytest.fixture
def insi(switchboard, settings, birthplaces):
    """The real INSi client talking over HTTP to the simulator; no backoff, so retries cost nothing."""
    settings.INS_ENVIRONMENT = "test"
    settings.INSI_WSDL = str(DEFAULT_WSDL)
    settings.INSI_ENDPOINT = switchboard.url
    settings.INSI_IDAM = settings.INSI_SIMULATOR_IDAM = "INSPORTAL-TEST"
    settings.INSI_TIMEOUT = 5.0
    settings.INSI_RETRY_ATTEMPTS = 3
    settings.INSI_RETRY_BACKOFF = 0.0
    settings.INSI_MANU_CERT = settings.INSI_AUTO_CERT = settings.INSI_CA_BUNDLE = ""
    settings.INSI_SIMULATOR_PLATFORM_QUIRKS = settings.INSI_SIMULATOR_HISTO_OUT_OF_ORDER = False
    settings.INSI_SIMULATOR_LATENCY = settings.INSI_SIMULATOR_FAILURE_RATE = 0.0
    settings.INSI_SIMULATOR_GENERATED_COUNT = 1_000_000
    settings.INSI_AUTO_FEED_THRESHOLD = 0.0
    settings.INSI_KO_ALERT_EMAILS = []
    settings.INSI_RUN_RETRY_BACKOFF = 0.0
    for code in _SIMULATOR_PLACES:
        Birthplace.objects.get_or_create(code=code, defaults={"name": f"Lieu {code}", "kind": Birthplace.Kind.COMMUNE})
    switchboard.reset()
    yield switchboard
    switchboard.reset()


@pytest.fixture
def worker(transactional_db, insi, celery_queue, settings):
    """A real Celery worker (two threads) on Redis, in this process, consuming this test's queue."""
    from insportal.celery import app

    settings.INSI_RUN_SLICE_SECONDS = 1.0
    settings.INSI_RUN_PARALLELISM = 2
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, queues=[celery_queue],
                      loglevel="WARNING", shutdown_timeout=30):
        yield
