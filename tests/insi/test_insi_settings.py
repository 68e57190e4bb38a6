"""The INSi settings as the environment shapes them: demo defaults, production refusals."""
import os
import subprocess
import sys

from django.conf import settings


def settings_in(**environ) -> subprocess.CompletedProcess:
    code = (
        "from insportal import settings as s; "
        "print(s.INSI_SIMULATOR_ENABLED, s.INSI_SIMULATOR_IDAM == s.INSI_IDAM, s.INSI_ENDPOINT)"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("INSI_", "INS_"))}
    return subprocess.run(
        [sys.executable, "-c", code], env={**env, **environ}, cwd=settings.BASE_DIR, capture_output=True, text=True
    )


def test_the_demo_gets_the_simulator_and_a_client_pointed_at_it():
    result = settings_in(INS_ENVIRONMENT="test")

    assert result.stdout.split() == ["True", "True", "http://127.0.0.1:8000/insi-simulator/lps"]


def test_production_has_no_simulator_by_default():
    result = settings_in(INS_ENVIRONMENT="production", INSI_IDAM="IDAM-1", INSI_INSTANCE_ID="instance-1")

    assert result.stdout.split()[0] == "False"


def test_production_refuses_to_start_without_its_own_idam_and_instance():
    result = settings_in(INS_ENVIRONMENT="production")

    assert result.returncode != 0
    assert "INSI_IDAM and INSI_INSTANCE_ID must be set" in result.stderr


def test_production_refuses_to_start_with_the_simulator_switched_on():
    result = settings_in(INS_ENVIRONMENT="production", INSI_IDAM="IDAM-1", INSI_INSTANCE_ID="instance-1", INSI_SIMULATOR_ENABLED="1")

    assert result.returncode != 0
    assert "INSI_SIMULATOR_ENABLED cannot be on when INS_ENVIRONMENT is production" in result.stderr
