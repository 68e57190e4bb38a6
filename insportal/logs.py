"""Log formatting that keeps personal data out of the logs, for the portal and its Celery workers.

Our own log lines carry identifiers and outcomes only. An exception's text is another matter:
a database error quotes the row it refused (a NIR, a name), a conversion error the value it
could not read, a parser the message it choked on. Tracebacks are therefore written with their
frames and the exception's class, never its text; Celery's task-failure lines, which quote the
exception too, get the class only.
"""
from __future__ import annotations

import logging
import traceback

WITHHELD = "(message withheld: it may quote personal data)"


class RedactingFormatter(logging.Formatter):
    def formatException(self, ei) -> str:
        return "".join(_redacted(traceback.TracebackException(*ei, compact=True))).rstrip("\n")

    def format(self, record: logging.LogRecord) -> str:
        # Celery logs a failed task as "... %(exc)s" with the exception's repr in its arguments.
        if record.exc_info and isinstance(record.args, dict) and "exc" in record.args:
            record.args = record.args | {"exc": f"{_class_name(record.exc_info[0])} {WITHHELD}"}
        return super().format(record)


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
