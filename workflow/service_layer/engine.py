"""`Engine`: the Python API of passend, one object for the command line, the tests and scripts.

A facade, and nothing more: it is the `ServiceContext` every service takes (config, definitions,
keys, store, clock, retention policy), with one method per command or query, each a call into
the module that owns it:

- workflow.service_layer.cases: open_case, record, check, fire;
- workflow.service_layer.queries: case (the full view, logged), list_cases / iter_cases;
- workflow.service_layer.erasure: erase.

Why keep it: the CLI, some forty test modules, the benchmarks and the README's Python API speak
`engine.fire(...)`, and `bootstrap()` returns one; the services themselves take a context, so the
web app can call them directly, and because the facade is a context, anything written against the
facade can be handed to any service (the audit's and the reminders' functions take it as is).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from workflow.adapters.logs import get_logger
from workflow.domain.case import Decision
from workflow.service_layer import cases, erasure, queries
from workflow.service_layer.context import ServiceContext

log = get_logger("passend.engine")
__all__ = ["Engine"]


class Engine(ServiceContext):
    """The Python API of passend: open, record, fire, check, read."""

    @property
    def db(self) -> Any:
        """The SQL store's SQLAlchemy Engine, for tests and tools that look at the database
        itself (no service uses it). The in-memory store has none: AttributeError."""
        return self.store.db  # type: ignore[attr-defined]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.users_synced: dict[str, list[str]] = {}  # what the last init() imported from config.toml
        self.worklist_rebuilt: int | None = None  # cases whose work list the last init() rebuilt

    def init(self) -> list[str]:
        """Create or upgrade the store's schema, fill the work list's rows if they were never built
        for this version (service_layer.worklist), then import config.toml's users
        (service_layer.users: an upsert, on the SQL store and the in-memory one alike)."""
        heads = self.store.init()
        from workflow.service_layer.worklist import ensure_built

        self.worklist_rebuilt = ensure_built(self)  # after migration 0011, or for another version
        self.users_synced = self.users.sync_config(self.config.users, source=self.config.path.name,
                                                   known_schools=self.config.schools, now=self.clock())
        log.info("database.ready", heads=heads, **{f"users_{k}": len(v) for k, v in self.users_synced.items()})
        return heads

    # ---- commands (workflow.service_layer.cases, .erasure) ------------------------------------
    def open_case(self, *, pupil: str, school: str, actor: str, name: str | None = None,
                  group: int | None = None) -> dict[str, Any]:
        return cases.open_case(self, pupil=pupil, school=school, actor=actor, name=name, group=group)

    def record(self, kind: str, case_id: str, /, *, actor: str, expected_version: int | None = None,
               **fields: Any) -> dict[str, Any]:
        """Record one piece of evidence; returns its event number and the case's new version."""
        return cases.record(self, kind, case_id, actor=actor, expected_version=expected_version, **fields)

    def check(self, case_id: str, trigger: str, *, actor: str,
              params: Mapping[str, str] | None = None) -> Decision:
        """Decide `trigger` without storing anything (a dry run)."""
        return cases.check(self, case_id, trigger, actor=actor, params=params)

    def fire(self, case_id: str, trigger: str, *, actor: str, params: Mapping[str, str] | None = None,
             dry_run: bool = False, expected_version: int | None = None) -> dict[str, Any]:
        """Move the case along `trigger`, or raise Refused listing every reason it may not."""
        return cases.fire(self, case_id, trigger, actor=actor, params=params, dry_run=dry_run,
                          expected_version=expected_version)

    def erase(self, case_id: str, *, actor: str, reason: str) -> dict[str, Any]:
        """Destroy a closed case's key after its retention period; the proof stays."""
        return erasure.erase_case(self, case_id, actor=actor, reason=reason)

    # ---- queries (workflow.service_layer.queries) ---------------------------------------------
    def case(self, case_id: str, *, actor: str, purpose: str | None = None,
             on_behalf_of: str | None = None) -> dict[str, Any]:
        """Everything about one case: state, evidence (decrypted), every possible trigger (logged)."""
        return queries.case(self, case_id, actor=actor, purpose=purpose, on_behalf_of=on_behalf_of)

    def list_cases(self, *, actor: str, school: str | None = None,
                   state: str | None = None) -> list[dict[str, Any]]:
        """Every case the actor may see, as a list of dicts (see iter_cases for a stream)."""
        return list(self.iter_cases(actor=actor, school=school, state=state))

    def iter_cases(self, *, actor: str, school: str | None = None,
                   state: str | None = None) -> Iterator[dict[str, Any]]:
        """The cases the actor may see, as dicts, streamed (queries.iter_cases gives the
        `CaseSummary` read models themselves; these are built from the rows without them).
        Access is checked before the first is read."""
        rows = queries.iter_case_rows(self, actor=actor, school=school, state=state)
        return (r.as_dict() for r in rows)
