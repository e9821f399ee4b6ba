"""The tables of people and sign-in: users, web sessions, sign-in links, OIDC flows, throttles.

Users live in the database (migration 0009) so that an operator can add or disable one without
editing config.toml, and so that a disabled user is refused by every process at once. The
sign-in tables (migration 0010) hold all of the web app's state, so several `passend web`
processes behind one proxy share it and each stays stateless. Tokens (session, link, OIDC state)
are never stored as such: a row is found by the keyed hash of its token (KeyRing.token_hash).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

from workflow.adapters.store.types import UTCDateTime

metadata = MetaData()

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
