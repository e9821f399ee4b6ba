"""The web app's sign-in and sessions, in process (Starlette's TestClient) on a real store, with
the file notifier writing real .eml files: headers, CSRF, links, codes, sessions, throttles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.web_support import (
    DIR_MAIL,
    IB_MAIL,
    Clock,
    ask_link,
    code_at,
    csrf_of,
    mails,
    make_app,
    make_engine,
    new_link,
    secret_of,
    sign_in,
    use_link,
)
from workflow.adapters.store.tables import signin_links, web_sessions
from workflow.entrypoints.web.guard import writer
from workflow.entrypoints.web.security import CSP
from workflow.service_layer.engine import Engine


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(tmp_path: Path, db_url: str, clock: Clock) -> Iterator[Engine]:
    e = make_engine(tmp_path, db_url, clock)
    yield e
    e.db.dispose()


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def app(engine: Engine) -> Any:
    application = make_app(engine)

    @application.get("/test/kapot")  # a bug: the 500 page, with every header, and no traceback
    def broken() -> None:
        raise RuntimeError("stuk")

    @application.post("/test/schrijf")  # a write route, as the pages will have: guarded by `writer`
    def write(user: Any = Depends(writer)) -> dict[str, str]:  # noqa: B008
        return {"by": user.id}

    return application


@pytest.fixture
def client(app: Any) -> TestClient:
    return TestClient(app)


def post_paths(routes: Any, prefix: str = "") -> set[str]:
    """Every POST route of the app, through included routers (with their prefixes: the API's)."""
    found: set[str] = set()
    for r in routes:
        if hasattr(r, "original_router"):
            context = getattr(r, "include_context", None)
            # a router's own prefix is in its routes' paths already; the one it is included with is not
            found |= post_paths(r.original_router.routes, prefix + (getattr(context, "prefix", "") or ""))
        elif "POST" in (getattr(r, "methods", None) or ()):
            found.add(prefix + r.path)
    return found


def count(engine: Engine, table: Any) -> int:
    with engine.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_every_page_sends_the_security_headers(client: TestClient) -> None:
    for path in ("/inloggen", "/nergens", "/inloggen/link/" + "x" * 43):
        r = client.get(path)
        assert r.headers["content-security-policy"] == CSP
        assert "script-src 'self';" in CSP and "unsafe-inline" not in CSP
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in r.headers  # served over http here
    broken = TestClient(client.app, raise_server_exceptions=False).get("/test/kapot")
    assert broken.status_code == 500 and "Er ging iets mis" in broken.text and "RuntimeError" not in broken.text
    assert broken.headers["content-security-policy"] == CSP and broken.headers["cache-control"] == "no-store"
    static = client.get("/static/passend.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")
    assert client.get("/static/htmx.min.js").status_code == 200


def test_pages_have_no_inline_script_or_style_and_are_dutch(client: TestClient) -> None:
    html = client.get("/inloggen").text
    assert '<html lang="nl">' in html and 'href="#inhoud"' in html and '<main id="inhoud"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert "<style" not in html and " style=" not in html
    assert re.search(r'<label for="email">', html)


def test_link_and_code_journey_then_sign_out_for_good(client: TestClient, engine: Engine, outbox: Path,
                                                      clock: Clock) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/inloggen"
    ask_link(client, IB_MAIL)
    r = use_link(client, new_link(outbox))
    link_cookie = client.cookies.get("passend")
    assert r.headers["location"] == "/inloggen/code"
    assert client.get("/", follow_redirects=False).status_code == 303  # the code is still due
    page = client.get("/inloggen/code")
    assert "Stel uw authenticator-app in" in page.text and '<svg' in page.text
    secret = secret_of(page.text)
    clock.advance(seconds=30)
    r = client.post("/inloggen/code", data={"code": code_at(secret, clock.now), "csrf": csrf_of(page.text)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    full_cookie = client.cookies.get("passend")
    assert full_cookie != link_cookie  # a new token once the code is right: no session fixation
    home = client.get("/")
    assert home.status_code == 200 and "ib.jansen" in home.text and "intern begeleider" in home.text
    assert "OBS De Linde" in home.text and "Uitloggen" in home.text
    assert engine.users.get("ib.jansen").totp_enrolled  # type: ignore[union-attr]
    r = client.post("/uitloggen", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert r.headers["location"] == "/inloggen?uit=1"
    assert count(engine, web_sessions) == 0
    replay = TestClient(client.app, cookies={"passend": full_cookie})
    assert replay.get("/", follow_redirects=False).headers["location"] == "/inloggen"


def test_the_link_page_never_tells_whether_an_address_exists(client: TestClient, outbox: Path) -> None:
    def answer(address: str) -> tuple[int, str]:
        r = ask_link(client, address)
        return r.status_code, re.sub(r'value="[^"]+"', "", r.text)

    known, unknown = answer(IB_MAIL), answer("niemand@de-linde.school.example")
    assert known == unknown and known[0] == 200
    assert len(mails(outbox)) == 1


def test_a_link_works_once_and_for_fifteen_minutes(client: TestClient, engine: Engine, outbox: Path,
                                                   clock: Clock) -> None:
    ask_link(client, IB_MAIL)
    url = new_link(outbox)
    assert use_link(client, url).status_code == 303
    again = TestClient(client.app)
    r = use_link(again, url)
    assert r.status_code == 400 and "al gebruikt" in r.text
    ask_link(again, IB_MAIL)
    late = new_link(outbox)
    clock.advance(minutes=15, seconds=1)
    r = use_link(again, late)
    assert r.status_code == 400 and "verlopen" in r.text
    assert "passend" not in again.cookies
    r = use_link(again, late.rsplit("/", 1)[0] + "/" + "A" * 43)
    assert r.status_code == 400 and "niet geldig" in r.text
    assert count(engine, signin_links) == 2


def test_a_form_without_its_csrf_token_gets_403_and_changes_nothing(client: TestClient, app: Any, engine: Engine,
                                                                    outbox: Path, clock: Clock) -> None:
    # before sign-in: the pre-session token
    client.get("/inloggen")
    assert client.post("/inloggen/link", data={"email": IB_MAIL}).status_code == 403
    assert client.post("/inloggen/link", data={"email": IB_MAIL, "csrf": "x" * 43}).status_code == 403
    assert mails(outbox) == []
    sign_in(client, outbox, IB_MAIL, clock)
    home = client.get("/")
    token = csrf_of(home.text)
    posts = sorted(post_paths(app.routes))
    assert "/uitloggen" in posts and "/inloggen/link" in posts
    assert "/api/v1/cases" in posts
    for path in posts:
        path = path.replace("{token}", "A" * 43)
        if path.startswith("/api/"):  # bearer tokens only, never the session: no token, 401
            assert client.post(path.replace("{case_id}", "C-AAAAAAAA"), json={}).status_code == 401, path
            continue
        assert client.post(path, data={}).status_code == 403, path
        assert client.post(path, data={"csrf": token + "x"}).status_code == 403, path
        assert client.post(path, headers={"X-CSRF-Token": "nope"}).status_code == 403, path
    assert count(engine, web_sessions) == 1  # sign-out without its token ended nothing
    assert client.post("/test/schrijf", headers={"X-CSRF-Token": token}).json() == {"by": "ib.jansen"}
    other = TestClient(app)  # another browser's pre-session token is not this session's
    assert client.post("/uitloggen", data={"csrf": csrf_of(other.get("/inloggen").text)}).status_code == 403


def test_a_read_only_role_gets_403_on_every_post_but_sign_out(client: TestClient, engine: Engine, outbox: Path,
                                                             clock: Clock) -> None:
    sign_in(client, outbox, DIR_MAIL, clock)
    home = client.get("/")
    assert "alleen bekijken" not in home.text and "mag alles bekijken, maar niets wijzigen" in home.text
    token = csrf_of(home.text)
    r = client.post("/test/schrijf", headers={"X-CSRF-Token": token})
    assert r.status_code == 403 and "niets wijzigen" in r.text
    r = client.post("/uitloggen", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and count(engine, web_sessions) == 0


def test_sessions_end_when_idle_and_at_their_absolute_end(client: TestClient, engine: Engine, outbox: Path,
                                                          clock: Clock) -> None:
    sign_in(client, outbox, IB_MAIL, clock)
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    clock.advance(minutes=30, seconds=1)  # idle 30 minutes (the default) after the last request
    assert client.get("/", follow_redirects=False).headers["location"] == "/inloggen"
    assert count(engine, web_sessions) == 0
    secret = engine.users.get("ib.jansen")
    assert secret is not None and secret.totp_enrolled
    sign_in(client, outbox, IB_MAIL, clock, secret=_secret(engine))
    for _ in range(21):  # busy all day: still ends 10 hours (max_hours) after signing in
        clock.advance(minutes=29)
        client.get("/")
    assert client.get("/", follow_redirects=False).headers["location"] == "/inloggen"


def _secret(engine: Engine) -> str:
    from sqlalchemy import select as sel

    from workflow.adapters.store.tables import users

    with engine.db.connect() as conn:
        sealed = conn.execute(sel(users.c.totp_secret).where(users.c.id == "ib.jansen")).scalar_one()
    return engine.keyring.open_secret("totp/ib.jansen", sealed)


def test_a_disabled_user_is_signed_out_at_once_and_gets_no_link(client: TestClient, engine: Engine, outbox: Path,
                                                                clock: Clock) -> None:
    sign_in(client, outbox, IB_MAIL, clock)
    assert client.get("/").status_code == 200
    engine.users.set_disabled("ib.jansen", True, now=clock.now)
    assert client.get("/", follow_redirects=False).headers["location"] == "/inloggen"
    assert count(engine, web_sessions) == 0
    sent = len(mails(outbox))
    ask_link(client, IB_MAIL)
    assert len(mails(outbox)) == sent


def test_a_user_disabled_between_link_and_code_is_refused(client: TestClient, engine: Engine, outbox: Path,
                                                          clock: Clock) -> None:
    ask_link(client, IB_MAIL)
    url = new_link(outbox)
    engine.users.set_disabled("ib.jansen", True, now=clock.now)
    r = use_link(client, url)
    assert r.status_code == 400 and "geen toegang meer" in r.text


def test_link_requests_are_limited_per_address_and_per_ip(client: TestClient, outbox: Path) -> None:
    for _ in range(7):
        assert ask_link(client, IB_MAIL).status_code == 200
    assert len(mails(outbox)) == 5  # PER_ADDRESS in 15 minutes; the answer stays the same
    for i in range(20):
        ask_link(client, f"onbekend{i}@de-linde.school.example")
    ask_link(client, "groep5@de-linde.school.example")  # a known address, but this IP is over its limit
    assert len(mails(outbox)) == 5


def test_wrong_codes_are_limited_and_a_code_is_taken_once(client: TestClient, engine: Engine, outbox: Path,
                                                          clock: Clock) -> None:
    secret = sign_in(client, outbox, IB_MAIL, clock)
    used = code_at(secret, clock.now)
    other = TestClient(client.app)
    ask_link(other, IB_MAIL)
    use_link(other, new_link(outbox))
    page = other.get("/inloggen/code")
    assert "Typ uw code" in page.text and "otpauth" not in page.text  # enrolled: the secret is not shown again
    token = csrf_of(page.text)
    r = other.post("/inloggen/code", data={"code": used, "csrf": token})
    assert r.status_code == 400 and "klopt niet" in r.text  # the same code again: refused
    for _ in range(4):
        assert other.post("/inloggen/code", data={"code": "000000", "csrf": token}).status_code == 400
    clock.advance(seconds=30)
    r = other.post("/inloggen/code", data={"code": code_at(secret, clock.now), "csrf": token})
    assert r.status_code == 429 and "Te veel" in r.text  # five wrong: not even the right code is checked
    clock.advance(minutes=15)  # the window has passed (and the half-finished session with it)
    assert other.post("/inloggen/code", data={"code": "000000", "csrf": token}).status_code == 403
    sign_in(other, outbox, IB_MAIL, clock, secret=secret)
    assert other.get("/").status_code == 200


def test_a_script_in_a_name_is_shown_as_text(client: TestClient, engine: Engine, outbox: Path, clock: Clock) -> None:
    engine.users.add(user_id="lk.test", role="leerkracht", schools=["de-linde"], name="<script>alert(1)</script>",
                     email="lk.test@de-linde.school.example", roles=engine.definition.roles,
                     known_schools=engine.config.schools, now=clock.now)
    sign_in(client, outbox, "lk.test@de-linde.school.example", clock)
    html = client.get("/").text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
