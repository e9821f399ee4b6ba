"""What every mail passend sends shares: Dutch dates, and a Message-ID derived from its outbox key.

Reminders, digests and the witness mails all go through the outbox and the same notifier; their
dates read the same ("maandag 7 september 2026") and a resend of one message carries the same
Message-ID, whichever feature planned it. Kept apart from the reminders' templates so a feature
that mails (the witness) does not depend on the reminders package, which runs it.
"""

from __future__ import annotations

import datetime as dt
import hashlib

DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
          "oktober", "november", "december")


def date_nl(day: dt.date) -> str:
    return day.strftime("%d-%m-%Y")


def date_long_nl(day: dt.date) -> str:
    return f"{DAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def message_id(key: str, domain: str) -> str:
    """Derived from the outbox key alone, so every (re)send of one message carries the same id."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{domain}>"
