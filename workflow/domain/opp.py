"""The OPP document (WPO art. 40a lid 1): its parts, the definition's `[opp]` table, and the
canonical form and hashes of one version.

The law fixes what an OPP holds, so the parts are fixed here: the expected uitstroombestemming
(a profile the definition declares) with its onderbouwing, the factors that help and hinder the
pupil, the pupil's onderwijsbehoeften, the goals per development area, the handelingsdeel (the
support and guidance, who gives it, how often, and any deviation from the regular programme) and
the evaluation moments agreed with the parents. A definition says which parts an OPP must have
before it can be adopted (`required`), how a person reads each part and profile, and which
consent scope is the parents' consent on the handelingsdeel.

A version's hash covers its plain text, so a consent can name exactly the text the parents saw
and a printed OPP can be matched with the record. The canonical form (docs/event-chain.md,
"The OPP document") includes a salt derived from the case's own key: short texts ("2x per week")
would otherwise be confirmable by guessing from the hash alone; erasing the case's key makes the
hashes unconfirmable with the text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow.domain.errors import BadInput, DefinitionError, Said
from workflow.domain.evidence import SIGNAL_AREAS, TEXT_LIMIT

Fail = Callable[[str, str | Said], DefinitionError]
OPP_FORM_VERSION = 1


@dataclass(frozen=True)
class Part:
    """One part of an OPP: `kind` is choice (a profile), text (sealed), goals or dates."""

    name: str
    kind: str
    label: str
    handelingsdeel: bool = False


PARTS: tuple[Part, ...] = (
    Part("uitstroombestemming", "choice", "de verwachte uitstroombestemming"),
    Part("rationale", "text", "de onderbouwing van de uitstroombestemming"),
    Part("helping_factors", "text", "de bevorderende factoren"),
    Part("hindering_factors", "text", "de belemmerende factoren"),
    Part("needs", "text", "de onderwijsbehoeften"),
    Part("goals", "goals", "de doelen per ontwikkelingsgebied"),
    Part("support", "text", "de ondersteuning en begeleiding (handelingsdeel)", True),
    Part("who", "text", "wie de ondersteuning geeft (handelingsdeel)", True),
    Part("frequency", "text", "hoe vaak (handelingsdeel)", True),
    Part("deviations", "text", "de afwijkingen van het reguliere onderwijsprogramma (handelingsdeel)", True),
    Part("evaluation_moments", "dates", "de afgesproken evaluatiemomenten"),
)
PART_NAMES = tuple(p.name for p in PARTS)
TEXT_PARTS = tuple(p.name for p in PARTS if p.kind == "text" and not p.handelingsdeel)
HANDELINGSDEEL = tuple(p.name for p in PARTS if p.handelingsdeel)
GOAL_AREAS = SIGNAL_AREAS
GOAL_RESULTS = {"behaald": "behaald", "deels_behaald": "deels behaald", "niet_behaald": "niet behaald"}
MAX_GOALS = 40
MAX_MOMENTS = 24


def part(name: str) -> Part:
    for p in PARTS:
        if p.name == name:
            return p
    raise KeyError(name)


@dataclass(frozen=True)
class OppSpec:
    """The definition's `[opp]`: profiles, required parts, labels, the handelingsdeel's scope."""

    profiles: tuple[tuple[str, str], ...]
    required: tuple[str, ...]
    labels: tuple[tuple[str, str], ...] = ()
    consent_scope: str | None = None

    def label(self, name: str) -> str:
        for k, v in self.labels:
            if k == name:
                return v
        return part(name).label if name in PART_NAMES else name.replace("_", " ")

    def profile_label(self, value: str) -> str:
        for k, v in self.profiles:
            if k == value:
                return v
        return value.replace("_", " ")

    @property
    def profile_ids(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.profiles)


def parse_opp(raw: Any, *, fail: Fail, scopes: tuple[str, ...]) -> OppSpec | None:
    """Read `[opp]`; every mistake names its key. None when the definition has no OPP document."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise fail("opp", Said("def.must_be_table"))
    for k in raw:
        if k not in ("profiles", "required", "labels", "consent_scope"):
            raise fail(f"opp.{k}", Said("def.unknown_key", allowed="consent_scope, labels, profiles, required"))
    profiles = raw.get("profiles")
    if not isinstance(profiles, dict) or not profiles:
        raise fail("opp.profiles", Said("def.opp.profiles"))
    for k, v in profiles.items():
        if not isinstance(v, str) or not v:
            raise fail(f"opp.profiles.{k}", Said("def.opp.profile_label"))
    required = raw.get("required", list(PART_NAMES))
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise fail("opp.required", Said("def.opp.required"))
    for r in required:
        if r not in PART_NAMES:
            raise fail("opp.required", Said("def.opp.unknown_part", part=r, parts=", ".join(PART_NAMES)))
    labels = raw.get("labels", {})
    if not isinstance(labels, dict):
        raise fail("opp.labels", Said("def.opp.labels"))
    for k, v in labels.items():
        if k not in PART_NAMES:
            raise fail(f"opp.labels.{k}", Said("def.opp.label_unknown_part", parts=", ".join(PART_NAMES)))
        if not isinstance(v, str) or not v:
            raise fail(f"opp.labels.{k}", Said("def.must_be_text"))
    scope = raw.get("consent_scope")
    if scope is not None and scope not in scopes:
        raise fail("opp.consent_scope", Said("def.consent.unknown_scope", scope=scope, declared=", ".join(scopes)))
    return OppSpec(tuple((str(k), str(v)) for k, v in profiles.items()), tuple(required),
                   tuple((str(k), str(v)) for k, v in labels.items()), scope)


