#!/usr/bin/env bash
# Set up and start the portal with demo data and the INSi simulator, on embedded defaults:
# an SQLite file, a file-system Celery broker, no external service. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

INSPORTAL_WITH_BROWSER=0 scripts/bootstrap.sh
PY="${INSPORTAL_VENV:-.venv}/bin/python"
CELERY="${INSPORTAL_VENV:-.venv}/bin/celery"

export DEBUG="${DEBUG:-1}"
export INS_ENVIRONMENT="${INS_ENVIRONMENT:-test}"
export DATABASE_URL="${DATABASE_URL:-sqlite:///$(pwd)/var/demo.sqlite3}"
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-filesystem://}"
export INSI_SIMULATOR_ENABLED="${INSI_SIMULATOR_ENABLED:-1}"
PORT="${PORT:-8000}"
export INSI_ENDPOINT="${INSI_ENDPOINT:-http://127.0.0.1:${PORT}/insi-simulator/lps}"
mkdir -p var/log

"$PY" manage.py migrate --noinput
"$PY" manage.py load_birthplaces || echo "Référentiel COG complet indisponible (pas d'accès au registre npm) : seed_demo charge les codes dont la démo a besoin."
"$PY" manage.py seed_demo
"$PY" manage.py install_schedules
"$PY" manage.py collectstatic --noinput -v0

STARTED=()
# Ctrl-C (or any exit) stops everything this script started: the worker (and its processes), beat,
# the web server; it waits for them, so that nothing is left holding the port or the broker.
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "Arrêt de la démonstration (serveur web, worker et beat Celery)…"
  kill -TERM "${STARTED[@]}" 2>/dev/null || true
  wait "${STARTED[@]}" 2>/dev/null || true
}
trap stop_all INT TERM EXIT

"$CELERY" -A insportal worker --concurrency 2 >var/log/worker.log 2>&1 &
STARTED+=($!)
"$CELERY" -A insportal beat >var/log/beat.log 2>&1 &
STARTED+=($!)

echo
echo "Portail : http://127.0.0.1:${PORT}/  (simulateur INSi : http://127.0.0.1:${PORT}/insi-simulator/lps)"
echo "Autre port : PORT=8080 scripts/demo.sh ; arrêt : Ctrl-C (arrête aussi le worker et le beat)."
echo "Journaux du worker et du beat Celery : var/log/"
"$PY" manage.py runserver "127.0.0.1:${PORT}" --noreload &
STARTED+=($!)
wait "${STARTED[-1]}"
