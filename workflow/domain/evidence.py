"""Evidence kinds: each one declaration of its fields, checks, labels and help.

An evidence kind says, in one place, which fields a record has (type, choices, required, secret),
the rules that tie fields together, the plain fields it derives for guards to filter on
(`heard`, `with_parents`), and how a person reads it: a Dutch label and help for the kind, each
field and each choice. Everything else derives from it: the CLI's `record` options and help,
validation (every missing field named in one message), which fields a guard may filter on, the
keys the logs redact, and the words a refusal uses.

The built-in kinds are declared here, in code, because their cross-field rules are code; a
process definition may declare more kinds in TOML (`[evidence.KIND]` with `label`, `help` and
`fields`: see `workflow.domain.kinds`). Secret fields (notes, views, names of participants) are
returned apart so the service can encrypt them before anything is stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow.domain.errors import BadInput, Said

FIELD_TYPES = ("text", "choice", "date", "bool", "int")
TEXT_LIMIT = 20_000


@dataclass(frozen=True)
class FieldSpec:
    """One field of an evidence kind.

    `label` names the field to a person; `choice_labels` name its values. How a guard's filter
    on the field reads: a field that `names` the record (a meeting's kind) replaces the kind's
    label by its choice's label ("OOGO-gesprek met de ouders" rather than "overleg"); any other
    choice reads through `phrase` ("met uitkomst {value}"); a yes/no field as `yes` or `no`.
    """

    name: str
    type: str  # text | choice | date | bool | int
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""
    label: str = ""
    choice_labels: tuple[tuple[str, str], ...] = ()
    phrase: str = ""
    names: bool = False
    yes: str = ""
    no: str = ""
    # "consent_scopes": the choices are the definition's consent scopes, not fixed here.
    choices_from: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")

    def choice_label(self, value: Any) -> str:
        for k, v in self.choice_labels:
            if k == value:
                return v
        return str(value).replace("_", " ")


def _f(name: str, type_: str, label: str, *, required: bool = False, secret: bool = False,
       choices: tuple[str, ...] | dict[str, str] = (), help: str = "", phrase: str = "",
       names: bool = False, yes: str = "", no: str = "", choices_from: str = "") -> FieldSpec:
    labels = tuple(choices.items()) if isinstance(choices, dict) else ()
    return FieldSpec(name, type_, required, secret, tuple(choices), help, label, labels, phrase, names,
                     yes, no, choices_from)


@dataclass
class Draft:
    """A record being validated: what the kind's checks read and may complete."""

    kind: EvidenceKind
    date: dt.date
    plain: dict[str, Any]
    secret: dict[str, str]
    context: Context


@dataclass(frozen=True)
class Context:
    """What validation needs to know of the case and the definition."""

    today: dt.date
    consent_scopes: tuple[str, ...] = ()
    sharing_scopes: tuple[str, ...] = ()
    plans: Callable[[], list[tuple[int, dt.date, dt.date]]] = list
    opp_active: bool = True
    # The plans an evaluation may be of: those of the current level (None: any plan).
    level_plans: Callable[[], list[int]] | None = None
    # The consent scope that binds to an OPP version, and the versions (number, hash,
    # handelingsdeel hash): a grant names the version the parents saw.
    opp_scope: str | None = None
    opp_versions: Callable[[], list[tuple[int, str, str]]] = list


Check = Callable[[Draft], None]


@dataclass(frozen=True)
class EvidenceKind:
    """One kind of evidence. Iterating it yields its input fields, in order (date first)."""

    name: str
    label: str
    help: str
    fields: tuple[FieldSpec, ...]
    derived: tuple[FieldSpec, ...] = ()  # plain booleans the checks set; guards may filter on them
    checks: tuple[Check, ...] = ()
    exactly_one_of: tuple[tuple[str, ...], ...] = ()
    builtin: bool = True

    def __iter__(self) -> Iterator[FieldSpec]:
        return iter(self.fields)

    def field(self, name: str) -> FieldSpec | None:
        for f in (*self.fields, *self.derived):
            if f.name == name:
                return f
        return None

    @property
    def secret_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields if f.secret)

    @property
    def filterable(self) -> dict[str, FieldSpec]:
        """The fields a guard or deadline may filter on: plain ones and derived ones."""
        return {f.name: f for f in (*self.fields, *self.derived) if not f.secret}


