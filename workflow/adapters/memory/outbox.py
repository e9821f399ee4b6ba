"""The fake's outbox: every method one atomic step under the store's lock, like a transaction."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from workflow.adapters.host import this_host
from workflow.adapters.memory.database import MemoryDatabase
from workflow.adapters.ports import FAILED, PENDING, SENDING, SENT, Claim, Holder, OutboxBody, OutboxHead, PlannedRow
from workflow.domain.errors import BadInput, Said

if TYPE_CHECKING:
    from workflow.adapters.readmodels import OutboxMessage

CLEAR_LIMIT = 1000


class MemoryOutbox:
    """The outbox; every method is one atomic step under the store's lock, like a transaction."""

    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    def _rows(self) -> list[dict[str, Any]]:
        return [self._db.outbox[i] for i in sorted(self._db.outbox)]

    def insert_new(self, rows: Iterable[dict[str, Any]], now: dt.datetime) -> int:
        n = 0
        with self._db.lock:
            for r in rows:
                if r["key"] in self._db.outbox_keys:
                    continue
                rid = max(self._db.outbox, default=0) + 1
                self._db.outbox[rid] = {
                    "id": rid, "case_id": None, "deadline": None, "school": None, "due_on": None,
                    "body_html": None, "ics": None, "sender": None, **r, "status": PENDING, "attempts": 0,
                    "next_attempt_at": now, "claim_token": None, "claimed_until": None, "last_error": None,
                    "created_at": now, "sent_at": None, "claim_host": None, "claim_pid": None,
                    "retried_by": None, "retried_at": None,
                }
                self._db.outbox_keys[r["key"]] = rid
                n += 1
        return n

    def existing_keys(self, keys: Sequence[str]) -> dict[str, str]:
        with self._db.lock:
            return {k: self._db.outbox[self._db.outbox_keys[k]]["status"] for k in keys if k in self._db.outbox_keys}

    def open_window_rows(self, today: dt.date) -> list[PlannedRow]:
        with self._db.lock:
            rows = [r for r in self._rows() if r["case_id"] in self._db.cases
                    and self._db.cases[r["case_id"]]["closed_at"] is None
                    and (r["kind"] == "escalation" or (r["kind"] == "reminder" and r["due_on"] is not None
                                                       and r["due_on"] >= today))]
            return [PlannedRow(r["case_id"], r["kind"], r["key"], r["school"], r["send_on"], r["due_on"])
                    for r in sorted(rows, key=lambda r: (r["case_id"], r["id"]))]

    def claim(self, *, now: dt.datetime, batch: int, lease: dt.timedelta,
              cutoff: dt.datetime | None = None, holder: Holder | None = None) -> Claim:
        host, pid = holder or (this_host(), os.getpid())
        token, until = secrets.token_hex(16), now + lease
        heads = []
        with self._db.lock:
            due = [r for r in self._rows()
                   if (r["status"] == PENDING and r["next_attempt_at"] <= (cutoff or now))
                   or (r["status"] == SENDING and r["claimed_until"] < now)][:batch]
            for r in due:
                r.update(status=SENDING, claim_token=token, claimed_until=until, attempts=r["attempts"] + 1,
                         claim_host=host, claim_pid=pid)
                heads.append(OutboxHead(*(r[f] for f in OutboxHead._fields)))
        return Claim(token, heads, until)

    def _held(self, row_id: int, token: str) -> dict[str, Any] | None:
        r = self._db.outbox.get(row_id)
        return r if r is not None and r["claim_token"] == token and r["status"] == SENDING else None

    def load_body(self, row_id: int, token: str) -> OutboxBody | None:
        with self._db.lock:
            r = self._held(row_id, token)
            return None if r is None else OutboxBody(*(r[f] for f in OutboxBody._fields))

    def renew(self, row_id: int, token: str, until: dt.datetime) -> bool:
        with self._db.lock:
            r = self._held(row_id, token)
            if r is not None:
                r["claimed_until"] = until
            return r is not None

    def renew_all(self, token: str, until: dt.datetime) -> int:
        with self._db.lock:
            held = [r for r in self._db.outbox.values() if r["claim_token"] == token and r["status"] == SENDING]
            for r in held:
                r["claimed_until"] = until
            return len(held)

    def release(self, token: str) -> int:
        with self._db.lock:
            held = [r for r in self._db.outbox.values() if r["claim_token"] == token and r["status"] == SENDING]
            for r in held:
                r.update(status=PENDING, claim_token=None, claimed_until=None, attempts=r["attempts"] - 1)
            return len(held)

    def release_orphans(self, host: str, alive: Callable[[int], bool]) -> int:
        with self._db.lock:
            gone = [r for r in self._db.outbox.values() if r["status"] == SENDING and r["claim_host"] == host
                    and r["claim_pid"] is not None and not alive(r["claim_pid"])]
            for r in gone:
                r.update(status=PENDING, claim_token=None, claimed_until=None, claim_host=None, claim_pid=None)
            return len(gone)

    def mark_sent(self, row_id: int, token: str, now: dt.datetime) -> bool:
        with self._db.lock:
            r = self._db.outbox.get(row_id)
            if r is None or r["claim_token"] != token:
                return False
            r.update(status=SENT, sent_at=now, claim_token=None, claimed_until=None, last_error=None)
            return True

    def mark_failed(self, row_id: int, token: str, *, error: str, retry_at: dt.datetime | None) -> bool:
        with self._db.lock:
            r = self._db.outbox.get(row_id)
            if r is None or r["claim_token"] != token:
                return False
            r.update(status=FAILED if retry_at is None else PENDING,
                     next_attempt_at=retry_at if retry_at is not None else r["next_attempt_at"],
                     claim_token=None, claimed_until=None, last_error=error[:300])
            return True

    def retry_failed(self, now: dt.datetime, ids: Sequence[int] | None = None, *, actor: str | None = None) -> int:
        with self._db.lock:
            failed = [r for r in self._rows() if r["status"] == FAILED]
            if ids:
                wanted = sorted(set(ids))
                found = {r["id"] for r in failed}
                missing = [i for i in wanted if i not in found]
                if missing:
                    raise BadInput(Said("store.outbox.not_failed", numbers=", ".join(f"#{i}" for i in missing)))
                failed = [r for r in failed if r["id"] in set(wanted)]
            for r in failed:
                r.update(status=PENDING, attempts=0, next_attempt_at=now, last_error=None, retried_by=actor,
                         retried_at=now)
            return len(failed)

    def clear_sent_bodies(self, *, before: dt.datetime, limit: int = CLEAR_LIMIT) -> int:
        with self._db.lock:
            kept = [r for r in self._db.outbox.values()
                    if r["sent_at"] is not None and r["body_text"] != "" and r["sent_at"] < before]
            kept.sort(key=lambda r: r["sent_at"])
            n = 0
            for r in kept[:limit]:
                if r["status"] == SENT:
                    r.update(subject="", body_text="", body_html=None, ics=None)
                    n += 1
            return n

    def rows(self, *, status: str | None = None, limit: int = 200) -> list[OutboxMessage]:
        from workflow.adapters.readmodels import OutboxMessage

        with self._db.lock:
            rows = [r for r in reversed(self._rows()) if status is None or r["status"] == status][:limit]
            return [OutboxMessage(**{k: r[k] for k in OutboxMessage.model_fields}) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._db.lock:
            out: dict[str, int] = {}
            for r in self._db.outbox.values():
                out[r["status"]] = out.get(r["status"], 0) + 1
            return out
