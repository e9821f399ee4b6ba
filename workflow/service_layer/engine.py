"""The service layer: each public method is one command, run in one unit of work.

The CLI, the reminder service and the audit are thin shells over `Engine`. Every command
checks the actor's role and school first, then evidence, then writes the events and the
projection in a single transaction; a failure anywhere leaves the store as it was.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import structlog

from workflow.adapters.clock import utcnow
from workflow.adapters.config import Config, User
from workflow.adapters.crypto import CaseCipher, KeyRing
from workflow.adapters.logs import get_logger
from workflow.adapters.store.db import is_sqlite
from workflow.adapters.store.reserve import Reserve
from workflow.adapters.store.uow import UnitOfWork
from workflow.domain import case as domain
from workflow.domain import deadlines, evidence
from workflow.domain.case import Case, Decision
from workflow.domain.definition import DefinitionRegistry, ProcessDefinition
from workflow.domain.errors import BadInput, ConfigError, Conflict, NotFound
from workflow.domain.events import GENESIS_HASH, make_event
from workflow.domain.guards import latest_consent
from workflow.domain.instants import SCHOOL_TZ, local_date
from workflow.domain.machine import perform
from workflow.domain.reasons import Reason
from workflow.service_layer.refusals import decision_dict, refused
from workflow.service_layer.users import UserDirectory

log = get_logger("passend.engine")
PUPIL_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")  # fits cases.case_id; no NUL, no SQL


def _bind(**values: Any) -> None:
    """Bind the command's context to every log line, dropping the previous command's."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**values)


def new_case_id() -> str:
    return "C-" + base64.b32encode(os.urandom(5)).decode("ascii")[:8]


