"""Evidence kinds and their fields: what each record must hold, what is secret, what is checked.

The schema lives in code because guards depend on field meaning; which roles may record a kind, and
which consent scopes exist, live in the process definition. Secret fields (notes, views, names of
participants) are returned apart so the service can encrypt them before anything is stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workflow.domain.errors import BadInput


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str  # text | choice | date | bool | int
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""


def _f(name: str, type_: str, *, required: bool = False, secret: bool = False,
       choices: tuple[str, ...] = (), help: str = "") -> FieldSpec:
    return FieldSpec(name, type_, required, secret, choices, help)


SIGNAL_AREAS = (
    "lezen", "spelling", "rekenen", "taal", "gedrag", "sociaal_emotioneel", "werkhouding",
    "fysiek", "ontwikkelingsvoorsprong", "anders",
)

EVIDENCE_KINDS: dict[str, tuple[FieldSpec, ...]] = {
    "signal": (
        _f("date", "date", help="date of the observation (default today)"),
        _f("area", "choice", required=True, choices=SIGNAL_AREAS),
        _f("note", "text", required=True, secret=True, help="what was observed"),
    ),
    "plan": (
        _f("date", "date", help="date the plan was made (default today)"),
        _f("start", "date", required=True, help="first day of the support period"),
        _f("end", "date", required=True, help="last day of the period; evaluate by then"),
        _f("goals", "text", required=True, secret=True),
        _f("who", "text", required=True, secret=True, help="who gives the support"),
        _f("frequency", "text", required=True, help="how often, e.g. '3x per week 20 min'"),
    ),
    "evaluation": (
        _f("date", "date", help="date of the evaluation (default today)"),
        _f("outcome", "choice", required=True, choices=("voldoende", "onvoldoende")),
        _f("subject", "choice", choices=("plan", "opp"), help="what is evaluated (default plan)"),
        _f("plan", "int", help="event number of the plan evaluated (default: the latest plan)"),
        _f("with_parents", "bool", help="evaluated together with the parents"),
        _f("notes", "text", secret=True),
    ),
    "consent": (
        _f("date", "date", help="date the parents decided (default today)"),
        _f("scope", "choice", required=True, help="what the consent is for"),
        _f("status", "choice", required=True, choices=("granted", "refused", "revoked")),
        _f("by", "text", required=True, secret=True, help="who decided (parent or guardian)"),
        _f("recipient", "text", help="to whom data is shared (data sharing scopes)"),
        _f("legal_basis", "text", help="legal basis for sharing (AVG art. 6)"),
        _f("purpose", "text", help="purpose of sharing"),
    ),
    "view": (
        _f("date", "date", help="date the view was given (default today)"),
        _f("party", "choice", required=True, choices=("ouders", "leerling")),
        _f("text", "text", secret=True, help="the view, in their words"),
        _f("reason_not_heard", "text", secret=True, help="why the view could not be heard"),
    ),
    "meeting": (
        _f("date", "date", help="date of the meeting (default today)"),
        _f("kind", "choice", required=True,
           choices=("oogo", "bot", "expert", "leerlingbespreking")),
        _f("participants", "text", required=True, secret=True),
        _f("outcome", "choice", choices=("advies", "arrangement", "tlv"),
           help="BOT meetings: the outcome"),
        _f("summary", "text", secret=True, help="what was agreed"),
    ),
    "contact": (
        _f("date", "date", help="date of the contact (default today)"),
        _f("party", "choice", choices=("ouders", "leerling", "externe"), help="with whom (default ouders)"),
        _f("method", "choice", required=True, choices=("gesprek", "telefoon", "email", "brief")),
        _f("note", "text", secret=True),
    ),
}

TEXT_LIMIT = 20_000


@dataclass(frozen=True)
class ValidEvidence:
    kind: str
    date: dt.date
    plain: dict[str, Any]
    secret: dict[str, str]


def parse_date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise BadInput(f"{field}: '{value}' is geen datum (verwacht JJJJ-MM-DD)") from None


def _coerce(spec: FieldSpec, value: Any, choices: tuple[str, ...]) -> Any:
    name = spec.name
    if spec.type == "date":
        return parse_date(value, name)
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("1", "true", "ja", "yes", "y", "j"):
            return True
        if s in ("0", "false", "nee", "no", "n"):
            return False
        raise BadInput(f"{name}: '{value}' is geen ja/nee-waarde")
    if spec.type == "int":
        try:
            n = int(value)
        except (TypeError, ValueError):
            raise BadInput(f"{name}: '{value}' is geen geheel getal") from None
        if n < 1:
            raise BadInput(f"{name}: moet 1 of hoger zijn")
        return n
    if spec.type == "choice":
        s = str(value)
        if s not in choices:
            raise BadInput(f"{name}: '{s}' is niet toegestaan (kies uit: {', '.join(choices)})")
        return s
    s = str(value).strip()
    if not s:
        raise BadInput(f"{name}: mag niet leeg zijn")
    if len(s) > TEXT_LIMIT:
        raise BadInput(f"{name}: te lang (meer dan {TEXT_LIMIT} tekens)")
    return s


def validate(
    kind: str,
    values: Mapping[str, Any],
    *,
    today: dt.date,
    consent_scopes: tuple[str, ...],
    plans: Callable[[], list[tuple[int, dt.date, dt.date]]] = list,
    opp_active: bool = True,
    sharing_scopes: tuple[str, ...] = (),
) -> ValidEvidence:
    """Check one evidence record; raise BadInput naming the first field that is wrong.

    `plans` lists the case's recorded plans (seq, start, end) so an evaluation can name its plan;
    `opp_active` says whether the case has an adopted OPP that an evaluation can be about;
    a grant for one of `sharing_scopes` must record recipient, legal basis and purpose.
    """
    if kind not in EVIDENCE_KINDS:
        raise BadInput(f"onbekende soort bewijs '{kind}' (kies uit: {', '.join(EVIDENCE_KINDS)})")
    specs = {s.name: s for s in EVIDENCE_KINDS[kind]}
    for name in values:
        if name not in specs:
            raise BadInput(f"{kind}: onbekend veld '{name}' (velden: {', '.join(specs)})")
    plain: dict[str, Any] = {}
    secret: dict[str, str] = {}
    for spec in specs.values():
        value = values.get(spec.name)
        if value is None or (isinstance(value, str) and value == "" and spec.type != "text"):
            if spec.required:
                raise BadInput(f"{kind}: veld '{spec.name}' is verplicht")
            continue
        choices = consent_scopes if (kind, spec.name) == ("consent", "scope") else spec.choices
        coerced = _coerce(spec, value, choices)
        if spec.secret:
            secret[spec.name] = coerced
        else:
            plain[spec.name] = coerced
    date = plain.pop("date", today)
    if date > today:
        raise BadInput(f"{kind}: datum {date.isoformat()} ligt in de toekomst")
    _check_kind(kind, date, plain, secret, plans, opp_active)
    if kind == "consent" and plain["scope"] in sharing_scopes and plain["status"] == "granted":
        for name in ("recipient", "legal_basis", "purpose"):
            if name not in plain:
                raise BadInput(f"consent: gegevensdeling '{plain['scope']}' vraagt '{name}' "
                               "(aan wie, op welke grondslag, met welk doel)")
    return ValidEvidence(kind, date, plain, secret)


def _check_kind(
    kind: str,
    date: dt.date,
    plain: dict[str, Any],
    secret: dict[str, str],
    plans: Callable[[], list[tuple[int, dt.date, dt.date]]],
    opp_active: bool,
) -> None:
    """Rules that tie fields together, and derived plain fields the guards filter on."""
    if kind == "plan":
        if plain["end"] <= plain["start"]:
            raise BadInput("plan: 'end' moet na 'start' liggen")
        if (plain["end"] - plain["start"]).days > 366:
            raise BadInput("plan: een periode duurt hooguit een jaar; evalueer en maak een nieuw plan")
    elif kind == "evaluation":
        plain.setdefault("subject", "plan")
        plain.setdefault("with_parents", False)
        if plain["subject"] == "plan":
            known = {seq: start for seq, start, _ in plans()}
            if "plan" in plain:
                if plain["plan"] not in known:
                    raise BadInput(f"evaluation: er is geen plan met nummer {plain['plan']}")
            elif known:
                plain["plan"] = max(known)
            else:
                raise BadInput("evaluation: er is nog geen plan vastgelegd om te evalueren")
            if date < known[plain["plan"]]:
                raise BadInput(f"evaluation: datum {date.isoformat()} ligt voor de start van "
                               f"plan #{plain['plan']} ({known[plain['plan']].isoformat()})")
        elif "plan" in plain:
            raise BadInput("evaluation: 'plan' hoort alleen bij een evaluatie met subject plan")
        elif not opp_active:
            raise BadInput("evaluation: er is geen vastgesteld OPP om te evalueren")
    elif kind == "view":
        has_text, has_reason = "text" in secret, "reason_not_heard" in secret
        if has_text == has_reason:
            raise BadInput("view: geef precies een van 'text' of 'reason_not_heard'")
        plain["heard"] = has_text
    elif kind == "meeting":
        if plain["kind"] == "bot" and "outcome" not in plain:
            raise BadInput("meeting: een BOT-overleg heeft een 'outcome' (advies, arrangement, tlv)")
        if plain["kind"] != "bot" and "outcome" in plain:
            raise BadInput("meeting: 'outcome' hoort alleen bij een BOT-overleg; gebruik 'summary'")
        plain["with_parents"] = plain["kind"] in ("oogo", "bot")
    elif kind == "contact":
        plain.setdefault("party", "ouders")
