"""Helpers for the web tests: an app on a real store with a clock the test moves, the file
notifier's .eml files read back, and the sign-in steps a person takes."""

from __future__ import annotations

import datetime as dt
import email
import re
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp

from tests.conftest import write_config
from workflow.adapters.web_settings import parse_web
from workflow.bootstrap import bootstrap, make_notifier
from workflow.entrypoints.web.app import create_app
from workflow.service_layer.engine import Engine

IB_MAIL = "ib@de-linde.school.example"
DIR_MAIL = "directie@de-linde.school.example"
LINK = re.compile(r"(https?://[^\s]+/inloggen/link/[A-Za-z0-9_-]+)")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
OTPAUTH = re.compile(r'href="(otpauth://[^"]+)"')


class Clock:
    """The engine's clock, moved by the test."""

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def notifier_section(folder: Path) -> str:
    return f'\n[notifier]\nbackend = "file"\nfolder = "{folder}"\nfrom = "passend@de-linde.school.example"\n'


def make_engine(tmp_path: Path, db_url: str, clock: Clock, extra: str = "") -> Engine:
    cfg = write_config(tmp_path, db_url, extra=notifier_section(tmp_path / "outbox") + extra)
    engine = bootstrap(cfg, create_key=True, clock=clock)
    engine.init()
    return engine


def make_app(engine: Engine, web: dict[str, Any] | None = None) -> Any:
    settings = parse_web(web or {}, "config.toml")
    return create_app(engine, settings, make_notifier(engine))


def mails(folder: Path) -> list[Message]:
    """Every mail in the file notifier's folder (in no particular order: files are named by
    their Message-ID)."""
    if not folder.exists():
        return []
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


_SEEN: dict[Path, set[str]] = {}


def new_mail(folder: Path) -> Message:
    """The one mail that arrived in `folder` since the last call for it."""
    seen = _SEEN.setdefault(folder, set())
    fresh = [p for p in folder.glob("*.eml") if p.name not in seen] if folder.exists() else []
    assert len(fresh) == 1, f"expected one new mail, found {len(fresh)}"
    seen.add(fresh[0].name)
    return email.message_from_bytes(fresh[0].read_bytes())


def new_link(folder: Path) -> str:
    return link_in(new_mail(folder))


def body(msg: Message) -> str:
    part = msg.get_body(("plain",)) if hasattr(msg, "get_body") else msg
    payload = (part or msg).get_payload(decode=True)
    return payload.decode("utf-8") if isinstance(payload, bytes) else str(payload)


def link_in(msg: Message) -> str:
    found = LINK.search(body(msg))
    assert found, "no sign-in link in the mail"
    return found.group(1)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def secret_of(html: str) -> str:
    found = OTPAUTH.search(html)
    assert found, "no otpauth link on the enrolment page"
    return parse_qs(urlsplit(found.group(1).replace("&amp;", "&")).query)["secret"][0]


def code_at(secret: str, when: dt.datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def ask_link(client: Any, address: str) -> Any:
    page = client.get("/inloggen")
    return client.post("/inloggen/link", data={"email": address, "csrf": csrf_of(page.text)})


def use_link(client: Any, url: str) -> Any:
    path = urlsplit(url).path
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf": csrf_of(page.text)}, follow_redirects=False)


def sign_in(client: Any, outbox: Path, address: str, clock: Clock, secret: str | None = None) -> str:
    """The whole journey by link and code; returns the TOTP secret (enrolled on first use)."""
    ask_link(client, address)
    r = use_link(client, new_link(outbox))
    assert r.status_code == 303 and r.headers["location"] == "/inloggen/code", r.text
    page = client.get("/inloggen/code")
    if secret is None:
        secret = secret_of(page.text)
    clock.advance(seconds=30)  # a code from a new time step: the last one is never taken twice
    r = client.post("/inloggen/code", data={"code": code_at(secret, clock.now), "csrf": csrf_of(page.text)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return secret
