"""The dispatcher holds one message body at a time, and sends only rows it still holds.

A claim returns the rows' heads; each body is read just before its send, checked against the
claim token. Both matter at scale: a digest day has a dozen digests of up to 2.4 MB each, and a
batch of whole rows held them all at once. The tests run on SQLite and, when
PASSEND_TEST_POSTGRES_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notifiers import Message, Notifier
from tests.conftest import write_config
from workflow.adapters.store import outbox
from workflow.adapters.store.outbox import SqlOutbox
from workflow.bootstrap import bootstrap
from workflow.service_layer.reminders.dispatcher import dispatch_once
from workflow.service_layer.reminders.messages import message_id
from workflow.service_layer.reminders.settings import ReminderSettings

T0 = dt.datetime(2026, 10, 5, 6, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=300)


class Recorder(Notifier):
    """Keeps what the test checks (Message-ID, body lengths and first characters), never a body."""

    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, int, str]] = []
        self.traced_at_send: list[int] = []

    @classmethod
    def from_config(cls, options: dict[str, Any], base: Any) -> Notifier:
        return cls()

    def send(self, message: Message) -> None:
        self.traced_at_send.append(tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0)
        self.sent.append((message.message_id, len(message.text), len(message.html or ""), message.text[:8]))


def _rows(n: int, size: int = 40) -> list[dict[str, Any]]:
    """n due messages whose text and HTML are `size` characters each, distinct per row."""
    day = T0.date()
    return [
        {
            "key": f"digest:ib-{i:03d}:{day}", "kind": "digest", "case_id": None, "deadline": None,
            "school": "de-linde", "recipient": f"ib-{i:03d}", "to_addrs": "ib@de-linde.school.example",
            "send_on": day, "due_on": None, "subject": f"[passend] Overzicht {i}",
            "body_text": f"text{i:04d}" + "t" * (size - 8), "body_html": f"html{i:04d}" + "h" * (size - 8),
            "ics": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" if i % 2 else None,
            "message_id": message_id(f"bodies-{i}", "test.example"),
        }
        for i in range(n)
    ]


@pytest.fixture
def db(tmp_path: Path, db_url: str) -> Iterator[Any]:
    engine = bootstrap(write_config(tmp_path, db_url), create_key=True)
    engine.init()
    yield engine.db
    engine.db.dispose()


def test_a_claim_carries_heads_and_the_body_comes_only_with_the_token(db: Any) -> None:
    outbox.insert_new(db, _rows(3), T0)
    claim = outbox.claim(db, now=T0, batch=10, lease=LEASE)
    assert [r.attempts for r in claim.rows] == [1, 1, 1]
    for field in ("subject", "body_text", "body_html", "ics"):
        assert field not in claim.rows[0]._fields
    head = claim.rows[1]
    body = outbox.load_body(db, head.id, claim.token)
    assert body is not None and body.body_text.startswith("text0001") and body.ics
    assert body.subject == "[passend] Overzicht 1"
    assert outbox.load_body(db, head.id, "0" * 32) is None  # someone else's token
    assert outbox.mark_sent(db, head.id, claim.token, T0)
    assert outbox.load_body(db, head.id, claim.token) is None  # sent: nothing left to send


def test_dispatch_holds_one_body_at_a_time(db: Any) -> None:
    n, size = 8, 500_000  # one message: 1 MB of text and HTML; all eight: 8 MB
    outbox.insert_new(db, _rows(n, size), T0)
    notifier = Recorder()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = dispatch_once(SqlOutbox(db), notifier, ReminderSettings(batch_size=50), clock=lambda: T0)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert result.sent == n and result.lost_claim == 0
    assert sorted(s[3] for s in notifier.sent) == [f"text{i:04d}" for i in range(n)]
    assert all(s[1] == size and s[2] == size for s in notifier.sent)
    one = 2 * size
    # Whole rows in the claim made this at least n * one (8 MB); one body at a time about one.
    assert peak < 3 * one, f"dispatch peak {peak / 1e6:.1f} MB for messages of {one / 1e6:.1f} MB"
    during = max(notifier.traced_at_send) - base
    assert during < 2 * one, f"{during / 1e6:.1f} MB held while sending one {one / 1e6:.1f} MB message"


def test_a_row_taken_over_between_claim_and_body_is_not_sent_by_the_old_claimant(
    db: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    n = 5
    outbox.insert_new(db, _rows(n), T0)
    real_claim = outbox.claim
    taken: list[outbox.Claim] = []

    def claim_then_lose_it(db: Any, **kw: Any) -> outbox.Claim:
        mine = real_claim(db, **kw)
        if mine.rows and not taken:
            # Before this sender reads a single body, its lease is deemed over elsewhere (a
            # paused process, a clock ahead) and another sender claims the same rows.
            later = kw["now"] + kw["lease"] + dt.timedelta(seconds=1)
            taken.append(real_claim(db, now=later, batch=kw["batch"], lease=kw["lease"]))
            assert {r.id for r in taken[0].rows} == {r.id for r in mine.rows}
        return mine

    monkeypatch.setattr(outbox, "claim", claim_then_lose_it)
    old = Recorder()
    result = dispatch_once(SqlOutbox(db), old, ReminderSettings(), clock=lambda: T0)
    assert old.sent == []  # the old claimant sent nothing it no longer held
    assert result.sent == 0 and result.lost_claim == n and result.retrying == result.failed == 0
    assert outbox.counts(db) == {"sending": n}
    monkeypatch.setattr(outbox, "claim", real_claim)

    # The new claimant's lease runs out too (it died): a third sender sends each row, once.
    new = Recorder()
    after = T0 + 3 * LEASE
    result = dispatch_once(SqlOutbox(db), new, ReminderSettings(), clock=lambda: after)
    assert result.sent == n and result.lost_claim == 0
    assert sorted(s[3] for s in new.sent) == [f"text{i:04d}" for i in range(n)]
    assert outbox.counts(db) == {"sent": n}
    assert [r.attempts for r in outbox.rows(db)] == [3] * n  # three claims, as before this change


def test_a_row_marked_by_its_new_claimant_is_not_sent_again(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    outbox.insert_new(db, _rows(2), T0)
    real_claim = outbox.claim

    def claim_then_other_sends(db: Any, **kw: Any) -> outbox.Claim:
        mine = real_claim(db, **kw)
        if mine.rows:
            later = kw["now"] + kw["lease"] + dt.timedelta(seconds=1)
            other = real_claim(db, now=later, batch=kw["batch"], lease=kw["lease"])
            assert outbox.mark_sent(db, other.rows[0].id, other.token, later)  # the other sent the first
        return mine

    monkeypatch.setattr(outbox, "claim", claim_then_other_sends)
    notifier = Recorder()
    result = dispatch_once(SqlOutbox(db), notifier, ReminderSettings(), clock=lambda: T0)
    assert notifier.sent == [] and result.lost_claim == 2 and result.sent == 0
    assert outbox.counts(db) == {"sent": 1, "sending": 1}


def test_a_send_that_fails_after_its_claim_was_taken_over_is_a_lost_claim(db: Any) -> None:
    """The failure is not this sender's to record: the row stays with its new claimant, and the
    tick reports a lost claim, not a retry."""
    from notifiers import NotifierError

    outbox.insert_new(db, _rows(1), T0)

    class TakenOverThenFails(Recorder):
        def send(self, message: Message) -> None:
            later = T0 + LEASE + dt.timedelta(seconds=1)  # meanwhile another sender claims it
            self.other = outbox.claim(db, now=later, batch=10, lease=LEASE)
            assert len(self.other.rows) == 1
            raise NotifierError("454 try again later")

    notifier = TakenOverThenFails()
    result = dispatch_once(SqlOutbox(db), notifier, ReminderSettings(), clock=lambda: T0)
    assert result.lost_claim == 1 and result.retrying == result.failed == result.sent == 0
    assert outbox.counts(db) == {"sending": 1}  # still the new claimant's
    assert outbox.load_body(db, notifier.other.rows[0].id, notifier.other.token) is not None
