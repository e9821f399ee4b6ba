"""The composition root: the one place a configuration becomes wired, running parts.

Entry points (the command line, the reminder service, tests and benchmarks) ask here for an
`Engine`, a `ReminderService` or a bare store; nothing below this module opens a config file, a
database, a key file or a mail channel by itself, and nothing else constructs an adapter. Here:

- the store: the database URL picks the SQL store (`sqlite:///...`, `postgresql://...`;
  workflow.adapters.store) or the in-memory fake (`memory://`; workflow.adapters.memory);
- the settings: `[retention]`, `[reminders]`, `[notifier]` and `[witness]` are read from the config file once,
  checked, and handed to the services as typed objects (no service reads `config.raw`);
- the keys, the process definitions, the clock and the notifier.

Swapping a part (another store, another notifier, a fixed clock) is a change here, or an argument
here, and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from workflow.adapters.clock import utcnow
from workflow.adapters.config import Config, holds_password, load_config
from workflow.domain.errors import ConfigError, Said

if TYPE_CHECKING:
    from notifiers import Notifier
    from workflow.adapters.crypto import KeyRing
    from workflow.adapters.ports import Derive, Store
    from workflow.domain.definition import DefinitionRegistry
    from workflow.service_layer.context import ServiceContext
    from workflow.service_layer.engine import Engine
    from workflow.service_layer.reminders.service import ReminderService
    from workflow.service_layer.reminders.settings import ReminderSettings
    from workflow.service_layer.retention import RetentionPolicy
    from workflow.service_layer.witness.settings import WitnessSettings

# The parts are imported where they are wired, not here: `audit verify` asks for a bare store
# (`open_store`) and starts without the definitions, keys, state machine and structlog, as fast
# as it did before there was a composition root (about 0.3 s instead of 0.5 s).
DEFAULT_NOTIFIER = {"backend": "file", "folder": "var/outbox"}
MEMORY_URL = "memory://"


def bootstrap(
    path: str | Path | None = None, *, database_url: str | None = None, create_key: bool = False,
    clock: Callable[[], dt.datetime] = utcnow, existing: bool = False,
) -> Engine:
    """An Engine for the config file at `path` (default ./config.toml or $PASSEND_CONFIG): the
    process definitions of its folder, its store, the master key (made when `create_key` and
    missing, as `passend init` does) and its retention policy.

    `existing` (every command but `init` and `demo`): the store must be there, at this version's
    schema; it is never created, and one that is not set up, older or newer is refused here,
    before anything runs (make_store)."""
    import structlog

    from workflow.adapters.holiday_cache import default_folder, shared_cache
    from workflow.adapters.logs import configure
    from workflow.domain.calendar import use_holiday_source
    from workflow.service_layer.engine import Engine

    config = load_config(path, database_url=database_url)
    use_holiday_source(shared_cache(default_folder()))
    if not structlog.is_configured():  # structlog's default prints to stdout and redacts nothing
        configure(config.log_level)
    registry, keyring = _definitions_and_keys(config, create_key=create_key)
    store = make_store(config.database_url, existing=existing, config=config,
                       derive=worklist_deriver(config, registry))
    return Engine(config, registry, store, keyring, clock, retention=retention_policy(config))


def _definitions_and_keys(config: Config, *, create_key: bool = False) -> tuple[DefinitionRegistry, KeyRing]:
    """The process definitions of the config's folder (their roles checked against the config's
    users, their secret fields redacted from logs) and the key ring of the master key."""
    from workflow.adapters.config_schema import check_roles
    from workflow.adapters.crypto import KeyRing, load_master_key
    from workflow.adapters.holiday_cache import default_folder
    from workflow.adapters.logs import redact_also
    from workflow.adapters.toml_cache import TomlCache
    from workflow.domain.definition import DefinitionRegistry, use_toml_parser

    use_toml_parser(TomlCache(default_folder()))  # parsed once per text, not once per process
    registry = DefinitionRegistry.from_folder(config.definitions_folder, config.definition_file)
    check_roles(config.raw, config.source, config.path, tuple(registry.active.roles))
    redact_also(n for d in registry.all() for n in d.secret_fields)  # kinds a definition declares
    return registry, KeyRing(load_master_key(config.master_key_file, create=create_key))


def reader(path: str | Path | None = None, *, clock: Callable[[], dt.datetime] = utcnow,
           access_log: str | Path | None = None) -> ServiceContext:
    """A context for a read of one case (`case show`), checked as `bootstrap(existing=True)`
    checks, in the same order, so a broken setup gets the same line.

    On a SQLite file its store is the driver-only one (workflow.adapters.store.direct), and the
    read starts without SQLAlchemy, the state machine, the work list's deriver or structlog
    (logging is configured when a first line is written): a person at a terminal waits for
    every module a command imports (issue 17). On any other database (PostgreSQL) it is the
    Engine, which is a ServiceContext too: there the driver's own import and the round trips
    are the cost, not SQLAlchemy's, and one read path is less to keep equal.

    `access_log` (`--access-log FILE`): the access records go to that file (a read-only copy)."""
    ctx = _reader(path, clock)
    if access_log is not None:
        from workflow.adapters.access_file import FileAccessLog

        ctx.access_file = FileAccessLog(Path(access_log), ctx.files)
    return ctx


def _reader(path: str | Path | None, clock: Callable[[], dt.datetime]) -> ServiceContext:
    from workflow.adapters.holiday_cache import default_folder
    from workflow.adapters.store.direct import sqlite_file
    from workflow.adapters.toml_cache import TomlCache

    # The config's table kept parsed as the definitions' are: this read never imports tomllib.
    config = load_config(path, parse=TomlCache(default_folder(), keep=lambda table: not holds_password(table)))
    file = sqlite_file(config.database_url)
    if file is None:
        return bootstrap(path, existing=True, clock=clock)
    from workflow.adapters.holiday_cache import shared_cache
    from workflow.adapters.logs import configure_later
    from workflow.adapters.store.direct import DirectStore
    from workflow.domain.calendar import use_holiday_source
    from workflow.service_layer.context import ServiceContext

    use_holiday_source(shared_cache(default_folder()))
    configure_later(config.log_level)
    registry, keyring = _definitions_and_keys(config)
    store = DirectStore(config.database_url, file, lock_seconds=config.lock_timeout_seconds)
    try:
        store.check()
    except BaseException:
        store.dispose()
        raise
    # The part of the Store port a read of one case uses (see store.direct).
    return ServiceContext(config, registry, cast("Store", store), keyring, clock,
                          retention=retention_policy(config))


def make_store(url: str, *, existing: bool = False, config: Config | None = None,
               derive: Derive | None = None) -> Store:
    """The store a database URL names: the in-memory fake for `memory://`, else the SQL store,
    with `[database]`'s timeouts. `existing`: it must be there already, at this version's schema
    (SqlStore.connect). `derive`: how its appends compute a case's work list (worklist_deriver);
    None keeps none."""
    if url.startswith(MEMORY_URL):
        from workflow.adapters.memory import MemoryStore

        return MemoryStore(derive=derive)
    from workflow.adapters.store.db import Timeouts
    from workflow.adapters.store.sqlstore import SqlStore

    timeouts = Timeouts() if config is None else Timeouts(config.lock_timeout_seconds,
                                                           config.statement_timeout_seconds)
    return SqlStore.connect(url, derive, timeouts=timeouts, existing=existing)


def worklist_deriver(config: Config, registry: Any) -> Derive:
    """The work list of a case as the store keeps it (workflow.domain.worklist): each case's own
    definition version, judged for the first of `[reminders] remind_roles` the definition knows
    (the role whose digest lists "waiting for the parents"). The roles are read leniently here;
    `passend serve` checks `[reminders]` in full. Due days are moved off each school's non-school
    days by its calendar, as the reminders move them."""
    import hashlib

    from workflow.domain.calendar import SchoolCalendar
    from workflow.domain.worklist import Deriver
    from workflow.service_layer.worklist import remind_roles

    made: dict[str, Any] = {}

    def calendar(school: str) -> Any:
        if school not in made:
            conf = config.schools.get(school)
            idx = list(config.schools).index(school) if conf is not None else -1
            made[school] = None if conf is None else SchoolCalendar.for_school(
                conf, f"{config.path.name}: schools[{idx}]")
        return made[school]

    key = hashlib.sha256(repr(sorted((s.id, s.region, tuple(s.days_off)) for s in config.schools.values()))
                         .encode()).hexdigest()[:16]
    return Deriver(registry, remind_roles(config.raw), calendars=calendar, calendar_key=key)


def open_store(path: str | Path | None = None, *, existing: bool = True) -> Store:
    """The configured store alone, without keys or definitions: for `audit verify`, which needs
    nothing else and starts faster without them. It must exist, at this version's schema."""
    config = load_config(path)
    return make_store(config.database_url, existing=existing, config=config)


