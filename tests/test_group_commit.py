"""Group commit (workflow.adapters.store.group): concurrent writers of one process share a SQLite
transaction and its COMMIT, and everything else stays as with one commit per command.

The groups are made deterministic: the test holds a unit open (it has the turn), lets the other
threads queue behind it, and only then commits, so the queued ones join its transaction. Every
test ends by walking the chains (audit verify) and replaying every case against its projection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import write_config
from workflow.adapters.store.group import GroupCommit
from workflow.bootstrap import bootstrap
from workflow.domain.errors import Conflict
from workflow.service_layer.audit.replay import replay_all
from workflow.service_layer.audit.verify import verify
from workflow.service_layer.engine import Engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = bootstrap(write_config(tmp_path, f"sqlite:///{tmp_path / 'passend.db'}"), create_key=True)
    e.init()
    yield e
    e.db.dispose()


def _committer(engine: Engine) -> GroupCommit:
    assert engine.store.group_commit()
    group = engine.store.group  # type: ignore[attr-defined]
    assert isinstance(group, GroupCommit)
    return group


def _open(engine: Engine, n: int) -> list[str]:
    return [str(engine.open_case(pupil=f"GC-{i}", school="de-linde", actor="ib.jansen")["case_id"])
            for i in range(n)]


def _sound(engine: Engine) -> None:
    """The event chains and the access log's chain verify; every case replays to its projection."""
    with engine.uow(write=False) as uow:
        report = verify(uow)
    assert report.ok, report.as_dict()
    replayed = list(replay_all(engine, actor="auditor"))
    assert replayed and all(r.ok for r in replayed), [r.errors + r.mismatches for r in replayed if not r.ok]


def _queue_behind(engine: Engine, committer: GroupCommit, jobs: list[Callable[[], Any]],
                  first: Callable[[Any], None]) -> tuple[list[Any], list[BaseException], BaseException | None]:
    """Open a unit (it takes the turn), start one thread per job and wait until all of them are
    queued for the turn, then run `first` in the open unit and commit it. Returns the jobs'
    results (None where a job raised), their errors, and what the first unit raised."""
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = jobs[i]()
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    raised: BaseException | None = None
    try:
        with engine.uow() as uow:
            for t in threads:
                t.start()
            deadline = time.monotonic() + 30
            while committer._queued < len(jobs):
                assert time.monotonic() < deadline, "the threads never queued"
                time.sleep(0.001)
            first(uow)
            uow.commit()
    except Exception as exc:
        raised = exc
    for t in threads:
        t.join(30)
    return results, errors, raised


def _access_rows(engine: Engine) -> int:
    with engine.store.db.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(text("SELECT count(*) FROM access_log")).scalar_one())


def test_queued_commands_share_one_commit_and_are_all_durable(engine: Engine) -> None:
    cids = _open(engine, 8)
    committer = _committer(engine)
    commits, units = committer.commits, committer.units
    jobs: list[Callable[[], Any]] = [
        (lambda c=c: engine.record("signal", c, actor="lk.devries", area="lezen", note="n")) for c in cids]
    jobs += [(lambda c=c: engine.case(c, actor="ib.jansen")) for c in cids[:3]]  # a view writes its access record
    _, errors, raised = _queue_behind(engine, committer, jobs, lambda uow: None)
    assert errors == [] and raised is None
    assert committer.units - units >= len(jobs)
    assert committer.commits - commits < committer.units - units  # some of them shared a COMMIT
    # Durable for everyone: a connection of its own (another engine, as another process) sees it all.
    other = bootstrap(engine.config.path)
    try:
        for cid in cids:
            assert other.case(cid, actor="ib.jansen")["version"] == 2
    finally:
        other.db.dispose()
    assert _access_rows(engine) == 3 + len(cids)  # 3 views in the group, and `other`'s 8
    _sound(engine)


