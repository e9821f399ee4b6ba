"""Dispatch: claim due outbox rows, send each through the notifier, mark it sent.

Rows are marked one by one straight after their send, so a crash loses at most the mark of
one message, which is then resent (same Message-ID) when its lease runs out. A failed send
goes back to `pending` with exponential backoff, and after `max_attempts` to `failed`, where it
waits for `passend reminders retry`. One run never retries a row it already tried.

Not every failure is the message's. When the channel is down (no connection, a connection lost
before any recipient was refused, a 421, a refused login, a full disk for the file notifier),
the message was not tried: it and every other row of the claim go back to `pending` without an
attempt counted, and the run stops, so an outage of any length fails nothing. When the server
refuses a message for good (a 5xx answer) it fails at once, with the server's answer in
`last_error` (`passend reminders list --failed`), instead of being tried `max_attempts` times.

A claim carries the rows' heads only; each message's body is read just before its send and
dropped when `_send_one` returns, so one run holds one message in memory, not a batch of
digests. A row whose claim was taken over before its body was read is not sent by this run, and
counts as `lost_claim`, like one whose lease could not be renewed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass

from notifiers import Attachment, Message, Notifier, NotifierError
from workflow.adapters.clock import utcnow
from workflow.adapters.logs import get_logger
from workflow.adapters.ports import Outbox, OutboxBody, OutboxHead
from workflow.service_layer.reminders.settings import ReminderSettings

log = get_logger("passend.reminders")


@dataclass
class DispatchResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    lost_claim: int = 0
    deferred: int = 0  # not tried because the channel was down; no attempt counted

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def row_message(row: OutboxHead, body: OutboxBody) -> Message:
    """The mail for a claimed row's head (`Claim.rows`) and its body (`Outbox.load_body`)."""
    attachments: tuple[Attachment, ...] = ()
    if body.ics:
        attachments = (Attachment("termijn.ics", "text/calendar", body.ics, (("method", "PUBLISH"),)),)
    return Message(
        to=tuple(a.strip() for a in row.to_addrs.split(",") if a.strip()),
        subject=body.subject, text=body.body_text, html=body.body_html, message_id=row.message_id,
        attachments=attachments, date=row.created_at, sender=row.sender,
    )


def dispatch_once(
    outbox: Outbox, notifier: Notifier, settings: ReminderSettings,
    clock: Callable[[], dt.datetime] = utcnow,
) -> DispatchResult:
    """Send everything that is due now; returns the counts. Safe to run in several processes."""
    result = DispatchResult()
    lease = dt.timedelta(seconds=settings.lease_seconds)
    cutoff = clock()
    try:
        while True:
            claim = outbox.claim(now=clock(), cutoff=cutoff, batch=settings.batch_size, lease=lease)
            if not claim.rows:
                break
            until = claim.until
            for row in claim.rows:
                now = clock()
                if now >= until:  # our lease may have run out: only send what is still ours
                    if not outbox.renew(row.id, claim.token, now + lease):
                        result.lost_claim += 1
                        continue
                    until = now + lease
                elif until - now < lease / 3:
                    outbox.renew_all(claim.token, now + lease)
                    until = now + lease
                if not _send_one(outbox, notifier, settings, row, claim.token, result, clock):
                    result.deferred += outbox.release(claim.token)
                    log.warning("reminders.channel_down", deferred=result.deferred, notifier=notifier.name)
                    return result
    finally:
        notifier.close()
    return result


def _send_one(outbox: Outbox, notifier: Notifier, settings: ReminderSettings, row: OutboxHead, token: str,
              result: DispatchResult, clock: Callable[[], dt.datetime]) -> bool:
    """Send one claimed row and record the outcome; False when the channel is down altogether.

    The body lives in this frame only: it is read here, after the caller made sure of the lease,
    and released when this returns, before the next row's body is read.
    """
    body = outbox.load_body(row.id, token)
    if body is None:  # taken over (lease ran out) or marked by another sender: not ours to send
        result.lost_claim += 1
        return True
    ids = {"outbox_id": row.id, "kind": row.kind, "case_id": row.case_id, "deadline": row.deadline}
    try:
        notifier.send(row_message(row, body))
    except Exception as exc:
        error = str(exc) if isinstance(exc, NotifierError) else f"{type(exc).__name__} in {notifier.name}"
        if isinstance(exc, NotifierError) and exc.down:
            # Not tried at all: the caller hands this row back with the rest, no attempt spent.
            log.warning("reminder.channel_down", error=error, **ids)
            return False
        now = clock()
        final = row.attempts >= settings.max_attempts or (isinstance(exc, NotifierError) and exc.permanent)
        retry_at = None if final else now + settings.backoff(row.attempts)
        if not outbox.mark_failed(row.id, token, error=error, retry_at=retry_at):
            # The claim was taken over meanwhile: the row's outcome is its new sender's to record.
            result.lost_claim += 1
        elif final:
            result.failed += 1
            log.warning("reminder.failed", attempts=row.attempts, error=error,
                        permanent=isinstance(exc, NotifierError) and exc.permanent, **ids)
        else:
            result.retrying += 1
            log.info("reminder.retry_later", attempts=row.attempts, error=error, **ids)
        return True
    if outbox.mark_sent(row.id, token, clock()):
        result.sent += 1
        log.info("reminder.sent", attempts=row.attempts, **ids)
    else:
        result.lost_claim += 1
    return True
