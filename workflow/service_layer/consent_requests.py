"""The IB asks the parents online for their consent on a scope; the parents answer in their portal.

An ask is a `consent_requested` event in the case's chain (docs/event-chain.md), written by a
user who may record `consent` evidence on the case (the IB): the scope, the day, the case's
level and state, the request's text sealed with the case's key, and the SHA-256 of that text's
UTF-8 bytes exactly as the parent sees it (`text_hash`). A new ask for a scope whose request is
still open replaces it: the old one can no longer be answered.

Which scopes: the definition's consent scopes, except the OPP's (the handelingsdeel has its own
flow, bound to the OPP version: workflow.service_layer.parent_portal.decide) and the sharing
scopes (a grant for those records recipient, legal basis and purpose: the IB records it).

The parent's answer is a `consent` record as the portal writes the OPP's (parent_portal.answer),
with `request` and `request_hash`, so it counts in the guards exactly as the IB's record does.
"""

from __future__ import annotations

import hashlib
from typing import Any

import workflow.messages as messages
from workflow.adapters.crypto import CaseCipher
from workflow.adapters.logs import get_logger
from workflow.domain.case import Case, ConsentRequest
from workflow.domain.definition import ProcessDefinition
from workflow.domain.errors import BadInput
from workflow.domain.evidence import TEXT_LIMIT
from workflow.domain.instants import local_date
from workflow.domain.reasons import Reason
from workflow.service_layer.context import ServiceContext, bind_log
from workflow.service_layer.refusals import refused

log = get_logger("passend.parents")
# A request's state as the IB's page and the parent's read it: svc.consent_request.status.<status>.
STATUSES = ("open", "granted", "refused", "revoked", "replaced")


def askable(d: ProcessDefinition) -> tuple[str, ...]:
    """The scopes the parents may be asked online: not the OPP's, not a sharing scope."""
    opp_scope = d.opp.consent_scope if d.opp is not None else None
    return tuple(s for s in d.consent_scopes if s != opp_scope and s not in d.sharing_scopes)


def may_ask(d: ProcessDefinition, role: str) -> bool:
    return role in d.evidence_roles.get("consent", frozenset()) and bool(askable(d))


def text_hash(text: str) -> str:
    """The SHA-256 (hex) of the request's text, its UTF-8 bytes exactly as the parent sees them."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_text(d: ProcessDefinition, scope: str) -> str:
    """The plain-Dutch request the form starts with; the IB edits it."""
    return messages.text("svc.consent_request.default_text", scope=d.scope_label(scope))


def defaults(d: ProcessDefinition) -> dict[str, str]:
    return {s: default_text(d, s) for s in askable(d)}


def status_label(status: str) -> str:
    return messages.text(f"svc.consent_request.status.{status if status in STATUSES else 'open'}")


def ask(ctx: ServiceContext, case_id: str, *, actor: str, scope: str, text: str,
        expected_version: int | None = None) -> dict[str, Any]:
    """Ask the parents for their consent on `scope` with `text` (the words they will read)."""
    bind_log(actor=actor, case_id=case_id, command="consent.ask")
    now = ctx.clock()
    with ctx.uow() as uow:
        user, case = ctx.acting_and_case(uow, actor, case_id)
        d = ctx.definition_of(case)
        if user.role not in d.evidence_roles.get("consent", frozenset()):
            raise refused(messages.text("svc.refused"),
                          [Reason("role_may_not_record", {"role": user.role, "kind": "consent"})], d)
        if case.closed:
            raise refused(messages.text("svc.refused"), [Reason("case_closed")], d)
        ctx.expect(case, expected_version)
        scopes = askable(d)
        if not isinstance(scope, str) or scope not in scopes:
            raise BadInput(messages.text("svc.consent_request.unknown_scope",
                                         scopes=", ".join(d.scope_label(s) for s in scopes)),
                           fields={"scope": messages.text("svc.consent_request.unknown_scope.field")})
        # Line ends as LF (a browser sends CRLF): the text hashed is the text shown and copied.
        words = text.replace("\r\n", "\n").replace("\r", "\n").strip() if isinstance(text, str) else ""
        if not words:
            raise BadInput(messages.text("svc.consent_request.no_text"),
                           fields={"text": messages.text("svc.consent_request.no_text.field")})
        if len(words) > TEXT_LIMIT:
            raise BadInput(messages.text("svc.consent_request.too_long", limit=TEXT_LIMIT),
                           fields={"text": messages.text("svc.consent_request.too_long", limit=TEXT_LIMIT)})
        cipher = ctx.cipher(uow, case_id)
        payload = {"scope": scope, "date": local_date(now).isoformat(), "level": case.level, "state": case.state,
                   "text_hash": text_hash(words), "secret": cipher.seal_all({"text": words})}
        ev = case.next_event(type="consent_requested", payload=payload, actor=user.id, role=user.role,
                             recorded_at=now, process=d)
        expected = case.version
        case.apply(ev)
        uow.store.append(case, [ev], expected_version=expected, now=now)
        uow.commit()
    log.info("consent.requested", seq=ev.seq, scope=scope)
    return {"case_id": case_id, "seq": ev.seq, "scope": scope, "version": case.version}


def listed(case: Case, d: ProcessDefinition, cipher: CaseCipher | None = None) -> list[dict[str, Any]]:
    """The case's requests, newest first, with their state in words (and their text, given the
    cipher: for the parent's page, which shows exactly the words that were hashed)."""
    out = []
    for r in sorted(case.requests.values(), key=lambda r: r.seq, reverse=True):
        item = _item(r, d)
        if cipher is not None:
            item["text"] = _text(case, r, cipher)
        out.append(item)
    return out


def _item(r: ConsentRequest, d: ProcessDefinition) -> dict[str, Any]:
    return {"seq": r.seq, "scope": r.scope, "scope_label": d.scope_label(r.scope), "hash": r.text_hash,
            "date": r.date, "status": r.status, "status_label": status_label(r.status),
            "answered_on": r.answered_on, "open": r.status == "open", "answerable": r.answerable}


def _text(case: Case, r: ConsentRequest, cipher: CaseCipher) -> str:
    ev = case.events[r.seq - 1]
    return cipher.open("text", (ev.payload.get("secret") or {}).get("text"))