def test_a_failing_command_fails_alone(engine: Engine) -> None:
    """Two commands on one case at the same version, and a command that breaks after it wrote, in
    one group: the first of the pair to have its turn is stored, the second is a conflict, the broken one leaves
    nothing; the others in the group are untouched."""
    a, b, c = _open(engine, 3)
    committer = _committer(engine)

    def breaks() -> None:
        with engine.uow() as uow:
            case = uow.store.load(c)
            assert case is not None
            uow.connection.execute(  # type: ignore[attr-defined]
                text("UPDATE cases SET pupil_index = 'x' WHERE case_id = :c"), {"c": c})
            raise RuntimeError("the command fails after it wrote")

    jobs: list[Callable[[], Any]] = [
        lambda: engine.record("signal", a, actor="lk.devries", area="lezen", note="n", expected_version=1),
        lambda: engine.record("signal", a, actor="lk.devries", area="rekenen", note="n", expected_version=1),
        breaks,
        lambda: engine.record("signal", b, actor="lk.devries", area="lezen", note="n"),
    ]
    before_c = engine.case(c, actor="ib.jansen")
    _, errors, raised = _queue_behind(engine, committer, jobs, lambda uow: None)
    assert raised is None
    assert sorted(type(e).__name__ for e in errors) == ["Conflict", "RuntimeError"]
    view_a = engine.case(a, actor="ib.jansen")
    areas = [e["fields"].get("area") for e in view_a["evidence"]]
    assert view_a["version"] == 2 and areas in (["lezen"], ["rekenen"])  # whichever had its turn first
    assert engine.case(b, actor="ib.jansen")["version"] == 2
    after_c = engine.case(c, actor="ib.jansen")
    assert after_c["version"] == before_c["version"] == 1
    _sound(engine)


def test_a_commit_that_fails_fails_every_command_of_its_group_and_stores_nothing(engine: Engine) -> None:
    """A deferred foreign key fails only at COMMIT: nobody in that group may hear 'done'. (The
    store has no foreign keys of its own; two scratch tables give SQLite one to check.)"""
    with engine.db.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE gc_parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE gc_child (p INTEGER REFERENCES gc_parent (id) "
                             "DEFERRABLE INITIALLY DEFERRED)")
    a, b = _open(engine, 2)
    committer = _committer(engine)
    before = {cid: engine.case(cid, actor="ib.jansen")["version"] for cid in (a, b)}
    accessed = _access_rows(engine)

    def dangling(uow: Any) -> None:
        uow.connection.exec_driver_sql("INSERT INTO gc_child (p) VALUES (42)")

    jobs: list[Callable[[], Any]] = [
        lambda: engine.record("signal", a, actor="lk.devries", area="lezen", note="n"),
        lambda: engine.record("signal", b, actor="lk.devries", area="lezen", note="n"),
    ]
    _, errors, raised = _queue_behind(engine, committer, jobs, dangling)
    assert isinstance(raised, Conflict)
    assert len(errors) == len(jobs) and all(isinstance(e, Conflict) for e in errors), errors
    after = {cid: engine.case(cid, actor="ib.jansen")["version"] for cid in (a, b)}
    assert after == before
    assert _access_rows(engine) == accessed + 2  # only the two reads just above
    _sound(engine)


def test_a_lone_writer_commits_at_once(engine: Engine) -> None:
    committer = _committer(engine)
    commits = committer.commits
    for cid in _open(engine, 3):
        engine.record("signal", cid, actor="lk.devries", area="lezen", note="n")
    assert committer.commits - commits == 6  # three opened, three recorded: nobody waited for company


def test_a_write_unit_inside_another_on_one_thread_is_refused_not_a_deadlock(engine: Engine) -> None:
    _committer(engine)
    with engine.uow() as outer:
        with pytest.raises(RuntimeError, match="inside another"):
            engine.uow().__enter__()
        outer.commit()
    _open(engine, 1)  # the turn was given back


