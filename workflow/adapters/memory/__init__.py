"""The in-memory fake of every storage port: the same contract as the SQL store, in a dict.

For the service layer's unit tests (no database, milliseconds a test) and for trying passend out
(`memory://` as the database URL: nothing survives the process). It is a fake, not a mock: it
keeps what the services write and answers the same questions the SQL store answers, with the same
refusals: a stale expected version or a second open case for a pupil is a Conflict, an outbox key
is never stored twice, a claim holds its rows under a token until its lease runs out, and the
access log is sealed into the same hash chain (tests/test_port_contracts.py runs the same
assertions against this fake, SQLite and PostgreSQL).

Events are kept in their stored form (the time as the stored text, the payload as its JSON
text), so loading a case, `audit verify`, `replay` and `export` read exactly what they read from
a database. A unit of work holds the store's lock from start to end (one writer, as on SQLite)
and keeps an undo journal: leaving it without `commit()` puts everything back.
"""

from __future__ import annotations

from workflow.adapters.memory.database import MemoryDatabase
from workflow.adapters.memory.store import MemoryStore, MemoryUnitOfWork

__all__ = ["MemoryDatabase", "MemoryStore", "MemoryUnitOfWork"]
