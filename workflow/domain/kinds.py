"""Evidence kinds declared in a process definition's TOML, beside the built-in ones.

A school or SWV that records something the built-in kinds do not cover (a home visit, a
medical advice) declares it in its definition, in one table, and the CLI, validation, the
guards, the log redaction and the refusals pick it up::

    [evidence.huisbezoek]
    roles = ["ib"]
    label = "huisbezoek"
    help = "Een bezoek aan het gezin thuis."
    exactly_one_of = [["verslag", "reden_niet"]]        # optional: one of these, not both
    [evidence.huisbezoek.fields.met_wie]
    type = "choice"                                       # text | choice | date | bool | int
    label = "met wie"
    required = true
    choices = { ouders = "huisbezoek bij de ouders", voogd = "huisbezoek bij de voogd" }
    names = true                                          # a filter on it names the record
    [evidence.huisbezoek.fields.verslag]
    type = "text"
    label = "verslag"
    secret = true                                         # encrypted, never logged

Every kind gets a `date` field first (default today). Cross-field rules beyond
`exactly_one_of` and derived fields need code: those are the built-in kinds' (evidence.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from workflow.domain.errors import DefinitionError, Said
from workflow.domain.evidence import FIELD_TYPES, EvidenceKind, FieldSpec

Fail = Callable[[str, str | Said], DefinitionError]
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
KIND_KEYS = {"roles", "label", "help", "fields", "exactly_one_of"}
FIELD_KEYS = {"type", "label", "help", "required", "secret", "choices", "phrase", "names", "yes", "no"}


def _text(value: Any, key: str, fail: Fail, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise fail(key, Said("def.must_be_text"))
    return value


def _flag(value: Any, key: str, fail: Fail) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise fail(key, Said("def.must_be_bool"))
    return value


def parse_field(name: str, raw: Any, key: str, fail: Fail) -> FieldSpec:
    if not NAME.match(name) or name == "date":
        raise fail(key, Said("def.kind.field_name"))
    if not isinstance(raw, dict):
        raise fail(key, Said("def.must_be_table"))
    for k in raw:
        if k not in FIELD_KEYS:
            raise fail(f"{key}.{k}", Said("def.unknown_key", allowed=", ".join(sorted(FIELD_KEYS))))
    type_ = raw.get("type", "text")
    if type_ not in FIELD_TYPES:
        raise fail(key + ".type", Said("def.kind.field_type", types=", ".join(FIELD_TYPES)))
    secret = _flag(raw.get("secret"), key + ".secret", fail)
    if secret and type_ != "text":
        raise fail(key + ".secret", Said("def.kind.secret_text_only"))
    choices_raw = raw.get("choices")
    labels: dict[str, str] = {}
    if type_ == "choice":
        if isinstance(choices_raw, list) and choices_raw and all(isinstance(c, str) and c for c in choices_raw):
            labels = {c: c.replace("_", " ") for c in choices_raw}
        elif isinstance(choices_raw, dict) and choices_raw and all(
                isinstance(v, str) and v for v in choices_raw.values()):
            labels = dict(choices_raw)
        else:
            raise fail(key + ".choices", Said("def.kind.choices_needed"))
    elif choices_raw is not None:
        raise fail(key + ".choices", Said("def.kind.choices_only_choice"))
    phrase = _text(raw.get("phrase"), key + ".phrase", fail)
    if phrase and "{value}" not in phrase:
        raise fail(key + ".phrase", Said("def.kind.phrase_value", marker="{value}"))
    return FieldSpec(
        name=name, type=type_, required=_flag(raw.get("required"), key + ".required", fail), secret=secret,
        choices=tuple(labels), help=_text(raw.get("help"), key + ".help", fail),
        label=_text(raw.get("label"), key + ".label", fail, name.replace("_", " ")),
        choice_labels=tuple(labels.items()), phrase=phrase,
        names=_flag(raw.get("names"), key + ".names", fail),
        yes=_text(raw.get("yes"), key + ".yes", fail), no=_text(raw.get("no"), key + ".no", fail),
    )


def parse_kind(name: str, spec: Mapping[str, Any], key: str, fail: Fail) -> EvidenceKind:
    """One evidence kind declared in the definition (its `roles` are read by the caller)."""
    if not NAME.match(name):
        raise fail(key, Said("def.kind.name"))
    for k in spec:
        if k not in KIND_KEYS:
            raise fail(f"{key}.{k}", Said("def.unknown_key", allowed=", ".join(sorted(KIND_KEYS))))
    label = _text(spec.get("label"), key + ".label", fail, name.replace("_", " "))
    fields_raw = spec.get("fields")
    if not isinstance(fields_raw, dict) or not fields_raw:
        raise fail(key + ".fields", Said("def.kind.fields_needed"))
    fields = [FieldSpec("date", "date", help="datum (standaard vandaag)", label="datum")]
    fields += [parse_field(n, f, f"{key}.fields.{n}", fail) for n, f in fields_raw.items()]
    names = {f.name for f in fields}
    groups_raw = spec.get("exactly_one_of", [])
    if not isinstance(groups_raw, list) or not all(isinstance(g, list) and len(g) >= 2 for g in groups_raw):
        raise fail(key + ".exactly_one_of", Said("def.kind.exactly_one_of"))
    for g in groups_raw:
        for n in g:
            if n not in names:
                raise fail(key + ".exactly_one_of", Said("def.kind.unknown_field", field=n))
    return EvidenceKind(
        name=name, label=label, help=_text(spec.get("help"), key + ".help", fail, label),
        fields=tuple(fields), exactly_one_of=tuple(tuple(g) for g in groups_raw), builtin=False,
    )
