"""`case show` through the driver (store.direct, on SQLite) reads what the Engine reads.

`passend case show` takes `bootstrap.reader`'s context: on a SQLite file a store of the few
statements one read needs, without SQLAlchemy; on PostgreSQL the Engine itself. Here both are
asked the same, on a generated population, by every kind of user, and must answer the same: the
same view (as JSON and as text, byte for byte), or the same refusal (type, line, exit code,
reasons). The access records the two paths leave are the same rows in one chain, which `audit
verify` passes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult
from workflow.bootstrap import reader
from workflow.demo.population import populate
from workflow.domain.errors import PassendError
from workflow.entrypoints.cli.case import render_case
from workflow.entrypoints.cli.main import main as cli_main
from workflow.service_layer import queries
from workflow.service_layer.engine import Engine

# An API token's actor (`api:<name>`) is read by the Engine even on SQLite (cli.main.State.reader).
READERS = ("auditor", "ib.jansen", "ib.smit", "lk.devries", "dir.bakker", "nobody")


def _outcome(read: Callable[[], dict[str, Any]]) -> tuple[Any, ...]:
    """What `case show` prints for a read: the view's JSON and text, or the refusal."""
    try:
        v = read()
    except PassendError as exc:
        return ("refused", type(exc).__name__, exc.message, exc.exit_code, exc.reasons, exc.details)
    return ("shown", json.dumps(v, ensure_ascii=False, indent=2, default=str), render_case(v))


def _access_rows(engine: Engine, n: int) -> list[tuple[Any, ...]]:
    from sqlalchemy import text

    with engine.db.connect() as conn:
        rows = conn.execute(text("SELECT actor, role, action, case_id, school, purpose, on_behalf_of, source "
                                 "FROM access_log ORDER BY id DESC LIMIT :n"), {"n": n}).all()
    return [tuple(r) for r in reversed(rows)]


