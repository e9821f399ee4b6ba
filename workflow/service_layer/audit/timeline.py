"""The timeline: a case's chronology for a human (auditor, parents): who did what, when, and why
it was allowed. Rendered as text, JSON, or one self-contained, printable HTML file.

Personal data is decrypted for the reader, so reading a timeline is logged as an access record.
After erasure the same timeline shows the structure with `[gewist]` in place of every secret.
The HTML template is autoescaped: notes are text typed by people and may hold anything.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from workflow.adapters.crypto import CaseCipher
from workflow.domain.errors import BadInput, PassendError
from workflow.domain.events import Event
from workflow.domain.evidence import BUILTIN_KINDS
from workflow.domain.instants import SCHOOL_TZ, as_utc
from workflow.messages import text
from workflow.service_layer.access import access_ready, clean_behalf, clean_purpose, record_access
from workflow.service_layer.context import ServiceContext

if TYPE_CHECKING:
    from workflow.domain.definition import ProcessDefinition

FORMATS = ("text", "json", "html")


def _local(at: dt.datetime) -> str:
    return as_utc(at).astimezone(SCHOOL_TZ).strftime("%Y-%m-%d %H:%M")


def _definition(engine: ServiceContext, ev: Event) -> ProcessDefinition | None:
    """The definition the event was written under; None when this installation cannot load it
    (the timeline then shows the ids themselves)."""
    try:
        return engine.registry.get(ev.process_id, ev.process_version)
    except PassendError:
        return None


def _kind_label(engine: ServiceContext, ev: Event, kind: str) -> str:
    d = _definition(engine, ev)
    kinds = d.evidence_kinds if d is not None else BUILTIN_KINDS
    return kinds[kind].label if kind in kinds else kind


def _scope_label(engine: ServiceContext, ev: Event, scope: str) -> str:
    d = _definition(engine, ev)
    return d.scope_label(scope) if d is not None else scope


def _labels(engine: ServiceContext, ev: Event) -> tuple[dict[str, str], dict[str, str]]:
    d = _definition(engine, ev)
    if d is None:
        return {}, {}
    return ({k: s.label for k, s in d.states.items()}, {k: t.label for k, t in d.triggers.items()})


def build(engine: ServiceContext, events: list[Event], cipher: CaseCipher) -> dict[str, Any]:
    """The timeline as data: one entry per event, secrets opened with `cipher`."""
    entries: list[dict[str, Any]] = []
    state: str | None = None
    first = events[0].payload if events else {}
    for ev in events:
        p = ev.payload
        states, triggers = _labels(engine, ev)
        before = state
        fields: dict[str, Any] = {}
        guards: list[str] = []
        if ev.type == "case_opened":
            state = p.get("state")
            what = text("svc.audit.timeline.opened_group", school=p.get("school"), group=p["group"]) \
                if p.get("group") is not None else text("svc.audit.timeline.opened", school=p.get("school"))
            fields = {"leerling": cipher.open("pupil", p.get("pupil"))}
            if "name" in p:
                fields["naam"] = cipher.open("name", p["name"])
        elif ev.type == "evidence_recorded":
            kind = str(p.get("kind"))
            what = text("svc.audit.timeline.recorded", what=_kind_label(engine, ev, kind).capitalize(),
                        date=p.get("date"))
            fields = {**p.get("fields", {}), **cipher.open_all(p.get("secret", {}))}
        elif ev.type == "transitioned":
            state = p.get("dest")
            trig = str(p.get("trigger"))
            what = f"{triggers.get(trig, trig)} ({trig})"
            params = p.get("params") or {}
            if params:
                what += ": " + ", ".join(f"{k}={v}" for k, v in params.items())
            if p.get("close_reason"):
                fields["reden sluiten"] = p["close_reason"]
            guards = [str(g) for g in p.get("guards", [])]
        elif ev.type == "case_erased":
            what = text("svc.audit.timeline.erased")
            fields = {"reden": p.get("reason"), "bewaartermijn (jaar)": p.get("retention_years")}
        elif ev.type == "opp_drafted":
            what = text("svc.audit.timeline.opp_drafted", version=p.get("version"), date=p.get("date"))
            fields = {"uitstroombestemming": p.get("uitstroombestemming"),
                      **cipher.open_all({f"opp.{k}": v for k, v in (p.get("texts") or {}).items()}),
                      **cipher.open_all({f"opp.{k}": v for k, v in (p.get("handelingsdeel") or {}).items()}),
                      **{f"doel {i} ({g.get('area')})": cipher.open(f"opp.goals.{i}", g.get("text"))
                         for i, g in enumerate(p.get("goals") or [], 1)},
                      "evaluatiemomenten": ", ".join(p.get("evaluation_moments") or []) or None,
                      "hash": p.get("hash"), "hash handelingsdeel": p.get("handelingsdeel_hash")}
        elif ev.type == "opp_evaluated":
            what = text("svc.audit.timeline.opp_evaluated", version=p.get("version"), date=p.get("date"),
                        outcome=p.get("outcome"))
            fields = {"met ouders": p.get("with_parents"),
                      **{f"doel {g.get('goal')}": g.get("reached") for g in p.get("goals") or []},
                      **cipher.open_all(p.get("secret") or {})}
        elif ev.type == "rod_registered":
            what = text("svc.audit.timeline.rod_start" if p.get("which") == "start" else "svc.audit.timeline.rod_end",
                        date=p.get("opp_date"), day=p.get("registered_on"))
        elif ev.type == "imported":
            state = p.get("state")
            what = text("svc.audit.timeline.imported", state=states.get(str(state), state), since=p.get("level_since"))
            fields = {"reden": p.get("reason"), "OPP vastgesteld op": p.get("opp_adopted_on")}
        elif ev.type == "consent_requested":
            scope = str(p.get("scope"))
            what = text("svc.audit.timeline.consent_requested", scope=_scope_label(engine, ev, scope))
            fields = {"toestemming voor": scope, **cipher.open_all(p.get("secret") or {}),
                      "hash van de tekst": p.get("text_hash")}
        elif ev.type == "migrated":
            state = p.get("dest")
            what = text("svc.audit.timeline.migrated", version=p.get("to_version"), was=p.get("from_version"))
        else:
            what = ev.type
        entries.append({
            "seq": ev.seq, "at": _local(ev.recorded_at), "at_utc": as_utc(ev.recorded_at).isoformat(),
            "actor": ev.actor, "role": ev.role, "type": ev.type, "what": what,
            "state_before": before, "state_after": state,
            "state_before_label": states.get(before or "", before),
            "state_after_label": states.get(state or "", state),
            "guards": guards, "fields": {k: v for k, v in fields.items() if v is not None},
            "process": f"{ev.process_id}@{ev.process_version}", "hash": ev.hash,
        })
    return {
        "case_id": events[0].case_id if events else None,
        "school": first.get("school"),
        "erased": cipher.erased,
        "events": len(events),
        "head_hash": events[-1].hash if events else None,
        "entries": entries,
    }


def timeline(
    engine: ServiceContext, case_id: str, *, actor: str, purpose: str | None = None,
    on_behalf_of: str | None = None,
) -> dict[str, Any]:
    """Read the case (role and school checked), log the access, return the timeline data."""
    clean_purpose(purpose, "audit.timeline")
    clean_behalf(on_behalf_of)
    user = engine.user(actor)
    access_ready(engine)
    with engine.uow(write=False) as uow:
        case = engine.load(uow, case_id, user)
        cipher = engine.cipher(uow, case_id)
        events = list(case.events)
    record_access(engine, actor=actor, action="audit.timeline", cases=[(case_id, case.school)],
                  purpose=purpose, on_behalf_of=on_behalf_of)
    data = build(engine, events, cipher)
    data["generated_at"] = _local(engine.clock())
    data["generated_for"] = actor
    return data


def render(data: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if fmt == "html":
        return render_html(data)
    if fmt != "text":
        raise BadInput(text("svc.format.choose", choices=", ".join(FORMATS)))
    title = "svc.audit.timeline.title.one" if data["events"] == 1 else "svc.audit.timeline.title"
    lines = [text(title, case=data["case_id"], school=data["school"], events=data["events"])
             + ("  " + text("svc.audit.timeline.title_erased") if data["erased"] else "")]
    for e in data["entries"]:
        lines.append(f"#{e['seq']:<3} {e['at']}  {e['actor']} ({e['role']})  {e['what']}")
        if e["state_before"] != e["state_after"] or e["type"] == "transitioned":
            lines.append("      " + text("svc.audit.timeline.state", before=e["state_before"] or "-",
                                             after=e["state_after"]))
        for k, v in e["fields"].items():
            lines.append(f"      {k}: {_one_line(v)}")
        for g in e["guards"]:
            lines.append("      " + text("svc.audit.timeline.guard", guard=g))
    return "\n".join(lines)


def _one_line(value: Any) -> str:
    return " ".join(str(value).split()) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@lru_cache(maxsize=1)
def _env() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    from workflow.messages.markup import page_text

    env = Environment(loader=PackageLoader("workflow.service_layer.audit", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["t"] = page_text
    return env


def render_html(data: dict[str, Any]) -> str:
    """One self-contained page; its words from the catalog (`t`: messages.markup.page_text, as the
    web pages'), the timeline's data as `tl`."""
    return str(_env().get_template("timeline.html.j2").render(tl=data))