def retention_policy(config: Config) -> RetentionPolicy:
    """`[retention]` of the config, checked."""
    from workflow.service_layer.retention import parse_retention

    return parse_retention(config.raw.get("retention"), str(config.path))


def load_settings(engine: Engine) -> ReminderSettings:
    """`[reminders]` of the engine's config, checked."""
    from workflow.service_layer.reminders.settings import parse_settings

    return parse_settings(engine.config.raw.get("reminders"), str(engine.config.path))


def _notifier_options(config: Config) -> dict[str, Any]:
    raw = config.raw.get("notifier", DEFAULT_NOTIFIER)
    if not isinstance(raw, dict):
        raise ConfigError(Said("serve.bootstrap.notifier_not_table", path=str(config.path)))
    return dict(raw)


def make_notifier(engine: Engine) -> Notifier:
    """The channel `[notifier]` names (default: .eml files in var/outbox)."""
    import notifiers

    try:
        return notifiers.create(_notifier_options(engine.config), engine.config.base,
                                file_group=engine.config.file_group)
    except notifiers.NotifierConfigError as exc:
        # The notifiers stand alone and say a problem as a notify.* key and its values: the catalog words it.
        raise ConfigError(Said("serve.bootstrap.notifier", path=str(engine.config.path),
                               problem=Said(exc.key, **exc.values))) from None


