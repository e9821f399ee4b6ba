"""The peer engine: the `eventsourcing` library (9.x) holding the same cases on SQLite.

A case is an aggregate whose events carry passend's own payloads, so the peer stores and decodes
the same data. Its command is the library's idiom: `repository.get` (replaying the aggregate from
its stored events, no snapshots, no cache, like passend), a state check, one new event,
`save` (one durable transaction with optimistic concurrency on the aggregate version). Its SQLite
module puts the file in WAL mode and leaves synchronous at SQLite's default, FULL (reported).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("7a1c7c5e-5a55-4e4d-9a57-70a55e4d0000")


def peer_id(case_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, case_id)


class SupportCase(Aggregate):
    """passend's case as an eventsourcing aggregate; payloads are passend's, unchanged."""

    @staticmethod
    def create_id(case_id: str, **_: Any) -> uuid.UUID:  # type: ignore[override]
        return peer_id(case_id)

    @event("Opened")
    def __init__(self, case_id: str, payload: dict[str, Any]) -> None:
        self.case_id = case_id
        self.state: str = payload["state"]
        self.evidence: list[dict[str, Any]] = []

    @event("EvidenceRecorded")
    def record(self, payload: dict[str, Any]) -> None:
        self.evidence.append(payload)

    @event("Transitioned")
    def transition(self, payload: dict[str, Any]) -> None:
        if payload["source"] != self.state:
            raise ValueError(f"{self.case_id}: leaves {payload['source']} but is in {self.state}")
        self.state = payload["dest"]


class Cases(Application[uuid.UUID]):
    name = "passend_peer"


def open_peer(path: Path | None = None, *, postgres: dict[str, str] | None = None) -> Cases:
    """The peer on a SQLite file, or on PostgreSQL (`postgres`: the library's POSTGRES_* settings)."""
    os.environ.pop("PERSISTENCE_MODULE", None)
    if postgres is not None:
        return Cases(env={"PERSISTENCE_MODULE": "eventsourcing.postgres", **postgres})
    return Cases(env={
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "SQLITE_LOCK_TIMEOUT": "15",
    })


def peer_synchronous(app: Cases) -> int:
    """SQLite's `synchronous` setting on one of the peer's own connections (2 = FULL)."""
    datastore: Any = app.recorder.datastore  # type: ignore[attr-defined]
    with datastore.transaction(commit=False) as cur:
        cur.execute("PRAGMA synchronous")
        return int(cur.fetchone()[0])


History = tuple[str, Sequence[tuple[str, dict[str, Any]]]]


def mirror(app: Cases, histories: Iterable[History], *, batch: int = 500) -> int:
    """Store each (case id, [(event type, payload), ...]) as a peer aggregate; returns events."""
    pending: list[SupportCase] = []
    n = 0
    for case_id, history in histories:
        (first_type, first), *rest = history
        assert first_type == "case_opened"
        agg = SupportCase(case_id=case_id, payload=first)
        for etype, payload in rest:
            if etype == "transitioned":
                agg.transition(payload=payload)
            else:
                agg.record(payload=payload)
        n += 1 + len(rest)
        pending.append(agg)
        if len(pending) >= batch:
            app.save(*pending)
            pending.clear()
    if pending:
        app.save(*pending)
    return n


def fire(app: Cases, case_id: str, payload: dict[str, Any]) -> None:
    """The peer's durable command: load (replay), check, append one event, save."""
    agg: SupportCase = app.repository.get(peer_id(case_id))
    if agg.state != payload["source"]:
        raise RuntimeError(f"peer case {case_id} is in {agg.state}, not {payload['source']}")
    agg.transition(payload=payload)
    app.save(agg)
