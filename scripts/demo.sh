#!/usr/bin/env bash
# Set up and start the portal with demo data and the INSi simulator, on embedded defaults:
# an SQLite file, a file-system Celery broker, no external service. Ctrl-C or SIGTERM stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

# DEMO_SETUP=0 restarts an already set-up demo: no install, no migration, no seeding.
DEMO_SETUP="${DEMO_SETUP:-1}"
if [ "$DEMO_SETUP" = "1" ]; then INSPORTAL_WITH_BROWSER=0 scripts/bootstrap.sh; fi
PY="${INSPORTAL_VENV:-.venv}/bin/python"
CELERY="${INSPORTAL_VENV:-.venv}/bin/celery"

export DEBUG="${DEBUG:-1}"
export INS_ENVIRONMENT="${INS_ENVIRONMENT:-test}"
export DATABASE_URL="${DATABASE_URL:-sqlite:///$(pwd)/var/demo.sqlite3}"
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-filesystem://}"
export INSI_SIMULATOR_ENABLED="${INSI_SIMULATOR_ENABLED:-1}"
PORT="${PORT:-8000}"
export INSI_ENDPOINT="${INSI_ENDPOINT:-http://127.0.0.1:${PORT}/insi-simulator/lps}"
LOG_DIR="${DEMO_LOG_DIR:-var/log}"
# Seconds a process is given to stop after SIGTERM before it is killed with its children.
STOP_GRACE="${DEMO_STOP_GRACE:-5}"
mkdir -p "$LOG_DIR"

if [ "$DEMO_SETUP" = "1" ]; then
  "$PY" manage.py migrate --noinput
  "$PY" manage.py load_birthplaces || echo "Référentiel COG complet indisponible (pas d'accès au registre npm) : seed_demo charge les codes dont la démo a besoin."
  "$PY" manage.py seed_demo
  "$PY" manage.py install_schedules
  "$PY" manage.py collectstatic --noinput -v0
fi

# Every process runs in the background, in a process group of its own (setsid), and the script
# waits for them: a signal reaches the script at once (bash runs no trap while a foreground child
# runs), and SIGTERM or Ctrl-C stops them all, each with its children (the worker's pool); when
# one of them ends, the others are stopped too. A group still there STOP_GRACE seconds after
# SIGTERM is killed: nothing the demo started outlives it.
PIDS=()
stop_all() {
  trap - INT TERM EXIT
  local pid tenths=$((STOP_GRACE * 10))
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  while [ "$tenths" -gt 0 ]; do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
    tenths=$((tenths - 1))
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  wait "${PIDS[@]}" 2>/dev/null || true
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

# The worker takes SIGTERM as a cold shutdown (REMAP_SIGTERM): a running task gets
# CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT seconds, then is stopped; a campaign's item left
# unfinished stays pending and is taken again at the next start (resume_runs).
REMAP_SIGTERM=SIGQUIT setsid "$CELERY" -A insportal worker --concurrency 2 --without-mingle --without-gossip --without-heartbeat \
  >"$LOG_DIR/worker.log" 2>&1 &
PIDS+=($!)
setsid "$CELERY" -A insportal beat >"$LOG_DIR/beat.log" 2>&1 &
PIDS+=($!)

echo
echo "Portail : http://127.0.0.1:${PORT}/  (simulateur INSi : http://127.0.0.1:${PORT}/insi-simulator/lps)"
echo "Autre port : PORT=8080 scripts/demo.sh ; arrêt : Ctrl-C ou SIGTERM (arrête aussi le worker et le beat)."
echo "Journaux du worker et du beat Celery : ${LOG_DIR}/"
setsid "$PY" manage.py runserver "127.0.0.1:${PORT}" --noreload &
PIDS+=($!)
wait -n "${PIDS[@]}"
