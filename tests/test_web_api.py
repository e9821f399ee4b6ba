"""The JSON API under /api/v1, in process on a real store (SQLite, and PostgreSQL when set): each
status code (400, 401, 403, 404, 409, 422), the token's scope (another school's case is 404, a
read-only role's write 403, a revoked token 401 at once), the token recorded as the actor of
what it does, an access record for every read of a case, and the OpenAPI schema holding only the
API. Each refusal is checked to have stored nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api_support import api_client, make_token
from tests.engine_support import walk_to_niveau_4
from tests.web_support import Clock, make_app, make_engine
from workflow.adapters.store.tables import access_log, events
from workflow.domain.reasons import Reason
from workflow.messages import render
from workflow.service_layer import tokens
from workflow.service_layer.engine import Engine

IB = "ib.jansen"
API = "/api/v1"


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def engine(tmp_path: Path, db_url: str, clock: Clock) -> Iterator[Engine]:
    e = make_engine(tmp_path, db_url, clock)
    yield e
    e.db.dispose()


@pytest.fixture
def app(engine: Engine) -> Any:
    return make_app(engine)


@pytest.fixture
def sis(app: Any, engine: Engine) -> TestClient:
    """The de-linde IB's integration (a student information system)."""
    return api_client(app, make_token(engine, "sis"))


def counts(engine: Engine) -> tuple[int, int]:
    with engine.db.connect() as conn:
        return tuple(int(conn.execute(select(func.count()).select_from(t)).scalar_one())  # type: ignore[return-value]
                     for t in (events, access_log))


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["code"] == code
    assert body["text"] == render(Reason(f"api.{code}"), None) and "Traceback" not in r.text
    return body


def test_no_unknown_or_revoked_token_is_401_with_a_bearer_challenge(app: Any, engine: Engine) -> None:
    secret = make_token(engine, "sis")
    for client in (api_client(app, None), api_client(app, "psd_niet-echt"), api_client(app, secret + "x")):
        r = client.get(f"{API}/cases")
        problem(r, 401, "unauthorized")
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = TestClient(app).get(f"{API}/cases", headers={"Authorization": f"Basic {secret}"})
    problem(r, 401, "unauthorized")
    client = api_client(app, secret)
    assert client.get(f"{API}/cases").status_code == 200
    assert tokens.revoke(engine, "sis")[1]
    problem(client.get(f"{API}/cases"), 401, "unauthorized")  # at once, in the same process
    listed = {t.name: t for t in tokens.all_tokens(engine)}
    assert listed["sis"].revoked_at is not None and listed["sis"].last_used_at is not None


def test_who_asks_is_answered_before_what_is_wrong_with_the_request(app: Any, engine: Engine) -> None:
    """A request FastAPI refuses before its route runs (a body or a query that does not
    validate) is still 401 without a valid token and 403 for a read-only role's write: nobody
    without a token learns what a route wants; with one it is 400 naming the field."""
    cid = str(engine.open_case(pupil="LL-1", school="de-linde", actor=IB)["case_id"])
    secret = make_token(engine, "sis")
    director = make_token(engine, "dashboard", role="directeur")
    before = counts(engine)
    bad_step = (f"{API}/cases/{cid}/steps", {"trigger": "escalate"})  # no expected_version
    for who in (None, "psd_niet-echt"):
        problem(api_client(app, who).post(bad_step[0], json=bad_step[1]), 401, "unauthorized")
        problem(api_client(app, who).get(f"{API}/cases", params={"size": 0}), 401, "unauthorized")
    problem(api_client(app, director).post(bad_step[0], json=bad_step[1]), 403, "forbidden")
    assert problem(api_client(app, director).get(f"{API}/cases", params={"size": 0}), 400,
                   "bad_input")["fields"] == {"size": render(Reason("api.field.range"), None)}
    assert "expected_version" in problem(api_client(app, secret).post(bad_step[0], json=bad_step[1]), 400,
                                         "bad_input")["fields"]
    tokens.revoke(engine, "sis")
    problem(api_client(app, secret).post(bad_step[0], json=bad_step[1]), 401, "unauthorized")
    assert counts(engine) == before