# ---- one version's content ---------------------------------------------------------------------
@dataclass
class OppContent:
    """The plain text of one OPP version, as drafted (before sealing) or as read back."""

    uitstroombestemming: str | None = None
    texts: dict[str, str] = field(default_factory=dict)  # rationale, factors, needs, handelingsdeel
    goals: list[tuple[str, str]] = field(default_factory=list)  # (area, goal text)
    evaluation_moments: list[dt.date] = field(default_factory=list)

    def present(self) -> frozenset[str]:
        got = set(self.texts)
        if self.uitstroombestemming:
            got.add("uitstroombestemming")
        if self.goals:
            got.add("goals")
        if self.evaluation_moments:
            got.add("evaluation_moments")
        return frozenset(got)

    def handelingsdeel(self) -> dict[str, str]:
        return {k: v for k, v in self.texts.items() if k in HANDELINGSDEEL}

    def form(self, case_id: str, version: int, salt: str) -> dict[str, Any]:
        """The canonical form's object (docs/event-chain.md): absent parts left out."""
        out: dict[str, Any] = {"v": OPP_FORM_VERSION, "case_id": case_id, "version": version, "salt": salt}
        if self.uitstroombestemming:
            out["uitstroombestemming"] = self.uitstroombestemming
        for name in TEXT_PARTS:
            if name in self.texts:
                out[name] = self.texts[name]
        if self.goals:
            out["goals"] = [{"area": a, "text": t} for a, t in self.goals]
        hd = self.handelingsdeel()
        if hd:
            out["handelingsdeel"] = hd
        if self.evaluation_moments:
            out["evaluation_moments"] = [d.isoformat() for d in self.evaluation_moments]
        return out

    def hashes(self, case_id: str, version: int, salt: str) -> tuple[str, str]:
        """(the version's hash, the handelingsdeel's hash)."""
        doc = _sha(self.form(case_id, version, salt))
        hd = _sha({"v": OPP_FORM_VERSION, "case_id": case_id, "salt": salt, "handelingsdeel": self.handelingsdeel()})
        return doc, hd


def _sha(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def missing(spec: OppSpec, present: Iterable[str]) -> list[str]:
    """The required parts not in `present`, in the order of the law's list."""
    have = set(present)
    return [p for p in PART_NAMES if p in spec.required and p not in have]


def check_content(spec: OppSpec, content: OppContent) -> None:
    """Refuse (BadInput, one Dutch line) a value no OPP may hold; completeness is the guard's."""
    if content.uitstroombestemming is not None and content.uitstroombestemming not in spec.profile_ids:
        raise BadInput(Said("dom.opp.profile_not_allowed", value=content.uitstroombestemming,
                            choices=", ".join(spec.profile_ids)))
    for name, text in content.texts.items():
        if name not in TEXT_PARTS and name not in HANDELINGSDEEL:
            raise BadInput(Said("dom.opp.unknown_part", part=name))
        if not text.strip():
            raise BadInput(Said("dom.opp.part_empty", part=spec.label(name)))
        if len(text) > TEXT_LIMIT:
            raise BadInput(Said("dom.opp.part_too_long", part=spec.label(name), limit=TEXT_LIMIT))
    if len(content.goals) > MAX_GOALS:
        raise BadInput(Said("dom.opp.too_many_goals", most=MAX_GOALS))
    for area, text in content.goals:
        if area not in GOAL_AREAS:
            raise BadInput(Said("dom.opp.goal_area_not_allowed", area=area, choices=", ".join(GOAL_AREAS)))
        if not text.strip() or len(text) > TEXT_LIMIT:
            raise BadInput(Said("dom.opp.goal_text", limit=TEXT_LIMIT))
    if len(content.evaluation_moments) > MAX_MOMENTS:
        raise BadInput(Said("dom.opp.too_many_moments", most=MAX_MOMENTS))
    if len(set(content.evaluation_moments)) != len(content.evaluation_moments):
        raise BadInput(Said("dom.opp.moment_twice"))


def present_in_payload(p: Mapping[str, Any]) -> frozenset[str]:
    """The parts an `opp_drafted` payload holds (what the completeness guard reads, sealed or not)."""
    got = set(p.get("texts") or {}) | set(p.get("handelingsdeel") or {})
    if p.get("uitstroombestemming"):
        got.add("uitstroombestemming")
    if p.get("goals"):
        got.add("goals")
    if p.get("evaluation_moments"):
        got.add("evaluation_moments")
    return frozenset(got)
