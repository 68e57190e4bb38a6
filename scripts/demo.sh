#!/usr/bin/env bash
# Set up and start the portal with demo data and the INSi simulator, on embedded defaults:
# an SQLite file, a file-system Celery broker, no external service. Ctrl-C or SIGTERM stops everything.
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

# Every process runs in the background and the script waits for them: a signal reaches the
# script at once (bash runs no trap while a foreground child runs), and SIGTERM or Ctrl-C stops
# them all; when one of them ends, the others are stopped too.
PIDS=()
stop_all() {
  trap - INT TERM EXIT
  kill -TERM "${PIDS[@]}" 2>/dev/null || true
  wait "${PIDS[@]}" 2>/dev/null || true
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

"$CELERY" -A insportal worker --concurrency 2 >var/log/worker.log 2>&1 &
PIDS+=($!)
"$CELERY" -A insportal beat >var/log/beat.log 2>&1 &
PIDS+=($!)

echo
echo "Portail : http://127.0.0.1:${PORT}/  (simulateur INSi : http://127.0.0.1:${PORT}/insi-simulator/lps)"
echo "Autre port : PORT=8080 scripts/demo.sh ; arrêt : Ctrl-C ou SIGTERM (arrête aussi le worker et le beat)."
echo "Journaux du worker et du beat Celery : var/log/"
"$PY" manage.py runserver "127.0.0.1:${PORT}" --noreload &
PIDS+=($!)
wait -n "${PIDS[@]}"
