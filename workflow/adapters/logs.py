"""Structured logs: JSON off a terminal, readable on one, and never a pupil's personal data.

The redaction processor runs after merge_contextvars so that values bound per command are
redacted too. It drops values by key, so a careless `log.info(..., note=...)` still leaks nothing.
"""

from __future__ import annotations

import datetime as dt
import json as jsonlib
import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

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


def configure(level: str = "info", *, json: bool | None = None, stream: Any = None) -> None:
    """Set up structlog once per process; logs go to stderr so stdout stays for results."""
    out = stream or sys.stderr
    as_json = (not out.isatty()) if json is None else json
    renderer: Any = render_json if as_json else structlog.dev.ConsoleRenderer(colors=False)
    global _generation
    _generation += 1
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            redact,
            add_level_and_time,
            format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.WriteLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


_generation = 0  # bumped by configure(): loggers bound under an older configuration rebind


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
        if self._generation != _generation or not structlog.is_configured():
            self._bound = structlog.get_logger(self._name).bind()
            self._generation = _generation
        return getattr(self._bound, method)


def get_logger(name: str) -> Any:
    return _Logger(name)
