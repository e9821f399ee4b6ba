"""Sign-in through OpenID Connect, in process, against a real local provider (oidc-provider-mock
on a loopback port): PKCE, nonce and state sent; a callback works once and only in the browser
that began it; a person passend does not know is refused and not named in the log."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.reminders_support import free_port
from tests.web_support import Clock, csrf_of, make_app, make_engine
from workflow.adapters.logs import configure
from workflow.service_layer.engine import Engine


@pytest.fixture(scope="module")
def provider() -> Iterator[int]:
    from oidc_provider_mock import User, run_server_in_thread

    users = [User(sub="ib-smit", claims={"email": "IB@het-anker.school.example", "email_verified": True}),
             User(sub="vreemd", claims={"email": "vreemd@elders.example", "email_verified": True}),
             User(sub="onbevestigd", claims={"email": "ib@het-anker.school.example", "email_verified": False})]
    with run_server_in_thread(port=free_port(), require_nonce=True, user_claims=users) as server:
        yield int(server.server_port)


@pytest.fixture
def engine(tmp_path: Path, sqlite_url: str) -> Iterator[Engine]:
    e = make_engine(tmp_path, sqlite_url, Clock())
    yield e
    e.db.dispose()


OIDC = {"client_id": "passend-test", "client_secret_env": "PASSEND_TEST_OIDC_SECRET"}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSEND_TEST_OIDC_SECRET", "geheim")


@pytest.fixture
def app(engine: Engine, provider: int) -> Any:
    return make_app(engine, {"oidc": {"issuer": f"http://localhost:{provider}", **OIDC}})


def start(client: TestClient) -> str:
    client.get("/inloggen")
    r = client.get("/inloggen/oidc", follow_redirects=False)
    assert r.status_code == 303
    return str(r.headers["location"])


def authorize(url: str, sub: str) -> str:
    """The person signs in at the provider; returns the callback's path and query."""
    r = httpx.post(url, data={"sub": sub}, follow_redirects=False)
    assert r.status_code == 302, r.text
    back = urlsplit(r.headers["location"])
    return f"{back.path}?{back.query}"


def test_the_flow_sends_pkce_nonce_and_state_and_signs_in(app: Any) -> None:
    client = TestClient(app)
    url = start(client)
    q = parse_qs(urlsplit(url).query)
    assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
    assert q["nonce"][0] and q["state"][0] and q["client_id"] == ["passend-test"]
    assert q["scope"] == ["openid email profile"] and q["response_type"] == ["code"]
    r = client.get(authorize(url, "ib-smit"), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and "ib.smit" in home.text and "CBS Het Anker" in home.text


def test_a_callback_works_once_and_only_in_the_browser_that_began_it(app: Any) -> None:
    attacker, victim = TestClient(app), TestClient(app)
    callback = authorize(start(attacker), "ib-smit")
    victim.get("/inloggen")
    r = victim.get(callback, follow_redirects=False)  # someone else's callback URL: login CSRF
    assert r.status_code == 403 and "verlopen of al gebruikt" in r.text
    assert victim.get("/", follow_redirects=False).status_code == 303
    assert attacker.get(callback).status_code == 403  # the flow is spent
    own = TestClient(app)
    callback = authorize(start(own), "ib-smit")
    assert own.get(callback, follow_redirects=False).status_code == 303
    assert own.get(callback, follow_redirects=False).status_code == 403  # once


def test_unknown_unverified_or_disabled_people_are_refused_without_naming_them(
        app: Any, engine: Engine) -> None:
    client = TestClient(app)
    out = io.StringIO()
    configure("info", json=True, stream=out)
    r = client.get(authorize(start(client), "vreemd"))
    assert r.status_code == 403 and "geen toegang tot passend" in r.text
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    refused = [e for e in lines if e["event"] == "signin.oidc_refused"]
    assert [e["reason"] for e in refused] == ["unknown_user"] and "vreemd@" not in repr(lines)
    r = client.get(authorize(start(client), "onbevestigd"))
    assert r.status_code == 403 and "bevestigd e-mailadres" in r.text
    engine.users.set_disabled("ib.smit", True, now=engine.clock())
    r = client.get(authorize(start(client), "ib-smit"))
    assert r.status_code == 403 and client.get("/", follow_redirects=False).status_code == 303


def test_a_provider_that_names_another_issuer_is_not_used(engine: Engine, provider: int) -> None:
    discovery = f"http://127.0.0.1:{provider}/.well-known/openid-configuration"  # it answers: issuer 127.0.0.1
    app = make_app(engine, {"oidc": {"issuer": f"http://localhost:{provider}", "discovery_url": discovery, **OIDC}})
    client = TestClient(app)
    client.get("/inloggen")
    r = client.get("/inloggen/oidc", follow_redirects=False)
    assert r.status_code == 502 and "niet bereikbaar" in r.text


def test_after_signing_in_the_browser_is_back_on_the_page_it_asked_for(app: Any) -> None:
    client = TestClient(app)
    asked = client.get("/leerlingen?groep=6", follow_redirects=False)  # signed out: off to sign in
    assert asked.status_code == 303 and asked.headers["location"] == "/inloggen"
    r = client.get(authorize(start(client), "ib-smit"), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/leerlingen?groep=6"
    client.cookies.set("passend-terug", "//evil.example/x")  # a planted cookie: never followed
    client.post("/uitloggen", data={"csrf": csrf_of(client.get("/").text)})
    r = client.get(authorize(start(client), "ib-smit"), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