def test_nothing_may_follow_a_units_commit(engine: Engine) -> None:
    _committer(engine)
    with engine.uow() as uow:
        uow.commit()
        with pytest.raises(RuntimeError, match="has ended"):
            uow.connection.execute(text("SELECT 1"))  # type: ignore[attr-defined]


def test_postgres_keeps_its_own_grouping(tmp_path: Path) -> None:
    import os

    url = os.environ.get("PASSEND_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PASSEND_TEST_POSTGRES_URL is not set")
    from contextlib import contextmanager

    from tests.conftest import _postgres_schema_url

    with contextmanager(_postgres_schema_url)(url) as schema_url:
        e = bootstrap(write_config(tmp_path, schema_url), create_key=True)
        try:
            assert e.store.group_commit() is False
        finally:
            e.db.dispose()


def test_the_web_app_and_the_service_turn_it_on_unless_configured_off(tmp_path: Path) -> None:
    from workflow.bootstrap import long_running

    (tmp_path / "on").mkdir()
    (tmp_path / "off").mkdir()
    on = bootstrap(write_config(tmp_path / "on", f"sqlite:///{tmp_path / 'on.db'}"), create_key=True)
    off_config = write_config(tmp_path / "off", f"sqlite:///{tmp_path / 'off.db'}")
    off_config.write_text(off_config.read_text(encoding="utf-8").replace(
        "[database]\n", "[database]\ngroup_commit = false\n"), encoding="utf-8")
    off = bootstrap(off_config, create_key=True)
    try:
        assert long_running(on) is True and on.store.group is not None  # type: ignore[attr-defined]
        assert long_running(off) is False and off.store.group is None  # type: ignore[attr-defined]
    finally:
        on.db.dispose()
        off.db.dispose()


@pytest.mark.slow
def test_every_answered_command_survives_a_kill_of_the_web_app(tmp_path: Path) -> None:
    """`passend web` (group commit on) takes steps from 8 clients through the JSON API and is
    killed (SIGKILL) while they are at it: every step it answered 200 is in the store, nothing
    is stored twice, and the chains and the projection are sound."""
    import os
    import signal
    import subprocess
    import sys

    import httpx

    from tests.conftest import REPO
    from tests.reminders_support import free_port
    from tests.test_web_browser import _wait_until_up
    from workflow.service_layer import tokens

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'passend.db'}",
                       extra=f'\n[web]\nbase_url = "{base}"\n[notifier]\nbackend = "file"\nfolder = "out"\n'
                             'from = "passend@test.example"\n')
    engine = bootstrap(cfg, create_key=True)
    engine.init()
    cids = [str(engine.open_case(pupil=f"KILL-{i}", school="de-linde", actor="ib.jansen")["case_id"])
            for i in range(48)]
    _record, secret = tokens.add(engine, name="kill-test", role="leerkracht", schools=["de-linde"],
                                 roles=engine.definition.roles, known_schools=engine.config.schools,
                                 created_by="test")
    engine.db.dispose()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(cfg)]
    proc = subprocess.Popen([*cmd, "web", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
    answered: list[str] = []
    lock = threading.Lock()

    def client(share: list[str]) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=30) as c:
            for cid in share:
                try:
                    r = c.post(f"/api/v1/cases/{cid}/evidence", json={
                        "kind": "signal", "expected_version": 1, "fields": {"area": "lezen", "note": "n"}})
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 201:
                    with lock:
                        answered.append(cid)

    try:
        _wait_until_up(base, proc)
        threads = [threading.Thread(target=client, args=(cids[k::8],)) for k in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(answered) < 12 and time.monotonic() < deadline:
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        for t in threads:
            t.join(60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
    assert len(answered) >= 12
    after = bootstrap(cfg)
    try:
        for cid in answered:
            assert after.case(cid, actor="ib.jansen")["version"] == 2, cid
        for cid in set(cids) - set(answered):  # not answered: stored once or not at all
            assert after.case(cid, actor="ib.jansen")["version"] in (1, 2), cid
        _sound(after)
    finally:
        after.db.dispose()
