"""gunicorn's configuration for the portal in production: ``gunicorn -c insportal/gunicorn.conf.py`` (README, "Production server").

Access lines carry the method, the path (``%(U)s``: without its query string, where the searches
carry names, birth dates and matricules), the status, the size and the duration; gunicorn's own
lines and the access lines go through the portal's one logging configuration (insportal/logs.py).
Every setting can be changed from the environment with GUNICORN_CMD_ARGS, as gunicorn documents.
"""
import gc
import multiprocessing
import os

from insportal.logs import logging_config

wsgi_app = "insportal.wsgi:application"
bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")  # behind the hospital's reverse proxy (TLS ends there)
workers = int(os.environ.get("PORTAL_WORKERS", 2 * multiprocessing.cpu_count() + 1))
# A PDF of labels or an INSi call (33 s at worst with the default retries) may take a while.
timeout = int(os.environ.get("PORTAL_TIMEOUT", 60))
graceful_timeout = 10  # on SIGTERM, requests under way get this long before the workers are stopped
max_requests, max_requests_jitter = 1000, 100  # WeasyPrint's memory is given back now and then

# No query string in any access line: %(r)s (the request line) and %(q)s are never used, nor the
# referer (%(f)s), which carries the previous page's query string.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
logconfig_dict = logging_config(os.environ.get("LOG_LEVEL", "INFO"))
# gunicorn's control socket (gunicornc) is not used: no socket left in the account's home.
control_socket_disable = True


def post_worker_init(worker):
    """Once a worker has loaded the portal: what is loaded stays for the worker's life, so the
    collector's full passes stop walking it (on 1,000,000 identities a pass over the loaded portal
    took 110 ms and landed in one FHIR search in twenty; bench/interop_fhir_search.py)."""
    gc.freeze()
