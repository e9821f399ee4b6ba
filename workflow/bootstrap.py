"""The composition root: the one place a configuration becomes wired, running parts.

Entry points (the command line, the reminder service, tests and benchmarks) ask here for an
`Engine` or a `ReminderService`; nothing below this module opens a config file, a database, a
key file or a mail channel by itself. Swapping a part (another store, another notifier, a fixed
clock) is a change here, or an argument here, and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from workflow.adapters.clock import utcnow
from workflow.adapters.config import load_config
from workflow.adapters.crypto import KeyRing, load_master_key
from workflow.adapters.logs import configure, get_logger, redact_also
from workflow.adapters.store.db import make_engine
from workflow.domain.definition import DefinitionRegistry
from workflow.domain.errors import ConfigError
from workflow.service_layer.engine import Engine

if TYPE_CHECKING:
    from notifiers import Notifier
    from workflow.service_layer.reminders.service import ReminderService
    from workflow.service_layer.reminders.settings import ReminderSettings

log = get_logger("passend.reminders")
DEFAULT_NOTIFIER = {"backend": "file", "folder": "var/outbox"}


def bootstrap(
    path: str | Path | None = None, *, database_url: str | None = None, create_key: bool = False,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Engine:
    """An Engine for the config file at `path` (default ./config.toml or $PASSEND_CONFIG): the
    process definitions of its folder, its database, and the master key (made when `create_key`
    and missing, as `passend init` does)."""
    config = load_config(path, database_url=database_url)
    if not structlog.is_configured():  # structlog's default prints to stdout and redacts nothing
        configure(config.log_level)
    registry = DefinitionRegistry.from_folder(config.definitions_folder, config.definition_file)
    redact_also(n for d in registry.all() for n in d.secret_fields)  # kinds a definition declares
    keyring = KeyRing(load_master_key(config.master_key_file, create=create_key))
    return Engine(config, registry, make_engine(config.database_url), keyring, clock)


def load_settings(engine: Engine) -> ReminderSettings:
    """`[reminders]` of the engine's config, checked."""
    from workflow.service_layer.reminders.settings import parse_settings

    return parse_settings(engine.config.raw.get("reminders"), str(engine.config.path))


def make_notifier(engine: Engine) -> Notifier:
    """The channel `[notifier]` names (default: .eml files in var/outbox)."""
    import notifiers

    raw = engine.config.raw.get("notifier", DEFAULT_NOTIFIER)
    if not isinstance(raw, dict):
        raise ConfigError(f"{engine.config.path}: notifier: must be a table")
    try:
        return notifiers.create(dict(raw), engine.config.base)
    except notifiers.NotifierConfigError as exc:
        raise ConfigError(f"{engine.config.path}: {exc}") from None


def reminder_service(engine: Engine, now: Callable[[], dt.datetime] = utcnow) -> ReminderService:
    """A reminder service on `engine`. Everything a tick will need is checked now (settings,
    every school's calendar, the notifier), so a bad config stops the start, not every tick; a
    school whose messages have nobody to go to is named in the log."""
    from workflow.service_layer.reminders.planner import school_calendar
    from workflow.service_layer.reminders.service import ReminderService, unreachable

    settings = load_settings(engine)
    for school in engine.config.schools:
        school_calendar(engine, school)
    for school, what, roles in unreachable(engine, settings):
        log.warning("reminders.no_recipient", school=school, messages=what, roles=list(roles))
    return ReminderService(engine, settings, make_notifier(engine), now)