def _cli(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> CliResult:
    capsys.readouterr()
    code = cli_main(["--config", str(config), *args])
    out = capsys.readouterr()
    return CliResult(code, out.out, out.err)


@pytest.mark.slow
def test_every_case_reads_the_same_as_through_the_engine(
    engine: Engine, config_path: Path, db_url: str, capsys: pytest.CaptureFixture[str],
) -> None:
    populate(engine, pupils=36, seed=5, now=dt.datetime.now(dt.UTC))
    ids = [r["case_id"] for r in engine.list_cases(actor="auditor")]
    ids += ["C-ZZZZZZZZ", "geen casus!"]
    ctx = reader(config_path)
    assert (type(ctx.store).__name__ == "DirectStore") == db_url.startswith("sqlite")
    shown = refused = 0
    kinds: set[str] = set()
    for cid in ids:
        for actor in READERS:
            want = _outcome(lambda: engine.case(cid, actor=actor, purpose="zorgoverleg"))  # noqa: B023
            got = _outcome(lambda: queries.case(ctx, cid, actor=actor, purpose="zorgoverleg"))  # noqa: B023
            assert got == want, (cid, actor)
            if want[0] == "shown":
                shown += 1
                view = json.loads(want[1])
                kinds.update(k for k in ("evidence", "deadlines", "closed_at", "history") if view.get(k))
                # the two reads left the same record, one after the other in the chain
                first, second = _access_rows(engine, 2)
                assert first == second and first[0] == actor and first[3] == cid
            else:
                refused += 1
    assert shown > 36 and refused > 36  # every case shown to some, refused to others
    assert kinds == {"evidence", "deadlines", "closed_at", "history"}  # the population has all of them
    # a disabled user is refused alike
    engine.users.set_disabled("ib.jansen", True, now=engine.clock())
    assert (_outcome(lambda: queries.case(ctx, ids[0], actor="ib.jansen"))
            == _outcome(lambda: engine.case(ids[0], actor="ib.jansen")))
    assert _outcome(lambda: queries.case(ctx, ids[0], actor="ib.jansen"))[3] == 3
    # bad input: the same line
    long = "x" * 300
    assert (_outcome(lambda: queries.case(ctx, ids[0], actor="auditor", purpose=long))
            == _outcome(lambda: engine.case(ids[0], actor="auditor", purpose=long)))
    ctx.store.dispose()  # type: ignore[attr-defined]
    engine.db.dispose()
    # the chain both paths wrote into is whole
    assert _cli(capsys, config_path, "audit", "verify").code == 0


@pytest.mark.slow
def test_the_command_prints_the_engines_view(
    engine: Engine, config_path: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    populate(engine, pupils=12, seed=11, now=dt.datetime.now(dt.UTC))
    cases = engine.list_cases(actor="auditor")
    for row in cases[:6]:
        actor = "ib.jansen" if row["school"] == "de-linde" else "ib.smit"
        v = engine.case(row["case_id"], actor=actor)
        r = _cli(capsys, config_path, "--json", "case", "show", row["case_id"], "--actor", actor)
        assert (r.code, r.out) == (0, json.dumps(v, ensure_ascii=False, indent=2, default=str) + "\n")
        r = _cli(capsys, config_path, "case", "show", row["case_id"], "--actor", actor)
        assert (r.code, r.out) == (0, render_case(v) + "\n")
    other = next(r for r in cases if r["school"] == "het-anker")
    r = _cli(capsys, config_path, "case", "show", other["case_id"], "--actor", "ib.jansen")
    assert r.code == 3 and r.out == "" and "werkt niet voor school 'het-anker'" in r.err
    r = _cli(capsys, config_path, "--json", "case", "show", "C-ZZZZZZZZ", "--actor", "ib.jansen")
    assert r.code == 2 and r.json()["error"] == "casus 'C-ZZZZZZZZ' bestaat niet"
    r = _cli(capsys, config_path, "case", "show", other["case_id"], "--actor", "api:geen")
    want = _outcome(lambda: engine.case(other["case_id"], actor="api:geen"))
    assert want[0] == "refused" and r.code == want[3] and want[2] in r.err
    # --access-log: the record goes to the file, in its own chain
    log = tmp_path / "inzage.jsonl"
    r = _cli(capsys, config_path, "--access-log", str(log), "case", "show", cases[0]["case_id"], "--actor", "auditor")
    assert r.code == 0 and json.loads(log.read_text().splitlines()[-1])["case_id"] == cases[0]["case_id"]
    engine.db.dispose()
    assert _cli(capsys, config_path, "--access-log", str(log), "audit", "verify").code == 0


def test_the_plain_forms_skip_click_and_print_what_click_prints(
    engine: Engine, config_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """cli.quick takes the plain forms of `case show` and leaves every other to click; either
    way the command prints what click's `case show` prints (cli.app.run, asked the same)."""
    from workflow.entrypoints.cli import app, quick

    cid = engine.open_case(pupil="P-1", school="de-linde", actor="ib.jansen", name="An \x1b[31mRood",
                           group=5)["case_id"]
    other = engine.open_case(pupil="P-2", school="het-anker", actor="ib.smit")["case_id"]
    engine.db.dispose()
    forms: list[tuple[bool, list[str]]] = [
        (True, ["--json", "case", "show", cid, "--actor", "ib.jansen"]),
        (True, ["case", "show", cid, "--actor", "ib.jansen"]),
        (True, ["case", "show", "--actor=ib.jansen", cid, "--json"]),
        (True, ["case", "show", cid, "--actor", "auditor", "--purpose", "zorgoverleg", "--on-behalf-of", "ouders"]),
        (True, ["--json", "case", "show", "C-ZZZZZZZZ", "--actor", "ib.jansen"]),
        (True, ["case", "show", other, "--actor", "ib.jansen"]),
        (True, ["--json", "case", "show", cid, "--actor", "nobody"]),
        (True, ["case", "show", cid, "--actor", "auditor", "--purpose", "x" * 300]),
        (False, ["case", "show", cid]),
        (False, ["case", "show", cid, "--actor", "ib.jansen", "--actor", "auditor"]),
        (False, ["case", "--json", "show", cid, "--actor", "ib.jansen"]),
        (False, ["case", "show", "--help"]),
        (False, ["case", "show", cid, "--actor", "-x"]),
        (False, ["case", "show", cid, "--actor", "ib.jansen", "--colour"]),
        (False, ["case", "show", cid, "extra", "--actor", "ib.jansen"]),
        (False, ["case", "list", "--actor", "ib.jansen"]),
    ]
    for plain, form in forms:
        argv = ["--config", str(config_path), *form]
        assert (quick.show_args(argv) is not None) == plain, form
        quick_out = _cli(capsys, config_path, *form)
        capsys.readouterr()
        code = app.run(argv)
        out = capsys.readouterr()
        assert (quick_out.code, quick_out.out, quick_out.err) == (code, out.out, out.err), form
    shown = _cli(capsys, config_path, "case", "show", cid, "--actor", "ib.jansen")
    assert "(An Rood)" in shown.out  # the escape is stripped off a terminal, as click does


def test_a_bad_config_is_refused_as_click_refuses_it(
    engine: Engine, config_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """The quick path reads config.toml through the TOML cache (bootstrap.reader): each broken
    file gets click's one line, the first time (parsed) and the second (its table kept, when
    it parses), and an edited file is read afresh."""
    from workflow.entrypoints.cli import app

    engine.db.dispose()
    good = config_path.read_text(encoding="utf-8")
    bad = config_path.with_name("bad.toml")  # its relative paths as the good one's
    form = ["--json", "case", "show", "C-ZZZZZZZZ", "--actor", "ib.jansen"]
    for content, line in (("[database\n", "geen geldige TOML"), ("[nonsense]\n", "nonsense: onbekende sectie"),
                          (good.replace('level = "warning"', 'level = "loud"', 1),
                           "logging.level: moet een van"),
                          (good.replace("[database]", "[database]\nlock_timeout_seconds = -1", 1),
                           "database.lock_timeout_seconds: moet een getal"),
                          (good + "\n", "casus 'C-ZZZZZZZZ' bestaat niet")):
        bad.write_text(content, encoding="utf-8")
        for _ in range(2):
            quick_out = _cli(capsys, bad, *form)
            code = app.run(["--config", str(bad), *form])
            out = capsys.readouterr()
            assert (quick_out.code, quick_out.out, quick_out.err) == (code, out.out, out.err), content
            assert code == 2 and line in out.out, (line, out.out)
