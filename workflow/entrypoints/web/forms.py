"""Forms generated from the declarations: one form per evidence kind (workflow.domain.evidence and
the kinds a definition declares), and the choices of a step's parameters.

Each field of a kind becomes one control: a text field that is secret (a note, a view) a text
area, other text a line, a choice a list of its labels (consent scopes: the definition's scope
labels), a date a date field, yes/no a checkbox, a number a number field. Required fields say
"(verplicht)" in their label; the form itself does not let the browser refuse (`novalidate`),
so what is missing comes back from the domain's own check, all at once, each message next to its
field (BadInput.fields). Field names carry a prefix (`veld-`), so no field of a kind declared in
a definition can clash with the form's own `csrf` and `versie`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow.domain.definition import ProcessDefinition, TriggerDef
from workflow.domain.evidence import EvidenceKind, FieldSpec
from workflow.messages import text as catalog_text

PREFIX = "veld-"
PARAM = "keuze-"


@dataclass
class Control:
    """One form control, as the template draws it."""

    name: str  # the field's name in the declaration
    input: str  # the form's name: PREFIX + name
    form: str  # which form (the kind or the step): ids are unique on a page of many forms
    label: str
    widget: str  # textarea | text | select | date | checkbox | number
    required: bool
    help: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    value: str = ""
    error: str | None = None

    @property
    def id(self) -> str:
        return f"{self.form}-{self.name}"


def _widget(spec: FieldSpec) -> str:
    if spec.type == "text":
        return "textarea" if spec.secret else "text"
    return {"choice": "select", "date": "date", "bool": "checkbox", "int": "number"}.get(spec.type, "text")


def _help(spec: FieldSpec, choices: list[tuple[str, str]]) -> str:
    """The declaration's help, unless it only lists the choices' ids (the list shows labels)."""
    text = spec.help
    if spec.type == "choice" and any(value in text for value, _ in choices):
        return ""
    if spec.type == "date" and "standaard vandaag" in text:
        return catalog_text("web.form.date_today")
    return text[:1].upper() + text[1:] if text else ""


def controls(kind: EvidenceKind, d: ProcessDefinition, values: Mapping[str, str] | None = None,
             errors: Mapping[str, str] | None = None) -> list[Control]:
    values, errors = values or {}, errors or {}
    out = []
    for spec in kind.fields:
        if spec.choices_from == "consent_scopes":
            choices = [(s, d.scope_label(s)) for s in d.consent_scopes]
        else:
            choices = [(c, spec.choice_label(c)) for c in spec.choices]
        out.append(Control(
            name=spec.name, input=PREFIX + spec.name, form=kind.name, label=spec.title[:1].upper() + spec.title[1:],
            widget=_widget(spec), required=spec.required, help=_help(spec, choices), choices=choices,
            value=values.get(spec.name, ""), error=errors.get(spec.name)))
    return out


def submitted(kind: EvidenceKind, form: Mapping[str, Any]) -> tuple[dict[str, str | None], dict[str, str]]:
    """The record's fields from a submitted form: (what goes to the service, what the form shows
    again). Empty fields are left out (the domain decides what is missing); an unchecked box is
    absent, a checked one is "ja"."""
    fields: dict[str, str | None] = {}
    shown: dict[str, str] = {}
    for spec in kind.fields:
        raw = form.get(PREFIX + spec.name)
        text = raw.strip() if isinstance(raw, str) else ""
        shown[spec.name] = text
        fields[spec.name] = text or None
    return fields, shown


def param_controls(trigger: TriggerDef, fixed: Mapping[str, str]) -> list[Control]:
    """A step's parameters the person still chooses (those the option does not fix)."""
    out = []
    for name, p in trigger.params.items():
        if name in fixed:
            continue
        choices = [(c, p.choice_label(c)) for c in (p.choices or ())]
        out.append(Control(name=name, input=PARAM + name, form=f"stap-{trigger.name}",
                           label=p.title[:1].upper() + p.title[1:], widget="select" if choices else "text",
                           required=p.required, choices=choices))
    return out


def params_of(trigger: TriggerDef, form: Mapping[str, Any]) -> dict[str, str]:
    """A step's parameters from a form or query (only the trigger's own; empty ones left out)."""
    out = {}
    for name in trigger.params:
        value = form.get(PARAM + name)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    return out