def _labels(kind: EvidenceKind, names: Any) -> str | Said:
    """The fields' labels as a list a person reads: "begin, einde en doelen"."""
    titles = [(kind.field(n) or FieldSpec(n, "text")).title for n in names]
    if len(titles) < 2:
        return "".join(titles)
    return Said("dom.evidence.list", first=", ".join(titles[:-1]), last=titles[-1])


class _Sentence(Said):
    """A problem as a form shows it next to its field: with a capital and a full stop. It is
    rendered when read, like any Said, so it reads in the reader's language."""

    __slots__ = ()

    def __str__(self) -> str:
        return _sentence(super().__str__())


def _field_problem(problem: Said) -> Said:
    return _Sentence(problem.key, **problem.values)


def _bad(kind: str, problem: Said, *names: str) -> BadInput:
    """A record's bad input, said once for the command line ("handelingsplan: het einde ...",
    the kind's label in front) and per field for a form ("Het einde ...")."""
    return BadInput(Said("dom.evidence.problem", kind=kind, problem=problem),
                    fields={n: _field_problem(problem) for n in names})


def _sentence(problem: str) -> str:
    return problem[:1].upper() + problem[1:] + ("" if problem.endswith(".") else ".")


REQUIRED = Said("dom.evidence.required")


# ---- the built-in kinds' rules ---------------------------------------------------------------
def _plan_period(d: Draft) -> None:
    if d.plain["end"] <= d.plain["start"]:
        raise _bad(d.kind.label, Said("dom.evidence.plan.end_before_start"), "end")
    if (d.plain["end"] - d.plain["start"]).days > 366:
        raise _bad(d.kind.label, Said("dom.evidence.plan.too_long"), "end")


def _evaluation_subject(d: Draft) -> None:
    plain = d.plain
    plain.setdefault("subject", "plan")
    plain.setdefault("with_parents", False)
    if plain["subject"] == "plan":
        known = {seq: start for seq, start, _ in d.context.plans()}
        current = d.context.level_plans() if d.context.level_plans is not None else list(known)
        if "plan" in plain:
            if plain["plan"] not in known:
                raise _bad(d.kind.label, Said("dom.evidence.evaluation.no_such_plan", plan=plain["plan"]), "plan")
            if plain["plan"] not in current:
                raise _bad(d.kind.label, Said("dom.evidence.evaluation.plan_of_earlier_level", plan=plain["plan"]),
                           "plan")
        elif current:
            plain["plan"] = max(current)
        elif known:
            raise _bad(d.kind.label, Said("dom.evidence.evaluation.no_plan_at_level", last=max(known)), "plan")
        else:
            raise _bad(d.kind.label, Said("dom.evidence.evaluation.no_plan"), "subject")
        if d.date < known[plain["plan"]]:
            raise _bad(d.kind.label, Said("dom.evidence.evaluation.before_plan", date=d.date.isoformat(),
                                          plan=plain["plan"], start=known[plain["plan"]].isoformat()), "date")
    elif "plan" in plain:
        raise _bad(d.kind.label, Said("dom.evidence.evaluation.plan_without_plan_subject"), "plan")
    elif not d.context.opp_active:
        raise _bad(d.kind.label, Said("dom.evidence.evaluation.no_opp"), "subject")


