"""`[web]` of config.toml, read and checked: the web app's address, cookies, sessions, sign-in and OIDC.

Checked once when `passend web` starts, so a bad value stops the start with one line naming the
key, never a request halfway.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from workflow.domain.errors import ConfigError, Said

Fail = Callable[[str, Said], ConfigError]


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    discovery_url: str
    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...]
    email_claim: str
    label: str


@dataclass(frozen=True)
class WebSettings:
    base_url: str
    secure_cookies: bool
    idle_minutes: int
    max_hours: int
    link_minutes: int
    email_link: bool
    oidc: OidcSettings | None
    metrics_token: str | None = None  # /metrics for anyone who sends it (else loopback only)

    @property
    def secure(self) -> bool:
        return self.secure_cookies

    def url(self, path: str) -> str:
        return self.base_url + path


def parse_web(raw: Any, source: str, env: dict[str, str] | None = None) -> WebSettings:
    """`[web]` checked; every key has a default, so a config without the section serves on
    http://127.0.0.1:8000 with sign-in by e-mail link."""
    env = dict(os.environ) if env is None else env
    section = raw if raw is not None else {}

    def fail(key: str, problem: Said) -> ConfigError:
        return ConfigError(Said("cfg.at", file=source, key=f"web.{key}", problem=problem))

    if not isinstance(section, dict):
        raise ConfigError(Said("cfg.at", file=source, key="web", problem=Said("cfg.web.table")))
    known = {"base_url", "secure_cookies", "idle_minutes", "max_hours", "link_minutes", "email_link", "oidc",
             "metrics_token_env"}
    for key in section:
        if key not in known:
            raise fail(key, Said("cfg.schema.unknown_key", known=", ".join(sorted(known))))
    base_url = section.get("base_url", "http://127.0.0.1:8000")
    parts = urlsplit(base_url) if isinstance(base_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise fail("base_url", Said("cfg.web.base_url"))
    base_url = base_url.rstrip("/")
    secure = section.get("secure_cookies", parts.scheme == "https")
    if not isinstance(secure, bool):
        raise fail("secure_cookies", Said("cfg.web.boolean"))

    def minutes(key: str, default: int, low: int, high: int) -> int:
        value = section.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise fail(key, Said("cfg.web.whole", low=low, high=high))
        return value

    email_link = section.get("email_link", True)
    if not isinstance(email_link, bool):
        raise fail("email_link", Said("cfg.web.boolean"))
    oidc = _oidc(section.get("oidc"), fail, env)
    token_env = section.get("metrics_token_env")
    token = None
    if token_env is not None:
        token = env.get(token_env) if isinstance(token_env, str) else None
        if not token:
            raise fail("metrics_token_env", Said("cfg.web.metrics_token_unset", env=token_env))
    if not email_link and oidc is None:
        raise fail("email_link", Said("cfg.web.no_signin"))
    return WebSettings(
        base_url=base_url, secure_cookies=secure, idle_minutes=minutes("idle_minutes", 30, 5, 24 * 60),
        max_hours=minutes("max_hours", 10, 1, 7 * 24), link_minutes=minutes("link_minutes", 15, 5, 60),
        email_link=email_link, oidc=oidc, metrics_token=token,
    )


def _oidc(raw: Any, fail: Fail, env: dict[str, str]) -> OidcSettings | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise fail("oidc", Said("cfg.web.table"))
    known = {"issuer", "discovery_url", "client_id", "client_secret_env", "scopes", "email_claim", "label"}
    for key in raw:
        if key not in known:
            raise fail(f"oidc.{key}", Said("cfg.schema.unknown_key", known=", ".join(sorted(known))))
    issuer = raw.get("issuer")
    if not isinstance(issuer, str) or urlsplit(issuer).scheme not in ("https", "http") or not urlsplit(issuer).netloc:
        raise fail("oidc.issuer", Said("cfg.web.oidc.issuer"))
    issuer = issuer.rstrip("/")
    if urlsplit(issuer).scheme == "http" and urlsplit(issuer).hostname not in ("localhost", "127.0.0.1", "::1"):
        raise fail("oidc.issuer", Said("cfg.web.oidc.https"))
    discovery = raw.get("discovery_url", issuer + "/.well-known/openid-configuration")
    if not isinstance(discovery, str) or urlsplit(discovery).scheme != urlsplit(issuer).scheme:
        raise fail("oidc.discovery_url", Said("cfg.web.oidc.discovery_url"))
    client_id = raw.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise fail("oidc.client_id", Said("cfg.web.oidc.client_id"))
    secret_env = raw.get("client_secret_env")
    secret = None
    if secret_env is not None:
        if not isinstance(secret_env, str) or not secret_env:
            raise fail("oidc.client_secret_env", Said("cfg.web.oidc.secret_env"))
        secret = env.get(secret_env)
        if not secret:
            raise fail("oidc.client_secret_env", Said("cfg.web.oidc.secret_unset", env=secret_env))
    scopes = raw.get("scopes", ["openid", "email", "profile"])
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes) or "openid" not in scopes:
        raise fail("oidc.scopes", Said("cfg.web.oidc.scopes"))
    claim = raw.get("email_claim", "email")
    if not isinstance(claim, str) or not claim:
        raise fail("oidc.email_claim", Said("cfg.web.oidc.email_claim"))
    label = raw.get("label", "Inloggen met uw schoolaccount")
    if not isinstance(label, str) or not label.strip():
        raise fail("oidc.label", Said("cfg.web.oidc.label"))
    return OidcSettings(issuer=issuer, discovery_url=discovery, client_id=client_id, client_secret=secret,
                        scopes=tuple(scopes), email_claim=claim, label=label.strip())
