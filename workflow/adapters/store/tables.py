"""Every table of the store, declared once, in SQLAlchemy Core.

`events` is the source of truth and append-only; `cases` is its projection, written only by the
event store in the same transaction as the events it summarises (`version` equals the last
event's sequence number and guards concurrent writers); `case_keys` holds each case's wrapped
data key; `reminder_outbox` holds one row per planned message; `access_log` records who read
which case (NEN 7513), hash-chained.

The schema itself is made by the Alembic migrations (`migrations/versions/`), each of which keeps
its own frozen copy of what it created; these declarations are what the queries are built from
and must describe that same schema, index for index (tests/test_tables.py compares them with a
migrated database). Plain Core, not SQLModel table classes: a command that only loads and
appends (`fire`, `record`, `audit verify`) then never imports sqlmodel, which costs about half
a second of start-up. The SQLModel classes are the read models (workflow.adapters.readmodels).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from workflow.adapters.store.types import BigId, UTCDateTime

metadata = MetaData()

cases = Table(
    "cases", metadata,
    Column("case_id", String(40), primary_key=True),
    Column("school", String(64), nullable=False),
    Column("pupil_index", String(64), nullable=True),
    Column("school_group", Integer, nullable=True),
    Column("state", String(64), nullable=False),
    Column("level", Integer, nullable=True),
    Column("process_id", String(64), nullable=False),
    Column("process_version", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("opp_active", Boolean, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("state_entered_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("close_reason", String(64), nullable=True),
    # Reminder work (migration 0005): the first day the planner may have something to plan for
    # this case, and the day it last planned up to; see workflow.service_layer.reminders.work.
    Column("next_action_on", Date, nullable=True),
    Column("planned_on", Date, nullable=True),
    Index("ix_cases_pupil_index", "pupil_index"),
    Index("ix_cases_state", "state"),
    # A school's cases per state, in the caseload's order (migration 0018): a page of one state
    # is a walk of it. A state change moves the case's entry, as it did when it held two columns.
    Index("ix_cases_school_state", "school", "state", "opened_at", "case_id"),
    # One open case per pupil and school (migration 0004): of two concurrent opens, one conflicts.
    Index("uq_cases_open_pupil", "pupil_index", unique=True,
          sqlite_where=text("closed_at IS NULL AND pupil_index IS NOT NULL"),
          postgresql_where=text("closed_at IS NULL AND pupil_index IS NOT NULL")),
    # The planner's due-work scan reads these indexes only (migration 0006).
    Index("ix_cases_next_action_on", "next_action_on", "case_id"),
    Index("ix_cases_planned_on", "planned_on", "case_id"),
    # The caseload, newest first per school, a keyset page at a time (migration 0011). Neither
    # column is ever updated, so a command's projection UPDATE never touches this index.
    Index("ix_cases_school_opened", "school", "opened_at", "case_id"),
    # Closed cases by closing time (migration 0011): those old enough to be due for erasure are
    # one range. Partial: a command on an open case leaves it untouched.
    Index("ix_cases_closed", "closed_at", "case_id", sqlite_where=text("closed_at IS NOT NULL"),
          postgresql_where=text("closed_at IS NOT NULL")),
    # The same per school (migration 0019): a school's cases due for erasure (Mijn werk).
    Index("ix_cases_school_closed", "school", "closed_at", "case_id", sqlite_where=text("closed_at IS NOT NULL"),
          postgresql_where=text("closed_at IS NOT NULL")),
)

events = Table(
    "events", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(40), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("process_id", String(64), nullable=False),
    Column("process_version", Integer, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),
)

case_keys = Table(
    "case_keys", metadata,
    Column("case_id", String(40), primary_key=True),
    Column("wrapped", LargeBinary, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("destroyed_at", UTCDateTime, nullable=True),
)

# The rows of migration 0007's partial index: sent (sent_at is set exactly when a row is marked
# sent, and never again unset), texts kept. Literal, not bound, so that both databases' planners
# match it to the index; and without `status = 'sent'`, which made SQLite prefer the
# (status, next_attempt_at) index and sort every sent row there ever was.
OUTBOX_BODY_KEPT = text("sent_at IS NOT NULL AND body_text <> ''")

reminder_outbox = Table(
    "reminder_outbox", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("case_id", String(40), nullable=True),
    Column("deadline", String(48), nullable=True),
    Column("school", String(64), nullable=True),
    Column("recipient", String(128), nullable=False),
    Column("to_addrs", Text, nullable=False),
    Column("send_on", Date, nullable=False),
    Column("due_on", Date, nullable=True),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text, nullable=True),
    Column("ics", Text, nullable=True),
    Column("message_id", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claim_token", String(32), nullable=True),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    # migration 0012: the sender fixed at planning, who holds a claim, who retried a failed row
    Column("sender", String(255), nullable=True),
    Column("claim_host", String(255), nullable=True),
    Column("claim_pid", Integer, nullable=True),
    Column("retried_by", String(128), nullable=True),
    Column("retried_at", UTCDateTime, nullable=True),
    UniqueConstraint("key", name="uq_reminder_outbox_key"),
    Index("ix_reminder_outbox_status_next", "status", "next_attempt_at"),
    # Sent rows whose bodies are still kept (migration 0007; clear_sent_bodies).
    Index("ix_reminder_outbox_sent_bodies", "sent_at", sqlite_where=OUTBOX_BODY_KEPT,
          postgresql_where=OUTBOX_BODY_KEPT),
)

# ---- the work list (migration 0011; workflow.domain.worklist) ---------------------------------
# What the web app's lists read instead of folding every case: each open case's running clocks
# and the consent scopes it waits for, written by the event store in the same transaction as the
# events that change them (only rows that changed). `read_models` notes what the rows were built
# for; `passend init` rebuilds them when that differs (service_layer.worklist.ensure_built).

case_deadlines = Table(
    "case_deadlines", metadata,
    Column("case_id", String(40), primary_key=True),
    Column("deadline", String(48), primary_key=True),
    Column("anchor", String(32), primary_key=True),
    Column("school", String(64), nullable=False),
    # The case's opening time (migration 0020; it never changes): a filter on the clocks lists
    # its cases in the caseload's order from these rows alone (store.worklist).
    Column("opened_at", UTCDateTime, nullable=True),
    Column("started_on", Date, nullable=False),
    Column("due_on", Date, nullable=False),  # as of the case's last event
    Column("soon_on", Date, nullable=False),  # due_on - lead_days: "soon" from this day
    Column("lead_days", Integer, nullable=False),
    Column("paused_left", Integer, nullable=True),  # paused: days left (constant while paused)
    # A school's clocks by due day; with paused_left, counted from the index alone (migration 0019).
    Index("ix_case_deadlines_school_due", "school", "due_on", "paused_left"),
    Index("ix_case_deadlines_school_paused", "school", "paused_left"),
)

case_waiting = Table(
    "case_waiting", metadata,
    Column("case_id", String(40), primary_key=True),
    Column("school", String(64), nullable=False),
    Column("scopes", Text, nullable=False),  # a JSON list of consent scopes
    Index("ix_case_waiting_school", "school", "case_id"),
)

read_models = Table(
    "read_models", metadata,
    Column("name", String(32), primary_key=True),
    Column("built_for", String(200), nullable=False),
    Column("built_at", UTCDateTime, nullable=False),
)

access_log = Table(
    "access_log", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("case_id", String(40), nullable=True),
    Column("school", String(64), nullable=True),
    Column("purpose", String(200), nullable=False),
    Column("on_behalf_of", String(128), nullable=True),
    Column("source", String(32), nullable=False),
    # The hash chain over the log (migration 0008; workflow.adapters.access_chain).
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=True),
    Index("ix_access_log_case", "case_id", "at"),
    Index("ix_access_log_actor", "actor", "at"),
    Index("ix_access_log_prev_hash", "prev_hash", unique=True),
)


# ---- people and sign-in (migrations 0009 and 0010) ----------------------------------------
# The tables of people and sign-in: users, web sessions, sign-in links, OIDC flows, throttles.
#
# Users live in the database (migration 0009) so that an operator can add or disable one without
# editing config.toml, and so that a disabled user is refused by every process at once. The
# sign-in tables (migration 0010) hold all of the web app's state, so several `passend web`
# processes behind one proxy share it and each stays stateless. Tokens (session, link, OIDC state)
# are never stored as such: a row is found by the keyed hash of its token (KeyRing.token_hash).

users = Table(
    "users", metadata,
    Column("id", String(128), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("schools", Text, nullable=False),  # a JSON list of school ids, or ["*"]
    Column("email", String(254)),  # lower-case; unique when set
    Column("managed", String(16), nullable=False),  # "config" (config.toml) or "cli"
    Column("disabled_at", UTCDateTime),
    Column("totp_secret", LargeBinary),  # sealed with the master key (KeyRing.seal_secret)
    Column("totp_enrolled_at", UTCDateTime),
    Column("totp_last_step", BigInteger),  # the last accepted code's time step: no code twice
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_users_email", "email", unique=True),
)

web_sessions = Table(
    "web_sessions", metadata,
    Column("id", String(64), primary_key=True),  # keyed hash of the cookie's token
    Column("user_id", String(128), nullable=False),
    Column("stage", String(8), nullable=False),  # "code": link used, TOTP still due; "full"
    Column("method", String(8), nullable=False),  # "link" or "oidc"
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),  # the absolute end
    Index("ix_web_sessions_user", "user_id"),
    Index("ix_web_sessions_expires", "expires_at"),
)

signin_links = Table(
    "signin_links", metadata,
    Column("id", String(64), primary_key=True),  # keyed hash of the link's token
    Column("user_id", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    Index("ix_signin_links_expires", "expires_at"),
)

signin_flows = Table(
    "signin_flows", metadata,
    Column("id", String(64), primary_key=True),  # keyed hash of the OIDC `state`
    Column("nonce", String(64), nullable=False),
    Column("verifier", String(128), nullable=False),  # the PKCE code verifier
    Column("browser", String(64), nullable=False),  # keyed hash of the starting browser's cookie
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_signin_flows_expires", "expires_at"),
)

signin_throttle = Table(
    "signin_throttle", metadata,
    Column("key", String(128), primary_key=True),  # what is counted: "link-ip:...", "code:USER", ...
    Column("window_start", UTCDateTime, nullable=False),
    Column("count", Integer, nullable=False),
)


# ---- parents and guardians on a case (migration 0017) -------------------------------------
# A parent row per case; name and e-mail sealed with the case's key. Their sign-in links and
# sessions are apart from the staff's: a parent is no user, and sees only the row's one case.

case_parents = Table(
    "case_parents", metadata,
    Column("id", String(32), primary_key=True),
    Column("case_id", String(40), nullable=False),
    Column("school", String(64), nullable=False),
    Column("name", Text, nullable=False),  # sealed with the case's key
    Column("email", Text, nullable=False),  # sealed with the case's key
    Column("added_by", String(128), nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime),
    Index("ix_case_parents_case", "case_id"),
)

parent_links = Table(
    "parent_links", metadata,
    Column("id", String(64), primary_key=True),  # keyed hash of the link's token
    Column("parent_id", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    Index("ix_parent_links_parent", "parent_id"),
)

parent_sessions = Table(
    "parent_sessions", metadata,
    Column("id", String(64), primary_key=True),  # keyed hash of the cookie's token
    Column("parent_id", String(32), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_parent_sessions_parent", "parent_id"),
)

# API tokens (migration 0016): one row per integration of a school's own systems with the JSON
# API. The secret itself is never stored: a row is found by its keyed hash (KeyRing.token_hash).
api_tokens = Table(
    "api_tokens", metadata,
    Column("name", String(64), primary_key=True),
    Column("token_hash", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("schools", Text, nullable=False),  # a JSON list of school ids, or ["*"]
    Column("created_by", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    Index("ix_api_tokens_hash", "token_hash", unique=True),
)

# ---- witnessing outside the store (migration 0013) ----------------------------------------
# One root a day over every case's head (workflow.domain.merkle), sent to witnesses outside the
# system; the leaves that changed since the root before; an RFC 3161 token per root. All three
# append-only (database triggers), like the events.

witness = Table(
    "witness", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),  # school-local date; one root a day
    Column("at", UTCDateTime, nullable=False),
    Column("tree", String(32), nullable=False),
    Column("root", String(64), nullable=False),
    Column("cases", BigInteger, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("access_records", BigInteger, nullable=False),
    Column("access_head", String(64), nullable=False),
    UniqueConstraint("day", name="uq_witness_day"),
)

witness_leaves = Table(
    "witness_leaves", metadata,
    Column("case_id", String(40), primary_key=True),
    Column("witness_id", BigInteger, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
)

witness_timestamps = Table(
    "witness_timestamps", metadata,
    Column("witness_id", BigInteger, primary_key=True),
    Column("tsa_url", Text, nullable=False),
    Column("token", LargeBinary, nullable=False),
    Column("gen_time", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)
