"""What every service needs, and the checks every command makes first.

A `ServiceContext` carries the configuration, the process definitions, the keys, the store (the
ports: units of work, the outbox, the users), the clock and the retention policy, all handed in by
`workflow.bootstrap` (settings as typed objects: nothing here reads `config.raw`), and
answers the questions each feature asks before it touches a case: who is asking (an unknown
user is exit 2), may they see this school (exit 3), which schools does a listing cover, which
definition version was this case opened under, what day is it at school.

Every service (case commands, queries, erasure, audit, reminders) takes one, and nothing else of
another feature: that is what keeps the features from reaching into each other. The `Engine`
facade is a ServiceContext too, so code written against the facade can be handed to any service.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from workflow.adapters.clock import utcnow
from workflow.adapters.config import Config, User
from workflow.adapters.crypto import CaseCipher, KeyRing
from workflow.adapters.files import PrivateFiles
from workflow.adapters.logs import bind_command
from workflow.domain.calendar import SchoolCalendar
from workflow.domain.case import Case
from workflow.domain.definition import DefinitionRegistry, ProcessDefinition
from workflow.domain.errors import ConfigError, Conflict, NotFound
from workflow.domain.instants import SCHOOL_TZ, local_date
from workflow.domain.reasons import Reason
from workflow.messages import text
from workflow.service_layer import tokens
from workflow.service_layer.refusals import refused
from workflow.service_layer.retention import RetentionPolicy
from workflow.service_layer.users import UserDirectory

if TYPE_CHECKING:
    from workflow.adapters.ports import Store, UnitOfWork

CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")  # fits cases.case_id; no NUL, no SQL


def bind_log(**values: object) -> None:
    """Bind the command's context to every log line, dropping the previous command's (without
    importing structlog: workflow.adapters.logs.bind_command)."""
    bind_command(**values)


class AccessSink(Protocol):
    """Where access records go instead of the store's log (workflow.adapters.access_file)."""

    def append(self, records: Iterable[dict[str, Any]]) -> int: ...


class ServiceContext:
    def __init__(
        self, config: Config, registry: DefinitionRegistry, store: Store, keyring: KeyRing,
        clock: Callable[[], dt.datetime] = utcnow, *, retention: RetentionPolicy | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.store = store
        self.keyring = keyring
        self.clock = clock
        self.retention = retention or RetentionPolicy()  # `[retention]`, read by the bootstrap
        self.users = UserDirectory(store)  # the store's users (config.toml's come in with `init`)
        # `--access-log FILE`: reads record their access there (a read-only copy of the store)
        self.access_file: AccessSink | None = None
        # files with personal data (timelines, exports, backups): 0600, or 0640 for [security] file_group
        self.files = PrivateFiles(config.file_group)
        self._calendars: dict[str, SchoolCalendar] = {}
        for user in config.users.values():
            if user.role not in registry.active.roles:
                raise ConfigError(text("svc.context.unknown_role", config=config.path, user=user.id, role=user.role,
                                       roles=", ".join(registry.active.roles)))

    @property
    def definition(self) -> ProcessDefinition:
        """The definition new cases are opened under."""
        return self.registry.active

    def uow(self, *, write: bool = True) -> UnitOfWork:
        return self.store.uow(write=write)

    def definition_of(self, case: Case) -> ProcessDefinition:
        return self.registry.get(case.process_id, case.process_version)

    def today(self) -> dt.date:
        return local_date(self.clock(), SCHOOL_TZ)

    def calendar(self, school: str) -> SchoolCalendar | None:
        """The school days of a configured school (None for a school no longer configured): due
        days outside them move to the school day before (deadlines.running), everywhere alike."""
        cal = self._calendars.get(school)
        if cal is None and school in self.config.schools:
            idx = list(self.config.schools).index(school)
            cal = SchoolCalendar.for_school(self.config.schools[school], f"{self.config.path.name}: schools[{idx}]")
            self._calendars[school] = cal
        return cal

    # ---- who asks ----------------------------------------------------------------------------
    def user(self, actor: str) -> User:
        """The acting user: unknown is exit 2, a disabled user is refused (exit 3)."""
        return self.users.acting(actor)

    def school_access(self, user: User, school: str) -> None:
        if not user.serves(school):
            raise refused(text("svc.context.not_your_school", user=user.id, school=school),
                          [Reason("no_school_access", {"user": user.id, "school": school})], self.definition)

    def schools_for(self, user: User, school: str | None = None) -> list[str] | None:
        """The schools a listing or report covers: `school` alone (unknown: exit 2; not the
        user's: exit 3), else every school the user serves (None: all of them)."""
        if school is None:
            return None if "*" in user.schools else list(user.schools)
        if school not in self.config.schools:
            raise NotFound(text("svc.context.unknown_school", school=school))
        self.school_access(user, school)
        return [school]

    # ---- a case, in a unit of work --------------------------------------------------------------
    def acting_and_case(self, uow: UnitOfWork, actor: str, case_id: str,
                        then: Callable[[User], object] | None = None) -> tuple[User, Case]:
        """The acting user (as `user`) and the case (as `load`), both read in the unit: the
        user's row, or an API token's (`api:<name>`), travels with the case's events
        (`Users.acting_later`, `ApiTokens.acting_later`; on PostgreSQL one round trip for both,
        where reading the user first cost one of its own), and is judged before the events are
        folded. `then(user)` runs between (a command's own checks that came before the case was
        read). A malformed case id takes the way of `user` and `load`, in that order, as before."""
        if not (isinstance(actor, str) and isinstance(case_id, str) and CASE_ID.match(case_id)):
            user = self.user(actor)
            if then is not None:
                then(user)
            return user, self.load(uow, case_id, user)
        judge = self._judge_later(uow, actor)
        judged: list[User] = []

        def first() -> None:
            judged.append(judge())
            if then is not None:
                then(judged[0])

        case = uow.store.load(case_id, first=first)
        user = judged[0]
        if case is None:
            raise NotFound(text("svc.context.unknown_case", case=case_id))
        self.school_access(user, case.school)
        return user, case

    def _judge_later(self, uow: UnitOfWork, actor: str) -> Callable[[], User]:
        """The acting user's row asked in the unit now (a person's, or an API token's), and its
        verdict given when the returned function is called, after the unit's next statement."""
        if actor.startswith(tokens.ACTOR_PREFIX):
            name = actor[len(tokens.ACTOR_PREFIX):]
            token = uow.api_tokens.acting_later(name)
            return lambda: tokens.judge(name, token())
        found = uow.users.acting_later(actor)
        return lambda: self.users.judge(actor, found())

    def load(self, uow: UnitOfWork, case_id: str, user: User) -> Case:
        """The case, if it exists and the user serves its school."""
        if not isinstance(case_id, str) or not CASE_ID.match(case_id):
            raise NotFound(text("svc.context.bad_case_id"))
        case = uow.store.load(case_id)
        if case is None:
            raise NotFound(text("svc.context.unknown_case", case=case_id))
        self.school_access(user, case.school)
        return case

    def cipher(self, uow: UnitOfWork, case_id: str) -> CaseCipher:
        wrapped = uow.store.wrapped_key(case_id)
        return CaseCipher(case_id, None if wrapped is None else self.keyring.unwrap(case_id, wrapped))

    @staticmethod
    def expect(case: Case, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != case.version:
            raise Conflict(text("svc.context.version_changed", case=case.case_id, version=case.version,
                                expected=expected_version))
