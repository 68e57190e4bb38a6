"""The one logging configuration of every process (portal, gunicorn, Celery workers and beat, MLLP listener, commands), which keeps personal data out of the logs.

Our own log lines carry identifiers and outcomes only. An exception's text is another matter:
a database error quotes the row it refused (a NIR, a name), a conversion error the value it
could not read, a parser the message it choked on. Tracebacks are therefore written with their
frames and the exception's class, never its text; Celery's task-failure lines, which quote the
exception too, get the class only. Access lines (runserver's, gunicorn's) keep the path and drop
the query string, where the anteriority and FHIR searches carry names, birth dates and matricules.
An exception nobody caught, in any thread, is logged the same way instead of Python's printout.
"""
from __future__ import annotations

import logging
import logging.config
import re
import sys
import threading
import traceback

WITHHELD = "(message withheld: it may quote personal data)"
QUERY_WITHHELD = "?…"
# A request line ("GET /admin/identities/identity/?nom=… HTTP/1.1") or an absolute URL: what follows "?" goes.
_QUERY = re.compile(r"(\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|TRACE|CONNECT) [^\s?]*|https?://[^\s?\"']*)\?[^\s\"']*")


def logging_config(level: str) -> dict:
    """settings.LOGGING: one console handler with the redacting formatter; Django's and gunicorn's loggers go to it."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"class": "insportal.logs.RedactingFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own handlers (its debug console, mail_admins with the request's data) are dropped.
            "django": {"handlers": [], "level": "INFO"},
            "gunicorn.error": {"handlers": [], "level": "INFO", "propagate": True},
            "gunicorn.access": {"handlers": [], "level": "INFO", "propagate": True},
            "py.warnings": {"handlers": [], "level": "WARNING"},
            "zeep": {"level": "WARNING"}, "weasyprint": {"level": "WARNING"}, "axes": {"level": "WARNING"},
        },
    }


def configure(config: dict) -> None:
    """Apply ``config`` (Django's LOGGING_CONFIG, Celery's setup_logging) and route what would bypass it."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = lambda hook: _log_uncaught(hook.exc_type, hook.exc_value, hook.exc_traceback)


def _log_uncaught(exc_type, exc_value, exc_traceback) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc_value, exc_traceback)
        return
    logging.getLogger("insportal").critical("Uncaught exception", exc_info=(exc_type, exc_value, exc_traceback))


def without_query(text: str) -> str:
    return _QUERY.sub(lambda found: found.group(1) + QUERY_WITHHELD, text)


class RedactingFormatter(logging.Formatter):
    def formatException(self, ei) -> str:
        return "".join(_redacted(traceback.TracebackException(*ei, compact=True))).rstrip("\n")

    def format(self, record: logging.LogRecord) -> str:
        # Celery logs a failed task as "... %(exc)s" with the exception's repr in its arguments.
        if record.exc_info and isinstance(record.args, dict) and "exc" in record.args:
            record.args = record.args | {"exc": f"{_class_name(record.exc_info[0])} {WITHHELD}"}
        return without_query(super().format(record))


def _class_name(exc_type: type) -> str:
    module = exc_type.__module__
    return exc_type.__qualname__ if module == "builtins" else f"{module}.{exc_type.__qualname__}"


def _redacted(exception: traceback.TracebackException):
    if exception.__cause__ is not None:
        yield from _redacted(exception.__cause__)
        yield "\nThe above exception was the direct cause of the following exception:\n\n"
    elif exception.__context__ is not None and not exception.__suppress_context__:
        yield from _redacted(exception.__context__)
        yield "\nDuring handling of the above exception, another exception occurred:\n\n"
    if exception.stack:
        yield "Traceback (most recent call last):\n"
        yield from exception.stack.format()
    yield f"{_class_name(exception.exc_type)} {WITHHELD}\n"