def test_the_secret_is_stored_only_as_a_keyed_hash(engine: Engine) -> None:
    secret = make_token(engine, "sis")
    with engine.db.connect() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM api_tokens")]
    assert len(rows) == 1 and not any(secret in str(v) for v in rows[0])
    assert engine.keyring.token_hash("api-token", secret) in rows[0]


def test_the_caseload_lists_the_tokens_schools_a_page_at_a_time(sis: TestClient, engine: Engine) -> None:
    mine = [str(engine.open_case(pupil=f"LL-{n}", school="de-linde", actor=IB, group=5)["case_id"])
            for n in range(3)]
    engine.open_case(pupil="LL-9", school="het-anker", actor="ib.smit", group=5)
    before = counts(engine)
    first = sis.get(f"{API}/cases", params={"size": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 2 and page["next"] and page["previous"] is None
    rest = sis.get(f"{API}/cases", params={"size": 2, "after": page["next"]}).json()
    assert sorted(i["case_id"] for i in page["items"] + rest["items"]) == sorted(mine)
    assert {i["school"] for i in page["items"] + rest["items"]} == {"de-linde"}
    assert sis.get(f"{API}/cases", params={"group": 6}).json()["items"] == []
    assert counts(engine) == before  # a list holds no personal data: no access record
    problem(sis.get(f"{API}/cases", params={"state": "geen_staat"}), 400, "bad_input")
    problem(sis.get(f"{API}/cases", params={"group": 12}), 400, "bad_input")
    problem(sis.get(f"{API}/cases", params={"after": "rommel"}), 400, "bad_input")
    problem(sis.get(f"{API}/cases", params={"school": "het-anker"}), 404, "not_found")  # not its school


def test_reading_a_case_shows_its_steps_and_writes_an_access_record_for_the_token(
        sis: TestClient, engine: Engine) -> None:
    cid = str(engine.open_case(pupil="LL-1", school="de-linde", actor=IB, group=5, name="Sam")["case_id"])
    before = counts(engine)
    r = sis.get(f"{API}/cases/{cid}")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"  # personal data: never kept by a proxy or a client cache
    case = r.json()
    assert case["case_id"] == cid and case["pupil"] == "LL-1" and case["version"] == 1 and case["level"] == 1
    escalate = next(s for s in case["steps"] if s["trigger"] == "escalate")
    assert not escalate["allowed"] and escalate["reasons"]
    assert all(set(x) == {"code", "params", "text"} and x["text"] for x in escalate["reasons"])
    timeline = sis.get(f"{API}/cases/{cid}/timeline").json()
    assert [e["type"] for e in timeline["entries"]] == ["case_opened"]
    assert counts(engine) == (before[0], before[1] + 2)
    with engine.db.connect() as conn:
        rows = conn.execute(select(access_log.c.actor, access_log.c.role, access_log.c.source, access_log.c.case_id)
                            .order_by(access_log.c.id)).all()
    assert [tuple(r) for r in rows[-2:]] == [("api:sis", "ib", "api", cid)] * 2


def test_another_schools_case_and_an_unknown_one_are_the_same_404(sis: TestClient, engine: Engine) -> None:
    theirs = str(engine.open_case(pupil="LL-9", school="het-anker", actor="ib.smit")["case_id"])
    before = counts(engine)
    a = problem(sis.get(f"{API}/cases/{theirs}"), 404, "not_found")
    b = problem(sis.get(f"{API}/cases/C-AAAAAAAA"), 404, "not_found")
    assert a == b and theirs not in str(a)
    problem(sis.get(f"{API}/cases/{theirs}/timeline"), 404, "not_found")
    r = sis.post(f"{API}/cases/{theirs}/evidence", json={"kind": "contact", "expected_version": 1,
                                                         "fields": {"method": "telefoon"}})
    problem(r, 404, "not_found")
    problem(sis.get(f"{API}/nergens"), 404, "not_found")
    assert counts(engine) == before


def test_a_read_only_role_reads_but_every_write_is_403(app: Any, engine: Engine) -> None:
    cid = str(engine.open_case(pupil="LL-1", school="de-linde", actor=IB)["case_id"])
    director = api_client(app, make_token(engine, "dashboard", role="directeur"))
    assert director.get(f"{API}/cases/{cid}").status_code == 200
    before = counts(engine)
    for path, body in ((f"{API}/cases", {"pupil": "LL-2", "school": "de-linde"}),
                       (f"{API}/cases/{cid}/evidence", {"kind": "contact", "expected_version": 1,
                                                        "fields": {"method": "telefoon"}}),
                       (f"{API}/cases/{cid}/steps", {"trigger": "escalate", "expected_version": 1})):
        problem(director.post(path, json=body), 403, "forbidden")
    assert counts(engine) == before


def test_a_role_the_process_refuses_is_403_with_the_reason(app: Any, engine: Engine) -> None:
    cid = str(engine.open_case(pupil="LL-1", school="de-linde", actor=IB)["case_id"])
    d = engine.definition
    kind = next(k for k in d.evidence_kinds if "leerkracht" not in d.evidence_roles.get(k, frozenset()))
    teacher = api_client(app, make_token(engine, "rooster", role="leerkracht"))
    before = counts(engine)
    body = problem(teacher.post(f"{API}/cases/{cid}/evidence",
                                json={"kind": kind, "expected_version": 1, "fields": {}}), 403, "forbidden")
    assert [r["code"] for r in body["reasons"]] == ["role_may_not_record"] and body["reasons"][0]["text"]
    assert counts(engine) == before


def test_what_a_token_does_is_recorded_under_the_token(sis: TestClient, engine: Engine) -> None:
    r = sis.post(f"{API}/cases", json={"pupil": "LL-7", "school": "de-linde", "group": 4})
    assert r.status_code == 201, r.text
    cid = r.json()["case_id"]
    r = sis.post(f"{API}/cases/{cid}/evidence", json={"kind": "signal", "expected_version": 1,
                                                      "fields": {"area": "lezen", "note": "leest traag"}})
    assert r.status_code == 201 and r.json() == {"case_id": cid, "seq": 2, "kind": "signal", "version": 2}
    r = sis.post(f"{API}/cases/{cid}/steps", json={"trigger": "escalate", "expected_version": 2})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 3 and r.json()["state"] != "niveau_1"
    with engine.db.connect() as conn:
        rows = conn.execute(select(events.c.actor, events.c.role).where(events.c.case_id == cid)).all()
    assert [tuple(x) for x in rows] == [("api:sis", "ib")] * 3
    problem(sis.post(f"{API}/cases", json={"pupil": "LL-7", "school": "de-linde"}), 409, "conflict")


def test_bad_input_is_400_with_what_is_wrong_per_field(sis: TestClient, engine: Engine) -> None:
    cid = str(engine.open_case(pupil="LL-1", school="de-linde", actor=IB)["case_id"])
    before = counts(engine)
    url = f"{API}/cases/{cid}/evidence"
    body = problem(sis.post(url, json={"kind": "signal"}), 400, "bad_input")  # FastAPI's 422 becomes 400
    assert "expected_version" in body["fields"] and body["fields"]["expected_version"] == "Dit is verplicht."
    body = problem(sis.post(url, json={"kind": "signal", "expected_version": 1, "fields": {"area": "lezen"}}),
                   400, "bad_input")
    assert "note" in body["fields"]  # the evidence's own rule, next to its field
    problem(sis.post(url, json={"kind": "bestaat_niet", "expected_version": 1}), 400, "bad_input")
    problem(sis.post(url, json={"kind": "signal", "expected_version": 1, "fields": {"actor": "x"}}), 400,
            "bad_input")
    problem(sis.post(url, content=b"geen json", headers={"content-type": "application/json"}), 400, "bad_input")
    problem(sis.post(f"{API}/cases/{cid}/steps", json={"trigger": "vliegen", "expected_version": 1}), 400,
            "bad_input")
    problem(sis.post(f"{API}/cases", json={"pupil": "LL 1!", "school": "de-linde"}), 400, "bad_input")
    problem(sis.post(f"{API}/cases", json={"pupil": "LL-2", "school": "nergens"}), 400, "bad_input")
    assert counts(engine) == before


def test_a_stale_version_is_409_and_stores_nothing(sis: TestClient, engine: Engine) -> None:
    cid = str(engine.open_case(pupil="LL-1", school="de-linde", actor=IB)["case_id"])
    engine.record("signal", cid, actor="lk.devries", area="lezen", note="n")  # now at version 2
    before = counts(engine)
    problem(sis.post(f"{API}/cases/{cid}/evidence", json={"kind": "contact", "expected_version": 1,
                                                          "fields": {"method": "telefoon"}}), 409, "conflict")
    problem(sis.post(f"{API}/cases/{cid}/steps", json={"trigger": "escalate", "expected_version": 1}), 409,
            "conflict")
    assert counts(engine) == before


def test_a_step_a_guard_refuses_is_422_with_every_reason(sis: TestClient, engine: Engine) -> None:
    cid = walk_to_niveau_4(engine, "LL-1")
    version = sis.get(f"{API}/cases/{cid}").json()["version"]
    before = counts(engine)
    body = problem(sis.post(f"{API}/cases/{cid}/steps", json={"trigger": "adopt_opp", "expected_version": version}),
                   422, "refused")
    assert body["reasons"] and all(set(r) == {"code", "params", "text"} for r in body["reasons"])
    assert all(r["text"] and "{" not in r["text"] for r in body["reasons"])
    assert counts(engine) == before


def test_the_schema_holds_only_the_api(app: Any) -> None:
    r = TestClient(app).get(f"{API}/openapi.json")
    assert r.status_code == 200
    schema = r.json()
    assert set(schema["paths"]) == {f"{API}/cases", f"{API}/cases/{{case_id}}", f"{API}/cases/{{case_id}}/timeline",
                                    f"{API}/cases/{{case_id}}/evidence", f"{API}/cases/{{case_id}}/steps"}
    assert "token" in schema["components"]["securitySchemes"]
    assert TestClient(app).get("/openapi.json").status_code == 404  # the pages have none


def test_token_commands_and_their_exit_codes(cli: Any) -> None:
    cli("init")
    r = cli("token", "add", "sis", "--role", "ib", "--school", "de-linde")
    assert r.code == 0 and "psd_" in r.out and "niet nog eens" in r.out
    for args, needle in ((("sis", "--role", "ib", "--school", "de-linde"), "bestaat al"),
                         (("x", "--role", "conciërge", "--school", "de-linde"), "onbekende rol"),
                         (("x", "--role", "ib", "--school", "nergens"), "onbekende school"),
                         (("Met Spatie", "--role", "ib", "--school", "de-linde"), "naam")):
        r = cli("token", "add", *args)
        assert r.code == 2 and needle in r.err and "Traceback" not in r.err, (args, r.err)
    listed = cli("token", "list", "--json").json()
    assert [t["name"] for t in listed] == ["sis"] and "secret" not in listed[0] and "token_hash" not in listed[0]
    assert "actief" in cli("token", "list").out
    assert "ingetrokken" in cli("token", "revoke", "sis").out
    assert "was al ingetrokken" in cli("token", "revoke", "sis").out
    r = cli("token", "revoke", "niemand")
    assert r.code == 2 and "onbekende token" in r.err
    assert "Trek een token in" in cli("token", "revoke", "--help").out


def test_no_pupil_data_reaches_the_logs(sis: TestClient, engine: Engine) -> None:
    import io

    import structlog

    from workflow.adapters.logs import configure

    secret_name, secret_note, secret_ref = "Marijke Zeldzaam", "bijt-klasgenoten-4411", "PUPREF-77x"
    stream = io.StringIO()
    configure("info", json=True, stream=stream)
    try:
        r = sis.post(f"{API}/cases", json={"pupil": secret_ref, "school": "de-linde", "name": secret_name})
        cid = r.json()["case_id"]
        sis.post(f"{API}/cases/{cid}/evidence", json={"kind": "signal", "expected_version": 1,
                                                      "fields": {"area": "lezen", "note": secret_note}})
        sis.post(f"{API}/cases/{cid}/evidence", json={"kind": "signal", "expected_version": 1,
                                                      "fields": {"area": 7, "note": secret_note}})  # refused
        sis.post(f"{API}/cases", json={"pupil": secret_ref, "school": "de-linde", "name": secret_name,
                                       "extra": secret_note})  # a validation error
        sis.get(f"{API}/cases/{cid}")
        sis.get(f"{API}/cases/{cid}/timeline")
        sis.get(f"{API}/cases", params={"pupil": secret_ref})
    finally:
        configure("warning")
        structlog.contextvars.clear_contextvars()
    logged = stream.getvalue()
    assert "case.opened" in logged and "api:sis" in logged
    for value in (secret_name, secret_note, secret_ref):
        assert value not in logged