def _consent_opp(d: Draft) -> None:
    """A decision on the OPP's consent scope names the OPP version the parents saw (the one
    given, else the newest), by its hash and its handelingsdeel's hash."""
    plain, ctx = d.plain, d.context
    if plain["scope"] != ctx.opp_scope:
        if "opp_version" in plain:
            raise BadInput(Said("dom.evidence.problem", kind=d.kind.label,
                                problem=Said("dom.evidence.consent.version_not_for_scope")))
        return
    versions = {n: (h, hd) for n, h, hd in ctx.opp_versions()}
    if not versions:
        if plain["status"] == "granted":
            raise BadInput(Said("dom.evidence.problem", kind=d.kind.label,
                                problem=Said("dom.evidence.consent.no_opp_version")))
        return
    number = plain.get("opp_version", max(versions))
    if number not in versions:
        raise BadInput(Said("dom.evidence.problem", kind=d.kind.label, problem=Said(
            "dom.evidence.consent.no_such_opp_version", version=number,
            versions=", ".join(str(n) for n in sorted(versions)))))
    plain["opp_version"] = number
    plain["opp_hash"], plain["handelingsdeel_hash"] = versions[number]


def _view_heard(d: Draft) -> None:
    has_text, has_reason = "text" in d.secret, "reason_not_heard" in d.secret
    if has_text == has_reason:
        raise _bad(d.kind.label, Said("dom.evidence.view.text_or_reason"), "text", "reason_not_heard")
    d.plain["heard"] = has_text


def _meeting_outcome(d: Draft) -> None:
    plain = d.plain
    if plain["kind"] == "bot" and "outcome" not in plain:
        raise _bad(d.kind.label, Said("dom.evidence.meeting.bot_needs_outcome"), "outcome")
    if plain["kind"] != "bot" and "outcome" in plain:
        raise _bad(d.kind.label, Said("dom.evidence.meeting.outcome_only_bot"), "outcome")
    plain["with_parents"] = plain["kind"] in ("oogo", "bot")


def _contact_party(d: Draft) -> None:
    d.plain.setdefault("party", "ouders")


def _consent_sharing(d: Draft) -> None:
    plain = d.plain
    if plain["scope"] in d.context.sharing_scopes and plain["status"] == "granted":
        lacking = [n for n in ("recipient", "legal_basis", "purpose") if n not in plain]
        if lacking:
            raise _bad(d.kind.label, Said("dom.evidence.consent.sharing_needs", fields=_labels(d.kind, lacking)),
                       *lacking)


# A parent records their own decision on a consent and their view (and the pupil's, as they
# tell it) in the parents' portal: such a record has role PARENT_ROLE and `channel` "online".
# It counts like the IB's record of the same kind; no definition grants the role anything else.
PARENT_ROLE = "ouder"
PARENT_KINDS = frozenset({"consent", "view"})


def by_parent_online(role: str, kind: str, fields: Mapping[str, Any]) -> bool:
    """Whether a record is a parent's own, made in the portal (audit replay accepts it)."""
    return role == PARENT_ROLE and kind in PARENT_KINDS and fields.get("channel") == "online"

SIGNAL_AREAS = {
    "lezen": "lezen", "spelling": "spelling", "rekenen": "rekenen", "taal": "taal", "gedrag": "gedrag",
    "sociaal_emotioneel": "sociaal-emotionele ontwikkeling", "werkhouding": "werkhouding",
    "fysiek": "lichamelijke ontwikkeling", "ontwikkelingsvoorsprong": "ontwikkelingsvoorsprong",
    "anders": "iets anders",
}


def _date(what: str) -> FieldSpec:
    return _f("date", "date", "datum", help=f"datum {what} (standaard vandaag)")


