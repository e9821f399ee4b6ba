"""Back to the page asked for after sign-in by e-mail link and code (the OIDC flow's own test is
in test_web_oidc.py), and never to another site: every open-redirect trick is refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web_support import (
    IB_MAIL,
    Clock,
    ask_link,
    code_at,
    csrf_of,
    make_app,
    make_engine,
    new_link,
    secret_of,
    use_link,
)
from workflow.entrypoints.web.returnto import RETURN_COOKIE, safe_path
from workflow.service_layer.engine import Engine

IB = "ib.jansen"


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def engine(tmp_path: Path, sqlite_url: str, clock: Clock) -> Iterator[Engine]:
    e = make_engine(tmp_path, sqlite_url, clock)
    yield e
    e.db.dispose()


@pytest.fixture
def app(engine: Engine) -> Any:
    return make_app(engine)


@pytest.mark.parametrize("path", ["/casus/C-7K2M9Q4P", "/leerlingen?groep=6&termijn=overdue", "/audit/inzage?casus=C-1",
                                  "/directie", "/%2F%2Fevil.example", "/casus/C-1#tijdlijn"])
def test_a_path_of_this_site_is_followed(path: str) -> None:
    assert safe_path(path) == path


@pytest.mark.parametrize("path", [
    "//evil.example", "//evil.example/casus", "///evil.example", "/\\evil.example", "\\\\evil.example",
    "\\/evil.example", "http://evil.example", "https://evil.example/casus", "http:/evil.example", "https:evil.example",
    "javascript:alert(1)", "data:text/html,x", "evil.example", "casus/C-1", "", " /casus", "/casus\\..\\x",
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/x\x00", "/x\x7f", "/ /evil.example",
    "/casus/é", "/" + "a" * 2000, "/", "/inloggen", "/inloggen/code", "/inloggen/oidc/terug?code=x", "/uitloggen",
    "/static/passend.css", "/api/v1/cases", None, 42,
])
def test_anything_else_is_not_followed(path: Any) -> None:
    assert safe_path(path) is None


def sign_in_to(client: TestClient, folder: Path, clock: Clock, secret: str | None = None) -> tuple[Any, str]:
    ask_link(client, IB_MAIL)
    r = use_link(client, new_link(folder))
    assert r.status_code == 303 and r.headers["location"] == "/inloggen/code"
    page = client.get("/inloggen/code")
    secret = secret or secret_of(page.text)
    clock.advance(seconds=30)
    r = client.post("/inloggen/code", data={"code": code_at(secret, clock.now), "csrf": csrf_of(page.text)},
                    follow_redirects=False)
    assert r.status_code == 303
    return r, secret


def test_after_the_link_and_code_the_browser_is_on_the_case_it_asked_for(app: Any, engine: Engine, tmp_path: Path,
                                                                        clock: Clock) -> None:
    cid = str(engine.open_case(pupil="LL-1", school="de-linde", actor=IB)["case_id"])
    client = TestClient(app)
    r = client.get(f"/casus/{cid}", follow_redirects=False)  # a reminder's link, signed out
    assert r.status_code == 303 and r.headers["location"] == "/inloggen"
    assert RETURN_COOKIE in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    r, secret = sign_in_to(client, tmp_path / "outbox", clock)
    assert r.headers["location"] == f"/casus/{cid}"
    assert client.get(r.headers["location"]).status_code == 200
    assert RETURN_COOKIE not in client.cookies  # used once
    client.post("/uitloggen", data={"csrf": csrf_of(client.get("/").text)})
    r, _ = sign_in_to(client, tmp_path / "outbox", clock, secret)
    assert r.headers["location"] == "/"  # nothing asked for: the start page


@pytest.mark.parametrize("planted", ["//evil.example", "https://evil.example/", "/\\evil.example",
                                     "/inloggen/code", "%2F%2Fevil.example"])
def test_a_planted_return_cookie_never_leads_off_the_site(app: Any, tmp_path: Path, clock: Clock,
                                                         planted: str) -> None:
    client = TestClient(app)
    client.cookies.set(RETURN_COOKIE, planted)
    r, _ = sign_in_to(client, tmp_path / "outbox", clock)
    assert r.headers["location"] == "/"


def test_a_post_or_a_sign_in_page_is_not_remembered(app: Any, engine: Engine) -> None:
    client = TestClient(app)
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and RETURN_COOKIE not in r.headers.get("set-cookie", "")
    csrf = csrf_of(client.get("/inloggen").text)
    r = client.post("/nieuwe-casus", data={"csrf": csrf, "leerling": "LL-2"}, follow_redirects=False)
    assert r.status_code == 303 and RETURN_COOKIE not in r.headers.get("set-cookie", "")