class Engine:
    """The Python API of passend: open, record, fire, check, read."""

    def __init__(
        self, config: Config, registry: DefinitionRegistry, db: Any, keyring: KeyRing,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.config = config
        self.registry = registry
        self.db = db
        # SQLite only: see store.reserve for why, and why not PostgreSQL.
        self._reserve = Reserve(db) if is_sqlite(db) else None
        self.keyring = keyring
        self.clock = clock
        self.users = UserDirectory(db, reserve=self._reserve)
        self.users_synced: dict[str, list[str]] = {}  # what the last init() imported from config
        for user in config.users.values():
            if user.role not in registry.active.roles:
                raise ConfigError(
                    f"{config.path}: users.{user.id}.role: unknown role {user.role!r} "
                    f"(known: {', '.join(registry.active.roles)})"
                )

    # ---- plumbing --------------------------------------------------------------------------
    @property
    def definition(self) -> ProcessDefinition:
        return self.registry.active

    def uow(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(self.db, write=write, reserve=self._reserve)

    def init(self) -> list[str]:
        from workflow.adapters.store.migrate import upgrade

        heads = upgrade(self.db)
        self.users_synced = self.users.sync_config(
            self.config.users, source=self.config.path.name, known_schools=self.config.schools,
            now=self.clock())
        log.info("database.ready", heads=heads, **{f"users_{k}": len(v) for k, v in self.users_synced.items()})
        return heads

    def user(self, actor: str) -> User:
        """The acting user, read from the database (service_layer.users): unknown is exit 2, a
        disabled user is refused (exit 3)."""
        return self.users.get_acting(actor)

    def _school_access(self, user: User, school: str) -> None:
        if not user.serves(school):
            raise refused(f"{user.id} werkt niet voor school '{school}'",
                          [Reason("no_school_access", {"user": user.id, "school": school})], self.definition)

    def schools_for(self, user: User, school: str | None = None) -> list[str] | None:
        """The schools a listing or report covers: `school` alone (unknown: exit 2; not the
        user's: exit 3), else every school the user serves (None: all of them)."""
        if school is None:
            return None if "*" in user.schools else list(user.schools)
        if school not in self.config.schools:
            raise NotFound(f"onbekende school '{school}'")
        self._school_access(user, school)
        return [school]

    def _load(self, uow: UnitOfWork, case_id: str, user: User) -> Case:
        if not isinstance(case_id, str) or not CASE_ID.match(case_id):
            raise NotFound("casus bestaat niet (een casusnummer ziet eruit als C-ABCD2345)")
        case = uow.store.load(case_id)
        if case is None:
            raise NotFound(f"casus '{case_id}' bestaat niet")
        self._school_access(user, case.school)
        return case

    def cipher(self, uow: UnitOfWork, case_id: str) -> CaseCipher:
        wrapped = uow.store.wrapped_key(case_id)
        return CaseCipher(case_id, None if wrapped is None else self.keyring.unwrap(case_id, wrapped))

    def definition_of(self, case: Case) -> ProcessDefinition:
        return self.registry.get(case.process_id, case.process_version)

    def today(self) -> dt.date:
        return local_date(self.clock(), SCHOOL_TZ)

    @staticmethod
    def _expect(case: Case, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != case.version:
            raise Conflict(
                f"casus {case.case_id} staat op versie {case.version}, niet {expected_version}: "
                "een ander heeft hem intussen gewijzigd"
            )

    # ---- commands --------------------------------------------------------------------------
    def open_case(
        self, *, pupil: str, school: str, actor: str, name: str | None = None,
        group: int | None = None,
    ) -> dict[str, Any]:
        user = self.user(actor)
        _bind(actor=actor, command="case.open")
        if school not in self.config.schools:
            raise NotFound(f"onbekende school '{school}' (zie schools in {self.config.path.name})")
        pupil = (pupil or "").strip()
        if not PUPIL_REF.match(pupil):
            raise BadInput("--pupil: een leerlingreferentie van 1-64 tekens (letters, cijfers, . _ / -)")
        # A bool or a float passes `1 <= group <= 8` but would enter the chain as true or 5.0,
        # which the export's specification (docs/event-chain.md) does not allow.
        if group is not None and (type(group) is not int or not 1 <= group <= 8):
            raise BadInput("--group: een groep van 1 tot en met 8")
        if name is not None:
            name = name.strip()
            if not name or len(name) > 200:
                raise BadInput("--name: een naam van 1-200 tekens")
        self._school_access(user, school)
        d = self.definition
        if user.role not in d.open_roles:
            raise refused("geweigerd", [Reason("role_may_not_open", {
                "role": user.role, "roles": sorted(d.open_roles)})], d)
        index = self.keyring.pupil_index(school, pupil)
        now = self.clock()
        with self.uow() as uow:
            existing = uow.store.find_open(index)
            if existing is not None:
                raise refused("geweigerd", [Reason("case_already_open", {"case_id": existing})], d)
            case_id = new_case_id()
            key, wrapped = self.keyring.new_case_key(case_id)
            uow.store.put_key(case_id, wrapped, now)
            cipher = CaseCipher(case_id, key)
            payload: dict[str, Any] = {
                "school": school,
                "pupil": cipher.seal("pupil", pupil),
                "state": d.initial,
                "level": d.level_of(d.initial),
            }
            if name:
                payload["name"] = cipher.seal("name", name)
            if group is not None:
                payload["group"] = group
            ev = make_event(
                case_id=case_id, seq=1, type="case_opened", process_id=d.id,
                process_version=d.version, actor=actor, role=user.role, recorded_at=now,
                payload=payload, prev_hash=GENESIS_HASH,
            )
            case = Case.from_events([ev])
            uow.store.append(case, [ev], expected_version=0, pupil_index=index, now=now)
            uow.commit()
        log.info("case.opened", case_id=case_id, school=school, state=case.state)
        return {"case_id": case_id, "state": case.state, "level": case.level, "version": case.version}

    def record(
        self, kind: str, case_id: str, /, *, actor: str, expected_version: int | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Record one piece of evidence; returns its event number and the case's new version."""
        user = self.user(actor)
        _bind(actor=actor, case_id=case_id, command="record")
        known = self.definition.evidence_kinds
        if kind not in known:
            raise BadInput(f"onbekende soort bewijs '{kind}' (kies uit: {', '.join(known)})")
        now = self.clock()
        with self.uow() as uow:
            case = self._load(uow, case_id, user)
            d = self.definition_of(case)
            if kind not in d.evidence_kinds:  # a kind newer than the case's process version
                raise BadInput(f"soort bewijs '{kind}' bestaat niet in de procesversie van deze casus "
                               f"(kies uit: {', '.join(d.evidence_kinds)})")
            if user.role not in d.evidence_roles.get(kind, frozenset()):
                raise refused("geweigerd", [Reason("role_may_not_record", {"role": user.role, "kind": kind})], d)
            if case.closed:
                raise refused("geweigerd", [Reason("case_closed")], d)
            self._expect(case, expected_version)
            valid = evidence.validate(
                kind, {k: v for k, v in fields.items() if v is not None},
                today=local_date(now), consent_scopes=d.consent_scopes, plans=case.plans,
                opp_active=case.opp_active, sharing_scopes=d.sharing_scopes, kinds=d.evidence_kinds,
            )
            if kind == "consent":
                _check_consent_order(case, valid, d)
            cipher = self.cipher(uow, case_id)
            payload = {
                "kind": kind,
                "date": valid.date.isoformat(),
                "level": case.level,
                "state": case.state,
                "fields": {k: v.isoformat() if isinstance(v, dt.date) else v
                           for k, v in valid.plain.items()},
                "secret": cipher.seal_all(valid.secret),
            }
            ev = case.next_event(type="evidence_recorded", payload=payload, actor=actor,
                                 role=user.role, recorded_at=now, process=d)
            expected = case.version
            case.apply(ev)
            uow.store.append(case, [ev], expected_version=expected, now=now)
            uow.commit()
        log.info("evidence.recorded", kind=kind, seq=ev.seq)
        return {"case_id": case_id, "seq": ev.seq, "kind": kind, "version": case.version}

    def check(
        self, case_id: str, trigger: str, *, actor: str, params: Mapping[str, str] | None = None,
    ) -> Decision:
        """Decide `trigger` without storing anything (a dry run)."""
        user = self.user(actor)
        with self.uow(write=False) as uow:
            case = self._load(uow, case_id, user)
            return domain.decide(case, self.definition_of(case), trigger, dict(params or {}), user.role)

    def fire(
        self, case_id: str, trigger: str, *, actor: str, params: Mapping[str, str] | None = None,
        dry_run: bool = False, expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Move the case along `trigger`, or raise Refused listing every reason it may not."""
        user = self.user(actor)
        _bind(actor=actor, case_id=case_id, command="fire")
        params = {k: v for k, v in (params or {}).items() if v is not None}
        now = self.clock()
        with self.uow(write=not dry_run) as uow:
            case = self._load(uow, case_id, user)
            self._expect(case, expected_version)
            d = self.definition_of(case)
            decision = domain.decide(case, d, trigger, params, user.role)
            if not decision.allowed:
                log.info("transition.refused", trigger=trigger, source=case.state,
                         reasons=len(decision.reasons), codes=sorted({r.code for r in decision.reasons}))
                raise refused(f"{d.triggers[trigger].label} geweigerd voor casus {case_id}", decision.reasons, d)
            result = {"case_id": case_id, "dry_run": dry_run, **decision_dict(decision, d)}
            if dry_run:
                return result
            move = perform(case, d, decision, user.role)  # the shared machine runs the step
            assert move.payload is not None
            result["deadlines"] = move.clocks
            ev = case.next_event(type="transitioned", payload=move.payload,
                                 actor=actor, role=user.role, recorded_at=now, process=d)
            expected = case.version
            case.apply(ev)
            uow.store.append(case, [ev], expected_version=expected, now=now)
            uow.commit()
        log.info("transition.fired", trigger=trigger, source=decision.source, dest=decision.dest,
                 seq=ev.seq)
        return {**result, "seq": ev.seq, "version": case.version, "state": case.state,
                "level": case.level}

    # ---- reading ---------------------------------------------------------------------------
    def case(
        self, case_id: str, *, actor: str, purpose: str | None = None,
        on_behalf_of: str | None = None,
    ) -> dict[str, Any]:
        """Everything about one case: state, evidence (decrypted), and every possible trigger.

        The read is kept in the access log (NEN 7513: who, when, which case, why).
        """
        from workflow.service_layer.audit.access import record_access

        user = self.user(actor)
        _bind(actor=actor, case_id=case_id, command="case.show")
        with self.uow(write=False) as uow:
            case = self._load(uow, case_id, user)
            cipher = self.cipher(uow, case_id)
        record_access(self, actor=actor, action="case.show", cases=[(case_id, case.school)],
                      purpose=purpose, on_behalf_of=on_behalf_of)
        d = self.definition_of(case)
        view = case_view(case, d, cipher, domain.options(case, d, user.role))
        today = self.today()
        view["deadlines"] = [r.as_dict(today) for r in deadlines.running(case, d, today)]
        return view

    def erase(self, case_id: str, *, actor: str, reason: str) -> dict[str, Any]:
        """Destroy a closed case's key after its retention period; the proof stays (audit.erasure)."""
        from workflow.service_layer.audit.erasure import erase_case

        _bind(actor=actor, case_id=case_id, command="case.erase")
        result = erase_case(self, case_id, actor=actor, reason=reason)
        log.info("case.erased", seq=result["seq"])
        return result

    def list_cases(
        self, *, actor: str, school: str | None = None, state: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every case the actor may see, as a list (see iter_cases for a stream)."""
        return list(self.iter_cases(actor=actor, school=school, state=state))

    def iter_cases(
        self, *, actor: str, school: str | None = None, state: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The cases the actor may see, one at a time, without personal data.

        Who may see which school, and whether the state exists, is checked here, before the
        first case is read; the cases then stream from one read transaction.
        """
        user = self.user(actor)
        _bind(actor=actor, command="case.list")
        schools = self.schools_for(user, school)
        if state is not None and state not in self.definition.states:
            raise BadInput(f"onbekende status '{state}' (bekend: {', '.join(self.definition.states)})")
        return self._listed(schools, state)

    def _listed(self, schools: list[str] | None, state: str | None) -> Iterator[dict[str, Any]]:
        with self.uow(write=False) as uow:
            for r in uow.store.list(schools=schools, state=state):
                yield {
                    "case_id": r.case_id, "school": r.school, "group": r.school_group,
                    "state": r.state, "level": r.level, "version": r.version,
                    "opened_at": r.opened_at.isoformat(),
                    "closed_at": r.closed_at.isoformat() if r.closed_at else None,
                    "close_reason": r.close_reason, "process": f"{r.process_id}@{r.process_version}",
                }


def _check_consent_order(case: Case, valid: evidence.ValidEvidence, d: ProcessDefinition) -> None:
    """A revocation needs a grant in force, and no decision may predate the one in force."""
    scope = valid.plain["scope"]
    latest = latest_consent(case.facts, scope)
    if valid.plain["status"] == "revoked" and (latest is None or latest.fields["status"] != "granted"):
        raise BadInput(f"toestemming: er is geen verleende toestemming voor {d.scope_label(scope)} om in te trekken")
    if latest is not None and valid.date < latest.date:
        raise BadInput(f"toestemming: datum {valid.date.isoformat()} ligt voor het laatste besluit over "
                       f"{d.scope_label(scope)} ({latest.date.isoformat()})")


def case_view(case: Case, d: ProcessDefinition, cipher: CaseCipher,
              options: list[Decision]) -> dict[str, Any]:
    opened = case.events[0].payload
    items = []
    for ev in case.events:
        if ev.type != "evidence_recorded":
            continue
        p = ev.payload
        fields = {**p["fields"], **cipher.open_all(p["secret"])}
        items.append({
            "seq": ev.seq, "kind": p["kind"], "date": p["date"], "level": p["level"],
            "state": p["state"], "actor": ev.actor, "recorded_at": ev.recorded_at.isoformat(),
            "fields": fields, "kind_label": _kind_label(d, p["kind"]),
            "shown": shown_fields(d, p["kind"], fields),
        })
    history = [
        {"seq": ev.seq, "trigger": ev.payload["trigger"], "source": ev.payload["source"],
         "dest": ev.payload["dest"], "actor": ev.actor, "at": ev.recorded_at.isoformat(),
         "params": ev.payload.get("params", {}),
         "trigger_label": d.triggers[ev.payload["trigger"]].label if ev.payload["trigger"] in d.triggers
         else ev.payload["trigger"]}
        for ev in case.events if ev.type == "transitioned"
    ]
    return {
        "case_id": case.case_id,
        "school": case.school,
        "pupil": cipher.open("pupil", opened["pupil"]),
        "name": cipher.open("name", opened["name"]) if "name" in opened else None,
        "group": case.group,
        "state": case.state,
        "state_label": d.states[case.state].label,
        "close_reason_label": _close_label(d, case.close_reason),
        "level": case.level,
        "version": case.version,
        "process": f"{case.process_id}@{case.process_version}",
        "opened_at": case.opened_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "close_reason": case.close_reason,
        "opp_active": case.opp_active,
        "erased": cipher.erased,
        "head_hash": case.head_hash,
        "evidence": items,
        "history": history,
        "options": [decision_dict(o, d) for o in options],
    }


def _kind_label(d: ProcessDefinition, kind: str) -> str:
    spec = d.evidence_kinds.get(kind)
    return spec.label if spec is not None else kind.replace("_", " ")


def _close_label(d: ProcessDefinition, reason: str | None) -> str | None:
    """A close reason as a person reads it: the label of the trigger parameter's choice."""
    if reason is None:
        return None
    for t in d.triggers.values():
        for p in t.params.values():
            if p.choices and reason in p.choices:
                return p.choice_label(reason)
    return d.triggers[reason].label if reason in d.triggers else reason.replace("_", " ")


def shown_fields(d: ProcessDefinition, kind: str, fields: Mapping[str, Any]) -> list[dict[str, str]]:
    """A record's fields as a person reads them: each field's label and its value's label."""
    spec = d.evidence_kinds.get(kind)
    order = [f.name for f in (*spec.fields, *spec.derived)] if spec is not None else []
    out: list[dict[str, str]] = []
    for name, value in sorted(fields.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)):
        f = spec.field(name) if spec is not None else None
        if f is None:
            out.append({"label": name.replace("_", " "), "value": str(value)})
            continue
        if isinstance(value, bool):
            text = "ja" if value else "nee"
        elif f.choices_from == "consent_scopes":
            text = d.scope_label(str(value))
        elif f.type == "choice":
            text = f.choice_label(value)
        else:
            text = str(value)
        out.append({"label": f.title, "value": text})
    return out