BUILTIN_KINDS: dict[str, EvidenceKind] = {k.name: k for k in (
    EvidenceKind(
        "signal", "signalering", "Een signaal dat een leerling misschien meer ondersteuning nodig heeft.",
        (
            _date("van de observatie"),
            _f("area", "choice", "gebied", required=True, choices=SIGNAL_AREAS, phrase="over {value}",
               help="waar het signaal over gaat"),
            _f("note", "text", "notitie", required=True, secret=True, help="wat is opgemerkt"),
        ),
    ),
    EvidenceKind(
        "plan", "handelingsplan", "Een handelingsplan voor een periode van ondersteuning.",
        (
            _date("waarop het plan is gemaakt"),
            _f("start", "date", "begin", required=True, help="eerste dag van de ondersteuningsperiode"),
            _f("end", "date", "einde", required=True, help="laatste dag van de periode; evalueer uiterlijk dan"),
            _f("goals", "text", "doelen", required=True, secret=True, help="de doelen van het plan"),
            _f("who", "text", "wie helpt", required=True, secret=True, help="wie de ondersteuning geeft"),
            _f("frequency", "text", "hoe vaak", required=True,
               help="hoe vaak, bijvoorbeeld '3x per week 20 min'"),
        ),
        checks=(_plan_period,),
    ),
    EvidenceKind(
        "evaluation", "evaluatie", "De evaluatie van een periode van een handelingsplan of van het OPP.",
        (
            _date("van de evaluatie"),
            _f("outcome", "choice", "uitkomst", required=True,
               choices={"voldoende": "voldoende", "onvoldoende": "onvoldoende"}, phrase="met uitkomst {value}",
               help="genoeg vooruitgang (voldoende) of niet (onvoldoende)"),
            _f("subject", "choice", "onderwerp", names=True,
               choices={"plan": "evaluatie van het handelingsplan", "opp": "evaluatie van het OPP"},
               help="wat wordt geëvalueerd: plan of opp (standaard plan)"),
            _f("plan", "int", "plannummer", phrase="van plan {value}",
               help="nummer van het geëvalueerde plan (standaard het laatste plan)"),
            _f("with_parents", "bool", "samen met de ouders", yes="samen met de ouders", no="zonder de ouders",
               help="samen met de ouders geëvalueerd"),
            _f("notes", "text", "aantekeningen", secret=True, help="aantekeningen bij de evaluatie"),
        ),
        checks=(_evaluation_subject,),
    ),
    EvidenceKind(
        "consent", "toestemming", "Het besluit van de ouders over een toestemming (verleend, geweigerd, ingetrokken).",
        (
            _date("waarop de ouders besloten"),
            _f("scope", "choice", "waarvoor", required=True, choices_from="consent_scopes", phrase="voor {value}",
               help="waarvoor de toestemming is"),
            _f("status", "choice", "besluit", required=True,
               choices={"granted": "verleend", "refused": "geweigerd", "revoked": "ingetrokken"},
               phrase="{value}", help="het besluit: granted (verleend), refused (geweigerd), revoked (ingetrokken)"),
            _f("by", "text", "wie besliste", required=True, secret=True, help="wie besliste (ouder of verzorger)"),
            _f("recipient", "text", "ontvanger", help="aan wie gegevens worden gedeeld (bij gegevensdeling)"),
            _f("legal_basis", "text", "grondslag", help="grondslag voor het delen (AVG art. 6)"),
            _f("purpose", "text", "doel", help="doel van het delen"),
            _f("opp_version", "int", "OPP-versie",
               help="bij het handelingsdeel: de OPP-versie die de ouders zagen (standaard de nieuwste)"),
        ),
        derived=(_f("opp_hash", "text", "hash van de OPP-versie"),
                 _f("handelingsdeel_hash", "text", "hash van het handelingsdeel"),
                 # The parents' online answer to a request (a consent_requested event): its seq
                 # and the hash of its text, as the portal showed it.
                 _f("request", "int", "verzoek"),
                 _f("request_hash", "text", "hash van het verzoek")),
        checks=(_consent_sharing, _consent_opp),
    ),
    EvidenceKind(
        "view", "mening", "De mening van de ouders of van de leerling (of waarom die niet gehoord kon worden).",
        (
            _date("waarop de mening is gegeven"),
            _f("party", "choice", "van wie", required=True, names=True,
               choices={"ouders": "mening van de ouders", "leerling": "mening van de leerling"},
               help="van wie: ouders of leerling"),
            _f("text", "text", "mening in eigen woorden", secret=True, help="de mening, in hun eigen woorden"),
            _f("reason_not_heard", "text", "reden niet gehoord", secret=True,
               help="waarom de mening niet gehoord kon worden"),
        ),
        derived=(_f("heard", "bool", "gehoord", yes="in eigen woorden", no="met de reden waarom niet gehoord"),),
        checks=(_view_heard,),
    ),
    EvidenceKind(
        "meeting", "overleg", "Een overleg: OOGO met de ouders, BOT, met een deskundige, leerlingbespreking.",
        (
            _date("van het overleg"),
            _f("kind", "choice", "soort overleg", required=True, names=True, choices={
                "oogo": "OOGO-gesprek met de ouders", "bot": "BOT-overleg",
                "expert": "overleg met een externe deskundige", "leerlingbespreking": "leerlingbespreking"},
               help="soort overleg: oogo, bot, expert of leerlingbespreking"),
            _f("participants", "text", "deelnemers", required=True, secret=True, help="wie er waren"),
            _f("outcome", "choice", "uitkomst", phrase="met uitkomst {value}",
               choices={"advies": "advies", "arrangement": "arrangement", "tlv": "TLV"},
               help="bij een BOT-overleg: de uitkomst"),
            _f("summary", "text", "afspraken", secret=True, help="wat is afgesproken"),
        ),
        derived=(_f("with_parents", "bool", "met de ouders", yes="met de ouders", no="zonder de ouders"),),
        checks=(_meeting_outcome,),
    ),
    EvidenceKind(
        "contact", "contact", "Contact met de ouders (ouders geïnformeerd), de leerling of een externe partij.",
        (
            _date("van het contact"),
            _f("party", "choice", "met wie", names=True, choices={
                "ouders": "contact met de ouders", "leerling": "contact met de leerling",
                "externe": "contact met een externe partij"}, help="met wie (standaard de ouders)"),
            _f("method", "choice", "hoe", required=True, phrase="via {value}", choices={
                "gesprek": "een gesprek", "telefoon": "de telefoon", "email": "e-mail", "brief": "een brief"},
               help="hoe: gesprek, telefoon, email of brief"),
            _f("note", "text", "notitie", secret=True, help="wat is besproken"),
        ),
        checks=(_contact_party,),
    ),
)}
# The name the rest of the code (and older imports) know the built-in registry by.
EVIDENCE_KINDS = BUILTIN_KINDS


