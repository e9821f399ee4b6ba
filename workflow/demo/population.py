"""A realistic population of cases for demos and benchmarks: `passend demo --pupils N`.

Writing a million events through `Engine` one command at a time would take hours (every command
is its own durable transaction), so the generator builds each case in memory with the domain's
own code (`evidence.validate`, `domain.decide`, the shared machine, `Case.next_event`) and hands
whole batches of finished cases to the event store (`EventStore.import_new_cases`, the port's
bulk-load path: the SQL store writes a batch with one statement per table). Every transition is
decided by the real
guards at the moment it is stamped, so `audit replay` finds nothing a live engine would have
refused, and the hash chains and projections are exactly what the engine itself writes.

Pupil references and texts are made up (`DEMO-...`); no real person is in a generated store.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workflow.adapters.crypto import CaseCipher
from workflow.adapters.ports import NewCase
from workflow.domain import case as domain
from workflow.domain import evidence, rod
from workflow.domain import opp as oppdoc
from workflow.domain.case import Case
from workflow.domain.definition import ProcessDefinition
from workflow.domain.errors import BadInput, Said
from workflow.domain.events import GENESIS_HASH, make_event
from workflow.domain.instants import local_date
from workflow.domain.machine import perform
from workflow.service_layer import opp
from workflow.service_layer.context import ServiceContext

# Where the journey of a generated case stops at the latest (it may stop earlier because its
# history reaches today). Weights follow the usual pyramid: many cases at level 1-2, few at 4.
FINAL_STAGES: tuple[tuple[str, int], ...] = (
    ("niveau_1", 24), ("niveau_2", 28), ("niveau_3", 16), ("niveau_4", 5), ("opp_concept", 3),
    ("opp_vastgesteld", 6), ("bot_aangemeld", 2), ("bot_done", 2), ("closed", 14),
)
CLOSE_REASONS = ("verhuisd", "schoolverlater", "niet_meer_nodig")
AREAS = ("lezen", "spelling", "rekenen", "taal", "gedrag", "sociaal_emotioneel", "werkhouding")
NOTES = (
    "Leest traag en raadt woorden.", "Rekent op de vingers bij sommen tot 20.",
    "Trekt zich terug in de kring.", "Heeft moeite met starten van taken.",
    "Spelt klankzuivere woorden fout.", "Is snel afgeleid tijdens instructie.",
)
# Made-up OPP texts: short, like a first draft, and about no real pupil.
OPP_TEXTS: dict[str, tuple[str, ...]] = {
    "rationale": ("Toetsen en werkhouding wijzen op deze uitstroom.", "Leerrendement van de laatste twee jaar."),
    "helping_factors": ("Gemotiveerd, steun thuis.", "Werkt graag samen; houdt van praktisch werk."),
    "hindering_factors": ("Concentratie en leestempo.", "Snel afgeleid; werkgeheugen."),
    "needs": ("Korte instructie en vaste structuur.", "Visuele ondersteuning bij nieuwe stof."),
    "support": ("RT lezen in een klein groepje.", "Begeleiding door de onderwijsassistent."),
    "who": ("De RT'er en de leerkracht.", "De onderwijsassistent en de IB."),
    "frequency": ("3x per week 30 minuten.", "Dagelijks 20 minuten."),
    "deviations": ("Geen Engels; extra lezen.", "Eigen leerlijn rekenen."),
}
OPP_GOALS = (("lezen", "AVI E5 aan het eind van het jaar"), ("rekenen", "Tafels 1-5 geautomatiseerd"),
             ("werkhouding", "20 minuten zelfstandig werken"), ("spelling", "Categorie 1-6 beheersen"),
             ("sociaal_emotioneel", "Zegt wat hij of zij nodig heeft"))
GOALS = ("Vloeiend lezen AVI E4", "Automatiseren tafels 1-5", "Zelfstandig starten met taak",
         "Spelling categorie 1-6 beheersen", "Samenwerken in een groepje")


@dataclass
class Population:
    """What one run wrote, for the CLI and the benchmarks."""

    pupils: int
    events: int
    seconds: float
    states: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "pupils": self.pupils, "events": self.events, "seconds": round(self.seconds, 2),
            "events_per_s": round(self.events / self.seconds) if self.seconds else None,
            "states": dict(sorted(self.states.items())),
        }


class _Journey:
    """Builds one case event by event, deciding every transition with the real guards."""

    def __init__(self, gen: _Generator, case_id: str, school: str, at: dt.datetime) -> None:
        self.gen = gen
        self.d = gen.definition
        self.school = school
        self.ib, self.lk = gen.actors[school]
        self.at = at
        key, self.wrapped = gen.engine.keyring.new_case_key(case_id)
        self.cipher = CaseCipher(case_id, key)
        pupil = f"DEMO-{case_id[2:]}"
        self.pupil_index = gen.engine.keyring.pupil_index(school, pupil)
        role = gen.roles[self.ib]
        payload: dict[str, Any] = {
            "school": school, "pupil": self.cipher.seal("pupil", pupil), "state": self.d.initial,
            "level": self.d.level_of(self.d.initial), "group": gen.rng.randint(1, 8),
        }
        first = make_event(
            case_id=case_id, seq=1, type="case_opened", process_id=self.d.id,
            process_version=self.d.version, actor=self.ib, role=role, recorded_at=at,
            payload=payload, prev_hash=GENESIS_HASH,
        )
        self.case = Case.from_events([first])

    # Each step moves the clock on; a step that would land after `now` ends the journey.
    def later(self, days: float) -> bool:
        rng = self.gen.rng
        nxt = self.at + dt.timedelta(days=days, minutes=rng.randint(1, 90))
        if nxt >= self.gen.now:
            return False
        self.at = nxt
        return True

    def actor_for(self, kind: str) -> str:
        roles = self.d.evidence_roles.get(kind, frozenset())
        return self.lk if self.gen.roles[self.lk] in roles else self.ib

    def record(self, kind: str, days: float = 0.2, /, **fields: Any) -> bool:
        if not self.later(days):
            return False
        case, d = self.case, self.d
        today = local_date(self.at)
        valid = evidence.validate(kind, {"date": today, **fields}, today=today,
                                  consent_scopes=d.consent_scopes, plans=case.plans, opp_active=case.opp_active,
                                  sharing_scopes=d.sharing_scopes, kinds=d.evidence_kinds,
                                  level_plans=case.level_plans,
                                  opp_scope=d.opp.consent_scope if d.opp else None, opp_versions=case.opp_refs)
        payload = {
            "kind": kind, "date": valid.date.isoformat(), "level": case.level, "state": case.state,
            "fields": {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in valid.plain.items()},
            "secret": self.cipher.seal_all(valid.secret),
        }
        actor = self.actor_for(kind)
        case.apply(case.next_event(type="evidence_recorded", payload=payload, actor=actor,
                                   role=self.gen.roles[actor], recorded_at=self.at, process=d))
        return True

    def fire(self, trigger: str, days: float = 1, /, **params: str) -> bool:
        if not self.later(days):
            return False
        case, d = self.case, self.d
        role = self.gen.roles[self.ib]
        decision = domain.decide(case, d, trigger, params, role)
        if not decision.allowed:  # the script and the definition disagree: a bug, not data
            raise RuntimeError(f"generator: {trigger} refused from {case.state}: {decision.reasons}")
        move = perform(case, d, decision, role)  # through the shared machine, as the engine does
        assert move.payload is not None
        case.apply(case.next_event(type="transitioned", payload=move.payload,
                                   actor=self.ib, role=role, recorded_at=self.at, process=d))
        return True

    def draft_opp(self, days: float, /, *, complete: bool = True) -> bool:
        """An OPP version (process versions with an OPP document; others have nothing to draft),
        written as `opp.draft` writes it. An incomplete one leaves out some parts, as a first
        draft often does."""
        spec = self.d.opp
        if spec is None:
            return True
        if not self.later(days):
            return False
        rng, case = self.gen.rng, self.case
        today = local_date(self.at)
        content = oppdoc.OppContent(
            uitstroombestemming=rng.choice(spec.profile_ids),
            texts={name: rng.choice(OPP_TEXTS[name]) for name in OPP_TEXTS},
            goals=[(area, goal) for area, goal in rng.sample(OPP_GOALS, 2)],
            evaluation_moments=[today + dt.timedelta(weeks=w) for w in (16, 36)])
        if not complete:
            for name in rng.sample(sorted(content.texts), 3):
                del content.texts[name]
        number = len(case.opp_refs()) + 1
        payload = opp.version_payload(self.cipher, case, content, number, today)
        case.apply(case.next_event(type="opp_drafted", payload=payload, actor=self.ib,
                                   role=self.gen.roles[self.ib], recorded_at=self.at, process=self.d))
        return True

    def evaluate_opp(self, days: float, outcome: str, /) -> bool:
        """The yearly OPP evaluation: per goal in a process version with an OPP document (as `opp
        evaluate` writes it), else an evaluation record about the OPP."""
        case, rng = self.case, self.gen.rng
        number = opp.adopted_version(case)
        version = case.facts.opp_version(number) if number is not None else None
        if number is None or version is None:
            return self.record("evaluation", days, outcome=outcome, subject="opp", with_parents=True)
        if not self.later(days):
            return False
        results = {n: rng.choice(tuple(oppdoc.GOAL_RESULTS)) for n in range(1, version.goals + 1)}
        payload = opp.evaluation_payload(case, number, version.hash, local_date(self.at), outcome=outcome,
                                         with_parents=True, results=results, secret={})
        case.apply(case.next_event(type="opp_evaluated", payload=payload, actor=self.ib,
                                   role=self.gen.roles[self.ib], recorded_at=self.at, process=self.d))
        return True

    def register_rod(self, which: str, days: float, /) -> bool:
        """The school's administration entered the OPP's start or end date in ROD (as `rod
        mark` records it); most schools do, some forget, and the ROD list shows those."""
        r = rod.next_to_register(self.case, which, None)
        if r is None or not self.later(days):
            return False
        on = max(local_date(self.at), r.date)
        payload = {"which": which, "opp_date": r.date.isoformat(), "registered_on": on.isoformat()}
        self.case.apply(self.case.next_event(type="rod_registered", payload=payload, actor=self.ib,
                                             role=self.gen.roles[self.ib], recorded_at=self.at, process=self.d))
        return True

    def plan_period(self, outcome: str, who: str = "leerkracht", /) -> bool:
        rng = self.gen.rng
        start = local_date(self.at) + dt.timedelta(days=1)
        weeks = rng.choice((6, 8, 8, 10, 12))
        end = start + dt.timedelta(weeks=weeks)
        return (self.record("plan", 0.3, start=start, end=end, goals=rng.choice(GOALS), who=who,
                            frequency=rng.choice(("3x per week 20 min", "4x per week 15 min")))
                and self.record("evaluation", weeks * 7 + rng.uniform(0, 5), outcome=outcome,
                                notes=rng.choice(NOTES)))


class _Generator:
    def __init__(self, engine: ServiceContext, *, now: dt.datetime, years: float, seed: int | None) -> None:
        self.engine = engine
        self.definition: ProcessDefinition = engine.definition
        if self.definition.id != "passend-po":
            raise BadInput(Said("demo.only_passend_po", process=self.definition.id))
        self.rng = random.Random(seed)
        self.now = now
        self.years = years
        self.roles = {u.id: u.role for u in engine.config.users.values()}
        self.actors: dict[str, tuple[str, str]] = {}
        for school in engine.config.schools:
            users = [u for u in engine.config.users.values() if school in u.schools]
            ib = next((u.id for u in users if u.role == "ib"), None)
            if ib is None:
                continue
            lk = next((u.id for u in users if u.role == "leerkracht"), ib)
            self.actors[school] = (ib, lk)
        if not self.actors:
            raise BadInput(Said("demo.config.no_school_with_ib"))
        self.schools = list(self.actors)
        stages, weights = zip(*FINAL_STAGES, strict=True)
        self.stages: tuple[str, ...] = stages
        self.weights: tuple[int, ...] = weights

    def build(self, case_id: str) -> NewCase:
        rng = self.rng
        span = self.years * 365
        # More recent cases than old ones: old cases have mostly closed and left the school.
        opened = self.now - dt.timedelta(days=span * rng.random() ** 1.5 + 1)
        opened = opened.replace(hour=rng.randint(7, 14), minute=rng.randint(0, 59))
        j = _Journey(self, case_id, rng.choice(self.schools), opened)
        target = rng.choices(self.stages, self.weights)[0]
        self._walk(j, target)
        return NewCase(j.case, j.pupil_index, j.wrapped)

    def _walk(self, j: _Journey, target: str) -> None:
        rng = self.rng
        closing = target == "closed"
        stop_at = rng.choice(("niveau_1", "niveau_2", "niveau_3", "opp_vastgesteld")) if closing else target
        if not j.record("signal", rng.uniform(0, 20), area=rng.choice(AREAS), note=rng.choice(NOTES)):
            return
        if stop_at == "niveau_1" and not closing:
            return
        if stop_at != "niveau_1":
            if not j.fire("escalate", rng.uniform(1, 10)):
                return
            # Some cases go back down once before they climb for good.
            if rng.random() < 0.15:
                if not (j.plan_period("voldoende") and j.fire("deescalate")):
                    return
                if not (j.record("signal", rng.uniform(10, 60), area=rng.choice(AREAS), note=rng.choice(NOTES))
                        and j.fire("escalate", rng.uniform(1, 10))):
                    return
            if stop_at != "niveau_2":
                if not (j.plan_period("onvoldoende")
                        and j.record("contact", 1, method=rng.choice(("gesprek", "telefoon")),
                                     note="Ouders geïnformeerd.")
                        and j.fire("escalate")):
                    return
                if stop_at != "niveau_3":
                    if not (j.plan_period("onvoldoende", "onderwijsassistent")
                            and j.plan_period("onvoldoende", "onderwijsassistent")
                            and j.record("meeting", 2, kind="expert", participants="IB, expert Scope")
                            and j.record("consent", 1, scope="externe_deskundige", status="granted",
                                         by="ouder 1")
                            and j.fire("escalate")):
                        return
                    if stop_at == "niveau_4" or not j.fire("start_opp", rng.uniform(1, 14)):
                        return
                    if stop_at == "opp_concept":
                        if rng.random() < 0.7:
                            j.draft_opp(rng.uniform(3, 20), complete=rng.random() < 0.5)
                        return
                    if not (j.draft_opp(rng.uniform(3, 10))
                            and j.record("meeting", rng.uniform(3, 20), kind="oogo",
                                     participants="IB, ouders, leerkracht")
                            and j.record("consent", 1, scope="opp_handelingsdeel", status="granted",
                                         by="ouder 1")
                            and j.record("view", 0.5, party="ouders", text="Wij steunen het plan.")
                            and j.record("view", 0.5, party="leerling", text="Ik wil beter leren.")
                            and j.fire("adopt_opp")):
                        return
                    if self.definition.opp is not None and rng.random() < 0.85:
                        j.register_rod("start", rng.uniform(2, 30))
                    if stop_at in ("bot_aangemeld", "bot_done"):
                        if not (j.evaluate_opp(rng.uniform(60, 200), "onvoldoende")
                                and j.record("consent", 1, scope="bot_aanmelding", status="granted",
                                             by="ouder 1")
                                and j.fire("refer_bot")):
                            return
                        if stop_at == "bot_done":
                            outcome = rng.choice(("advies", "arrangement", "tlv"))
                            if j.record("meeting", rng.uniform(10, 40), kind="bot",
                                        participants="IB, ouders, SWV", outcome=outcome):
                                j.fire("bot_outcome", outcome=outcome)
                        return
        if closing and j.fire("close", rng.uniform(20, 300), reason=rng.choice(CLOSE_REASONS)) \
                and self.definition.opp is not None and rng.random() < 0.85:
            j.register_rod("end", rng.uniform(2, 30))


def _id_prefix(engine: ServiceContext, rng: random.Random) -> str:
    """Three base32 letters no stored case id starts with; the run numbers its cases behind it.

    Random ids (as `open_case` makes) would collide by the birthday bound at a million cases.
    """
    with engine.uow(write=False) as uow:
        for _ in range(100):
            prefix = base64.b32encode(rng.randbytes(2)).decode("ascii")[:3]
            if not uow.cases.id_prefix_taken(f"C-{prefix}"):
                return prefix
    raise RuntimeError("no free case id prefix left")


def _case_id(prefix: str, n: int) -> str:
    # 3 letters of prefix + 5 base32 letters of counter: 33 million cases per run.
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    out = []
    for _ in range(5):
        out.append(digits[n % 32])
        n //= 32
    return "C-" + prefix + "".join(reversed(out))


def populate(
    engine: ServiceContext, *, pupils: int, years: float = 3, seed: int | None = None,
    batch: int = 2000, now: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Population:
    """Add `pupils` generated cases, with up to `years` of history before `now`, in batches."""
    if pupils < 1:
        raise BadInput(Said("demo.pupils.too_few"))
    if pupils >= 32**5:
        raise BadInput(Said("demo.pupils.too_many", most=32**5 - 1))
    if not 0 < years <= 10:
        raise BadInput(Said("demo.years.range"))
    gen = _Generator(engine, now=now or engine.clock(), years=years,
                     seed=seed if seed is not None else int.from_bytes(os.urandom(4)))
    prefix = _id_prefix(engine, gen.rng)
    started = time.perf_counter()
    states: Counter[str] = Counter()
    n_events = 0
    done = 0
    while done < pupils:
        size = min(batch, pupils - done)
        built = [gen.build(_case_id(prefix, done + i)) for i in range(size)]
        with engine.uow() as uow:
            uow.store.import_new_cases(built)
            uow.commit()
        for c in built:
            states[c.case.state] += 1
            n_events += c.case.version
        done += size
        if progress is not None:
            progress(done, pupils)
    return Population(pupils, n_events, time.perf_counter() - started, dict(states))
