"""What every mail passend sends shares: dates in words, and a Message-ID derived from its outbox key.

Reminders, digests and the witness mails all go through the outbox and the same notifier; their
dates read the same ("maandag 7 september 2026", or in English "Monday 7 September 2026": the
names come from the catalog, mail.weekday.* and mail.month.*) and a resend of one message
carries the same Message-ID, whichever feature planned it. Kept apart from the reminders'
templates so a feature that mails (the witness) does not depend on the reminders package, which
runs it.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from workflow.messages import text

# The catalog's keys for the names (mail.weekday.<day>, mail.month.<month>), Monday and January first.
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")


def date_nl(day: dt.date) -> str:
    return day.strftime("%d-%m-%Y")


def date_long(day: dt.date) -> str:
    """The date in words, in the language set: "maandag 7 september 2026"."""
    return text("mail.date.long", weekday=text(f"mail.weekday.{DAYS[day.weekday()]}"), day=day.day,
                month=text(f"mail.month.{MONTHS[day.month - 1]}"), year=day.year)


def message_id(key: str, domain: str) -> str:
    """Derived from the outbox key alone, so every (re)send of one message carries the same id."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{domain}>"