@dataclass(frozen=True)
class ValidEvidence:
    """A record that passed its kind's checks: its plain fields and the ones to seal."""

    kind: str
    date: dt.date
    plain: dict[str, Any]
    secret: dict[str, str] = field(default_factory=dict)


class _Unfit(Exception):
    """A value its field cannot hold; `problem` says why, without the field's name."""

    def __init__(self, problem: Said) -> None:
        super().__init__(problem)
        self.problem = problem


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _Unfit(Said("dom.evidence.value.not_a_date", value=str(value))) from None


def parse_date(value: Any, label: str | Said) -> dt.date:
    """A date (JJJJ-MM-DD); BadInput names `label` (an option, a field) when it is none."""
    try:
        return _as_date(value)
    except _Unfit as unfit:
        raise BadInput(Said("dom.evidence.labelled", label=label, problem=unfit.problem)) from None


def _coerce(spec: FieldSpec, value: Any, choices: tuple[str, ...]) -> Any:
    """The value as its field holds it; _Unfit when it cannot be."""
    if spec.type == "date":
        return _as_date(value)
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("1", "true", "ja", "yes", "y", "j"):
            return True
        if s in ("0", "false", "nee", "no", "n"):
            return False
        raise _Unfit(Said("dom.evidence.value.not_yes_no", value=str(value)))
    if spec.type == "int":
        try:
            n = int(value)
        except (TypeError, ValueError):
            raise _Unfit(Said("dom.evidence.value.not_whole_number", value=str(value))) from None
        if n < 1:
            raise _Unfit(Said("dom.evidence.value.below_one"))
        return n
    if spec.type == "choice":
        s = str(value)
        if s not in choices:
            raise _Unfit(Said("dom.evidence.value.not_allowed", value=s, choices=", ".join(choices)))
        return s
    s = str(value).strip()
    if not s:
        raise _Unfit(Said("dom.evidence.value.empty"))
    if len(s) > TEXT_LIMIT:
        raise _Unfit(Said("dom.evidence.value.too_long", limit=TEXT_LIMIT))
    return s


