"""No request holds two database connections at once.

A service that asks for the acting user (its own connection) inside a unit of work (another one)
holds two: with twenty requests at once the pool (5 + 10 connections) ran dry, every request
waited for a second connection that no other would give back, and the case page answered 500
after 30 s (found by `bench web`; the parents' list on the case page did it). Here every page a
signed-in IB opens, and the forms it posts, run with the units of work and the user lookups
watched: neither may start inside a unit of work on the same thread."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api_support import api_client, make_token
from tests.engine_support import walk_to_niveau_4
from tests.web_support import IB_MAIL, Clock, csrf_of, make_app, make_engine, sign_in
from workflow.adapters.store import uow as uow_module
from workflow.adapters.store import users as users_module
from workflow.service_layer.engine import Engine


@pytest.fixture
def nesting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What started inside a unit of work on the same thread (empty: nothing)."""
    local = threading.local()
    found: list[str] = []
    enter, exit_ = uow_module.SqlUnitOfWork.__enter__, uow_module.SqlUnitOfWork.__exit__
    fetch = users_module.SqlUserLookup._fetch

    def depth() -> int:
        return getattr(local, "depth", 0)

    def watched_enter(self: Any) -> Any:
        if depth():
            found.append("a unit of work inside a unit of work")
        local.depth = depth() + 1
        try:
            return enter(self)
        except BaseException:
            local.depth = depth() - 1
            raise

    def watched_exit(self: Any, *args: Any) -> Any:
        try:
            return exit_(self, *args)
        finally:
            local.depth = depth() - 1

    def watched_fetch(self: Any, *args: Any) -> Any:
        if depth():
            found.append("a user lookup inside a unit of work")
        return fetch(self, *args)

    monkeypatch.setattr(uow_module.SqlUnitOfWork, "__enter__", watched_enter)
    monkeypatch.setattr(uow_module.SqlUnitOfWork, "__exit__", watched_exit)
    monkeypatch.setattr(users_module.SqlUserLookup, "_fetch", watched_fetch)
    return found


@pytest.fixture
def engine(tmp_path: Path, sqlite_url: str) -> Iterator[Engine]:
    clock = Clock(dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC))
    e = make_engine(tmp_path, sqlite_url, clock)
    e.test_clock = clock  # type: ignore[attr-defined]
    yield e
    e.db.dispose()


def test_no_page_or_form_takes_a_second_connection(engine: Engine, tmp_path: Path, nesting: list[str]) -> None:
    cid = walk_to_niveau_4(engine, "LL-31", group=4)
    client = TestClient(make_app(engine))
    sign_in(client, tmp_path / "outbox", IB_MAIL, engine.test_clock)  # type: ignore[attr-defined]
    nesting.clear()  # the walk and the sign-in are not what is judged here
    for path in ("/", "/werk", "/leerlingen", f"/casus/{cid}", f"/casus/{cid}/opp", "/directie", "/audit",
                 "/nieuwe-casus", f"/casus/{cid}/stap/start_opp?versie=9"):
        assert client.get(path).status_code in (200, 404, 409), path
    page = client.get(f"/casus/{cid}")
    csrf = csrf_of(page.text)
    client.post(f"/casus/{cid}/vastleggen/contact", data={"csrf": csrf, "versie": 9, "veld-method": "brief"})
    client.post(f"/casus/{cid}/ouders", data={"csrf": csrf, "naam": "Ouder", "email": "ouder@example.org"})
    # The API: its token read before the command, and the command's acting token inside it.
    api = api_client(client.app, make_token(engine, "sis"))
    version = api.get(f"/api/v1/cases/{cid}").json()["version"]
    assert api.get("/api/v1/cases").status_code == 200
    assert api.get(f"/api/v1/cases/{cid}/timeline").status_code == 200
    assert api.post(f"/api/v1/cases/{cid}/evidence", json={"kind": "contact", "expected_version": version,
                                                          "fields": {"method": "brief"}}).status_code == 201
    assert api.post(f"/api/v1/cases/{cid}/steps", json={"trigger": "escalate",
                                                       "expected_version": version + 1}).status_code in (200, 422)
    assert api.post("/api/v1/cases", json={"pupil": "LL-32", "school": "de-linde"}).status_code == 201
    assert nesting == []