def mail_domain(config: Config) -> str:
    """The domain of every Message-ID: that of the sender (`[notifier] from`), else localhost
    (a school with its own `from` uses that one's: the planner)."""
    sender = str(_notifier_options(config).get("from", "passend@localhost"))
    return sender.rsplit("@", 1)[-1] or "localhost"


def default_sender(config: Config) -> str | None:
    """`[notifier] from`, which every message goes out from unless its school has its own."""
    sender = _notifier_options(config).get("from")
    return sender if isinstance(sender, str) else None


def long_running(engine: Engine) -> bool:
    """What a long-running process (the web app, the reminder service) sets up on its engine:
    group commit of its concurrent writers (workflow.adapters.store.group), unless `[database]
    group_commit = false`. Returns whether commits are shared."""
    return engine.config.group_commit and engine.store.group_commit()


def reminder_service(engine: Engine, now: Callable[[], dt.datetime] = utcnow) -> ReminderService:
    """A reminder service on `engine`. Everything a tick will need is checked now (settings,
    every school's calendar, the notifier), so a bad config stops the start, not every tick; a
    school whose messages have nobody to go to is named in the log."""
    from workflow.adapters.logs import get_logger
    from workflow.service_layer.reminders.planner import school_calendar
    from workflow.service_layer.reminders.service import ReminderService, unreachable

    log = get_logger("passend.reminders")
    settings = load_settings(engine)
    for school in engine.config.schools:
        school_calendar(engine, school)
    for school, what, roles in unreachable(engine, settings):
        log.warning("reminders.no_recipient", school=school, messages=what, roles=list(roles))
    return ReminderService(engine, settings, make_notifier(engine), now,
                           mail_domain=mail_domain(engine.config), witness=witness_settings(engine.config),
                           base_url=web_base_url(engine.config), default_sender=default_sender(engine.config))


def witness_settings(config: Config) -> WitnessSettings | None:
    """`[witness]` of the config, checked; None when witnessing is off (no such table)."""
    from workflow.service_layer.witness.settings import parse_witness

    return parse_witness(config.raw.get("witness"), str(config.path), config.base)


def web_base_url(config: Config) -> str:
    """`[web] base_url`, checked as `passend web` checks it: where the links in messages point."""
    from workflow.adapters.web_settings import parse_web

    return parse_web(config.raw.get("web"), config.path.name).base_url