def validate(
    kind: str | EvidenceKind,
    values: Mapping[str, Any],
    *,
    today: dt.date,
    consent_scopes: tuple[str, ...],
    plans: Callable[[], list[tuple[int, dt.date, dt.date]]] = list,
    opp_active: bool = True,
    sharing_scopes: tuple[str, ...] = (),
    kinds: Mapping[str, EvidenceKind] = BUILTIN_KINDS,
    level_plans: Callable[[], list[int]] | None = None,
    opp_scope: str | None = None,
    opp_versions: Callable[[], list[tuple[int, str, str]]] = list,
) -> ValidEvidence:
    """Check one evidence record; raise BadInput naming what is wrong, by label.

    Every missing required field is named in one message. `kinds` are the kinds the case's
    definition knows (the built-in ones and its own); `plans` lists the case's recorded plans
    (seq, start, end) so an evaluation can name its plan; `opp_active` says whether the case has
    an adopted OPP that an evaluation can be about; a grant for one of `sharing_scopes` must
    record recipient, legal basis and purpose.
    """
    if isinstance(kind, str):
        spec_kind = kinds.get(kind)
        if spec_kind is None:
            raise BadInput(Said("dom.evidence.unknown_kind", kind=kind, choices=", ".join(kinds)))
    else:
        spec_kind = kind
    what = spec_kind.label
    specs = {s.name: s for s in spec_kind.fields}
    for name in values:
        if name not in specs:
            raise BadInput(Said("dom.evidence.problem", kind=what, problem=Said(
                "dom.evidence.unknown_field", field=name, fields=", ".join(specs))))
    context = Context(today, consent_scopes, sharing_scopes, plans, opp_active, level_plans, opp_scope,
                      opp_versions)
    plain: dict[str, Any] = {}
    secret: dict[str, str] = {}
    lacking: list[str] = []
    # Every field is checked, so a form can show each problem next to its field at once; the
    # message (one line, for the command line) names the first bad value, else every lacking field.
    problems: dict[str, str | Said] = {}
    first: Said | None = None
    for spec in specs.values():
        value = values.get(spec.name)
        if value is None or (isinstance(value, str) and value == "" and spec.type != "text"):
            if spec.required:
                lacking.append(spec.name)
            continue
        choices = consent_scopes if spec.choices_from == "consent_scopes" else spec.choices
        try:
            coerced = _coerce(spec, value, choices)
        except _Unfit as unfit:
            first = first or Said("dom.evidence.field_problem", kind=what, field=spec.title, problem=unfit.problem)
            problems[spec.name] = _field_problem(unfit.problem)
            continue
        if spec.secret:
            secret[spec.name] = coerced
        else:
            plain[spec.name] = coerced
    problems.update({n: REQUIRED for n in lacking})
    if first is not None:
        raise BadInput(first, fields=problems)
    if lacking:
        raise BadInput(Said("dom.evidence.problem", kind=what,
                            problem=Said("dom.evidence.lacking", fields=_labels(spec_kind, lacking))),
                       fields=problems)
    date = plain.pop("date", today)
    if date > today:
        raise _bad(what, Said("dom.evidence.date_in_future", date=date.isoformat()), "date")
    for group in spec_kind.exactly_one_of:
        if sum(1 for n in group if n in plain or n in secret) != 1:
            raise _bad(what, Said("dom.evidence.exactly_one_of", fields=_labels(spec_kind, group)), *group)
    draft = Draft(spec_kind, date, plain, secret, context)
    for check in spec_kind.checks:
        check(draft)
    return ValidEvidence(spec_kind.name, date, plain, secret)
