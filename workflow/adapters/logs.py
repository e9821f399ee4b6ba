"""Structured logs: JSON off a terminal, readable on one, and never a pupil's personal data.

The redaction processor runs after merge_contextvars so that values bound per command are
redacted too. It drops values by key, so a careless `log.info(..., note=...)` still leaks nothing.

structlog is imported when a line is first written, not before: with `rich` installed its import
costs more than a whole `case show` may (issue 17), and a read that writes no line never pays it.
So the command's context (`bind_command`) is kept here until structlog is there, and a process
that asked for `configure_later` is configured by its first line, before that line is written
(structlog's own default prints to stdout and redacts nothing).
"""

from __future__ import annotations

import datetime as dt
import json as jsonlib
import sys
from collections.abc import Callable, Iterable, MutableMapping
from contextvars import ContextVar, copy_context
from typing import Any

from workflow.domain.evidence import BUILTIN_KINDS

# Keys that hold personal data whatever the evidence kinds: the pupil, mail bodies, views.
_ALWAYS = frozenset({"name", "pupil", "pupil_ref", "view", "diagnosis", "email_body", "body"})
# ... and every secret field of every built-in evidence kind (notes, goals, participants, ...).
SECRET_KEYS = _ALWAYS | frozenset(n for kind in BUILTIN_KINDS.values() for n in kind.secret_names)
REDACTED = "[redacted]"
_redacted: set[str] = set(SECRET_KEYS)


def redact_also(keys: Iterable[str]) -> None:
    """Redact these keys too: the secret fields of the evidence kinds a definition declares
    (bootstrap calls this for every installed definition)."""
    _redacted.update(keys)


def secret_keys() -> frozenset[str]:
    return frozenset(_redacted)


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in _redacted.intersection(event_dict):
        event_dict[key] = REDACTED
    return event_dict


# The engine writes a line for every command, right after its COMMIT, so the chain is kept short:
# structlog's add_log_level and TimeStamper(fmt="iso", utc=True) as one step, and a JSON renderer
# whose encoder is built once (structlog's JSONRenderer calls json.dumps with a `default`, which
# builds a new encoder for every line). The lines are the same, key for key and byte for byte.
_LEVEL_OF_METHOD = {"warn": "warning", "exception": "error"}


def add_level_and_time(_logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event_dict["level"] = _LEVEL_OF_METHOD.get(method, method)
    event_dict["timestamp"] = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    return event_dict


def format_exc_info(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog's format_exc_info, asked only when a line carries an exception."""
    if "exc_info" in event_dict:
        import structlog

        return structlog.processors.format_exc_info(logger, method, event_dict)
    return event_dict


def _fallback(value: Any) -> Any:
    """What structlog's JSONRenderer does with a value JSON cannot hold: its __structlog__, or repr."""
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


_ENCODE = jsonlib.JSONEncoder(default=_fallback).encode


def render_json(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> str:
    return _ENCODE(event_dict)


Processor = Callable[[Any, str, MutableMapping[str, Any]], Any]


def one_step(merge: Processor, renderer: Processor) -> Processor:
    """The whole chain as one processor: `merge` (structlog's merge_contextvars), `redact`,
    `add_level_and_time`, `format_exc_info` and `renderer`, in that order, each doing what it
    does as a step of its own. Why: the engine writes a line for every command, and structlog
    calls each step of its chain in a loop of its own; five steps cost more than their work.
    The lines are the same (tests/test_logging.py compares them with structlog's own chain)."""
    redacted, level_of, now, utc, exc = _redacted, _LEVEL_OF_METHOD, dt.datetime.now, dt.UTC, format_exc_info

    def process(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
        event_dict = merge(logger, method, event_dict)
        for key in redacted.intersection(event_dict):
            event_dict[key] = REDACTED
        event_dict["level"] = level_of.get(method, method)
        event_dict["timestamp"] = now(utc).isoformat().replace("+00:00", "Z")
        if "exc_info" in event_dict:
            event_dict = exc(logger, method, event_dict)
        return renderer(logger, method, event_dict)

    return process


def configure(level: str = "info", *, json: bool | None = None, stream: Any = None) -> None:
    """Set up structlog once per process; logs go to stderr so stdout stays for results."""
    import logging

    import structlog

    _bind_pending(structlog)
    out = stream or sys.stderr
    as_json = (not out.isatty()) if json is None else json
    renderer: Any = render_json if as_json else structlog.dev.ConsoleRenderer(colors=False)
    global _generation
    _generation += 1
    structlog.configure(
        processors=[one_step(structlog.contextvars.merge_contextvars, renderer)],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.WriteLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


_generation = 0  # bumped by configure(): loggers bound under an older configuration rebind
_later: list[str] = []  # configure_later's level, for the first line written
# The command's context, bound while structlog was not imported yet (bind_command).
_pending: ContextVar[dict[str, object] | None] = ContextVar("passend_log_pending", default=None)


def configure_later(level: str = "info") -> None:
    """`configure(level)` when the first line is written (by a logger of get_logger), not now:
    a command that writes none starts without importing structlog."""
    _later[:] = [level]


def bind_command(**values: object) -> None:
    """Bind a command's context to every log line, dropping the previous command's. Every
    binding of the house goes through here: before structlog is imported the values wait in
    this context (and replace any that waited), and are bound when it is."""
    structlog_ = sys.modules.get("structlog")
    if structlog_ is None:
        _pending.set(dict(values))
        return
    if _pending.get() is not None:
        _pending.set(None)
    # structlog's clear_contextvars, but for the keys bound again just below: what is bound
    # afterwards is the same, and a command (every one binds its context) sets each variable once.
    cv = structlog_.contextvars
    prefix = cv.STRUCTLOG_KEY_PREFIX
    size = len(prefix)
    for var in copy_context():
        name = var.name
        if name.startswith(prefix) and name[size:] not in values:
            var.set(Ellipsis)
    cv.bind_contextvars(**values)


def _bind_pending(structlog_: Any) -> None:
    waiting = _pending.get()
    if waiting is not None:
        _pending.set(None)
        structlog_.contextvars.clear_contextvars()
        structlog_.contextvars.bind_contextvars(**waiting)


def _structlog() -> Any:
    """structlog, imported now if it was not; configured (configure_later) and given the waiting
    context before any line is written."""
    import structlog

    if _later and not structlog.is_configured():
        configure(_later[0])
    _bind_pending(structlog)
    return structlog


class _Logger:
    """A module's logger, bound once per configuration.

    structlog's lazy proxy rebinds on every call unless `cache_logger_on_first_use`, and that
    cache would pin loggers to the first configuration (tests reconfigure; so may a command).
    Binding once per `configure()` keeps both: the engine logs every command, and the rebind
    cost a fifth of a log line.
    """

    __slots__ = ("_bound", "_generation", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._generation = -1
        self._bound: Any = None

    def __getattr__(self, method: str) -> Any:
        structlog_ = sys.modules.get("structlog")
        if (structlog_ is None or self._generation != _generation or _pending.get() is not None
                or not structlog_.is_configured()):
            self._bound = _structlog().get_logger(self._name).bind()
            self._generation = _generation
        return getattr(self._bound, method)


def get_logger(name: str) -> Any:
    return _Logger(name)
