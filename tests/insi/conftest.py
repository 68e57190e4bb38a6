"""Fixtures of the INSi tests: the simulator on a real loopback socket, a client pointed at it, callers."""
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from insi.simulator.server import serve
from insi.transport import DEFAULT_WSDL
from insi.types import CallContext

# CI clones the project beside shared/, as on the development machines.
REFERENCE_WSDL_DIR = Path(django_settings.BASE_DIR).parent / "shared" / "reference" / "insi-wsdl"


@pytest.fixture(scope="session")
def simulator_url():
    with serve() as url:
        yield url


@pytest.fixture(autouse=True)
def insi_settings(settings):
    """Known switches whatever the environment says; no backoff so that retries cost nothing."""
    settings.INS_ENVIRONMENT = "test"
    settings.INSI_WSDL = str(DEFAULT_WSDL)
    settings.INSI_IDAM = "INSPORTAL-TEST"
    settings.INSI_SIMULATOR_IDAM = "INSPORTAL-TEST"
    settings.INSI_TIMEOUT = 5.0
    settings.INSI_RETRY_ATTEMPTS = 3
    settings.INSI_RETRY_BACKOFF = 0.0
    settings.INSI_MANU_CERT = settings.INSI_AUTO_CERT = ""
    settings.INSI_CA_BUNDLE = ""
    settings.INSI_SIMULATOR_PLATFORM_QUIRKS = False
    settings.INSI_SIMULATOR_HISTO_OUT_OF_ORDER = False
    settings.INSI_SIMULATOR_LATENCY = 0.0
    settings.INSI_SIMULATOR_FAILURE_RATE = 0.0
    settings.INSI_SIMULATOR_FAILURE_KINDS = ["fault", "http500", "timeout", "malformed"]
    settings.INSI_SIMULATOR_GENERATED_COUNT = 1_000_000
    return settings


@pytest.fixture
def on_simulator(simulator_url, insi_settings):
    """Points INSI_ENDPOINT at the simulator: ``get_client()`` then talks to it over HTTP.

    Tests call ``get_client()`` after changing settings: a settings change rebuilds it.
    """
    insi_settings.INSI_ENDPOINT = simulator_url
    return insi_settings


@pytest.fixture
def automatic():
    return CallContext.automatic("tests INSi")


@pytest.fixture
def reference_wsdl_dir():
    if not REFERENCE_WSDL_DIR.is_dir():
        pytest.skip(f"the official INSi WSDL package is not at {REFERENCE_WSDL_DIR} (shared/ beside the project)")
    return REFERENCE_WSDL_DIR
