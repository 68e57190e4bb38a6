#!/usr/bin/env bash
# Run the whole test suite against PostgreSQL and Redis, installing what is missing first.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/identities -x).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
scripts/services.sh

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/insportal}"
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-redis://127.0.0.1:6379/1}"
# Two workers on the two cores; each gets its own test database (test_insportal_gwN).
exec "${INSPORTAL_VENV:-.venv}/bin/pytest" -n "${PYTEST_WORKERS:-2}" --create-db "$@"
