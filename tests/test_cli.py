"""The `passend` CLI: exit codes of every command, --json everywhere (errors too), no traceback
for any garbage, init idempotent, config and database from flags and the environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workflow.bootstrap import bootstrap
from workflow.entrypoints.cli.main import main as cli_main

from .conftest import write_config
from .engine_support import DEFAULT, dump

IB, LK, DIR, SMIT = "ib.jansen", "lk.devries", "dir.bakker", "ib.smit"


def no_traceback(r: Any) -> None:
    for stream in (r.out, r.err):
        assert "Traceback" not in stream and 'File "' not in stream, stream


def one_line_error(r: Any, code: int) -> None:
    assert r.code == code, (r.code, r.out, r.err)
    no_traceback(r)
    assert r.out == ""
    assert r.err.startswith("passend: ")


def open_case(cli: Any, pupil: str = "LL-1", actor: str = IB) -> str:
    r = cli("case", "open", "--pupil", pupil, "--school", "de-linde", "--actor", actor, "--json")
    assert r.code == 0, r.err
    return str(r.json()["case_id"])


@pytest.fixture
def engine_db(config_path: Path) -> Iterator[Any]:
    from workflow.adapters.config import load_config
    from workflow.adapters.store.db import make_engine

    db = make_engine(load_config(config_path).database_url)
    yield lambda: db
    db.dispose()


@pytest.fixture
def ready(cli: Any) -> Any:
    r = cli("init")
    assert r.code == 0, r.err
    return cli


# ---- init ----------------------------------------------------------------------------------

def test_init_is_idempotent(cli: Any, config_path: Path) -> None:
    r = cli("init")
    assert r.code == 0 and "database klaar" in r.out
    assert (config_path.parent / "var" / "master.key").exists()
    key = (config_path.parent / "var" / "master.key").read_text()
    r2 = cli("--json", "init")
    assert r2.code == 0 and r2.json()["heads"]
    r3 = cli("init", "--json")
    assert r3.json() == r2.json()
    assert (config_path.parent / "var" / "master.key").read_text() == key  # never replaced
    assert (config_path.parent / "var" / "master.key").stat().st_mode & 0o077 == 0


# ---- case open / list / show -------------------------------------------------------------------

def test_case_open_exit_codes(ready: Any) -> None:
    r = ready("case", "open", "--pupil", "LL-1", "--school", "de-linde", "--group", "5", "--actor", IB)
    assert r.code == 0 and r.out.startswith("C-") and "geopend in niveau_1" in r.out
    one_line_error(ready("case", "open", "--pupil", "LL 1", "--school", "de-linde", "--actor", IB), 2)
    one_line_error(ready("case", "open", "--pupil", "LL-2", "--school", "nergens", "--actor", IB), 2)
    one_line_error(ready("case", "open", "--pupil", "LL-2", "--school", "de-linde", "--actor", "x"), 2)
    one_line_error(ready("case", "open", "--pupil", "LL-2", "--school", "de-linde", "--group", "0",
                         "--actor", IB), 2)
    one_line_error(ready("case", "open", "--pupil", "LL-2", "--school", "de-linde"), 2)  # no actor
    r = ready("case", "open", "--pupil", "LL-2", "--school", "de-linde", "--actor", DIR)
    assert r.code == 3 and "mag u geen casus openen" in r.err
    r = ready("case", "open", "--pupil", "LL-1", "--school", "de-linde", "--actor", IB)
    assert r.code == 3 and "al een open casus" in r.err
    r = ready("case", "open", "--pupil", "LL-2", "--school", "de-linde", "--actor", SMIT)
    assert r.code == 3


def test_case_list_streams_what_it_printed_whole(ready: Any, config_path: Path) -> None:
    """`case list` prints the cases as they stream from the store; the bytes are those of the
    whole list rendered at once (json.dumps(indent=2) for --json, a line a case for text)."""
    import json


    ids = [open_case(ready, pupil=f"LL-{i}") for i in range(3)]
    closed = ready("case", "fire", ids[1], "close", "--reason", "verhuisd", "--actor", IB)
    assert closed.code == 0, closed.err
    engine = bootstrap(config_path)
    try:
        whole = engine.list_cases(actor="auditor")
    finally:
        engine.db.dispose()
    assert sorted(c["case_id"] for c in whole) == sorted(ids)
    r = ready("case", "list", "--json")
    assert r.code == 0 and r.out == json.dumps(whole, ensure_ascii=False, indent=2, default=str) + "\n"
    text = ready("case", "list", "--actor", "auditor")
    expected = [
        f"{c['case_id']:<12} {c['school']:<14} groep {c['group'] or '-':<2} "
        f"{c['state']:<16} niveau {c['level'] if c['level'] is not None else '-'}"
        + (f"  ({c['close_reason']})" if c["close_reason"] else "")
        for c in whole
    ]
    assert text.code == 0 and text.out.splitlines() == expected
    assert "(verhuisd)" in text.out
    none = ready("case", "list", "--school", "het-anker", "--actor", "auditor")
    assert none.code == 0 and none.out == "geen casussen\n"


def test_case_list_and_show(ready: Any) -> None:
    cid = open_case(ready)
    r = ready("case", "list", "--actor", IB)
    assert r.code == 0 and cid in r.out and "niveau_1" in r.out
    r = ready("case", "list", "--json")  # the one user with every school reads by default
    assert r.code == 0 and [c["case_id"] for c in r.json()] == [cid]
    assert ready("case", "list", "--state", "afgesloten", "--actor", IB, "--json").json() == []
    one_line_error(ready("case", "list", "--state", "zweven", "--actor", IB), 2)
    one_line_error(ready("case", "list", "--school", "de-linde", "--actor", SMIT), 3)
    r = ready("case", "show", cid, "--actor", IB)
    assert r.code == 0 and "Mogelijke stappen" in r.out and "[nee] Opschalen" in r.out
    assert "Er is nog geen signalering" in r.out
    v = ready("case", "show", cid, "--actor", DIR, "--json").json()
    assert v["case_id"] == cid and v["state"] == "niveau_1" and v["options"]
    one_line_error(ready("case", "show", "C-NOPE", "--actor", IB), 2)
    one_line_error(ready("case", "show", cid, "--actor", SMIT), 3)


# ---- record --------------------------------------------------------------------------------------

def test_record_exit_codes(ready: Any) -> None:
    cid = open_case(ready)
    r = ready("record", "signal", cid, "--area", "lezen", "--note", "n", "--actor", LK)
    assert r.code == 0 and "#2" in r.out
    r = ready("record", "signal", cid, "--area", "lezen", "--note", "n", "--actor", LK, "--json")
    assert r.json() == {"case_id": cid, "seq": 3, "kind": "signal", "version": 3}
    one_line_error(ready("record", "signal", cid, "--area", "x", "--note", "n", "--actor", LK), 2)
    one_line_error(ready("record", "consent", cid, "--scope", "bot_aanmelding", "--status", "granted",
                         "--by", "m", "--actor", LK), 3)
    r = ready("record", "signal", cid, "--area", "lezen", "--note", "n", "--actor", IB,
              "--expect-version", "2")
    assert r.code == 4 and "versie 3, niet 2" in r.err
    r = ready("record", "signal", cid, "--area", "lezen", "--note", "n", "--actor", IB,
              "--expect-version", "3")
    assert r.code == 0
    r = ready("record", "--help")
    assert r.code == 0 and all(k in r.out for k in ("signal", "plan", "evaluation", "consent", "view",
                                                     "meeting", "contact"))


# ---- fire --------------------------------------------------------------------------------------

def test_fire_exit_codes(ready: Any, engine_db: Any) -> None:
    cid = open_case(ready)
    r = ready("case", "fire", cid, "escalate", "--actor", LK)
    assert r.code == 3 and r.out == ""
    text = "Er is nog geen signalering vastgelegd sinds de casus op niveau 1 kwam."
    assert r.err.splitlines() == [f"passend: Opschalen geweigerd voor casus {cid}", f"  - {text}"]
    j = ready("case", "fire", cid, "escalate", "--actor", LK, "--json")
    assert j.code == 3 and j.json() == {
        "error": f"Opschalen geweigerd voor casus {cid}",
        "reasons": [{"code": "evidence_missing", "text": text, "params": {
            "kind": "signal", "where": {}, "since": "level_entered", "level": 1, "min": 1, "have": 0}}],
        "exit_code": 3}
    ready("record", "signal", cid, "--area", "lezen", "--note", "n", "--actor", LK)
    before = dump(engine_db())
    r = ready("case", "fire", cid, "escalate", "--actor", LK, "--dry-run")
    assert r.code == 0 and "niets opgeslagen" in r.out
    assert ready("case", "fire", cid, "escalate", "--actor", LK, "--dry-run", "--json").json()["dest"] == "niveau_2"
    r = ready("case", "fire", cid, "escalate", "--actor", LK, "--expect-version", "1")
    assert r.code == 4 and "versie 2, niet 1" in r.err
    assert dump(engine_db()) == before
    one_line_error(ready("case", "fire", cid, "fly", "--actor", IB), 2)
    one_line_error(ready("case", "fire", cid, "close", "--actor", IB), 2)
    one_line_error(ready("case", "fire", cid, "close", "--reason", "ruzie", "--actor", IB), 2)
    one_line_error(ready("case", "fire", cid, "close", "--param", "reason", "--actor", IB), 2)
    one_line_error(ready("case", "fire", cid, "close", "--param", "x=y", "--reason", "verhuisd",
                         "--actor", IB), 2)
    one_line_error(ready("case", "fire", cid, "escalate", "--actor", LK, "--expect-version", "x"), 2)
    assert dump(engine_db()) == before
    r = ready("case", "fire", cid, "escalate", "--actor", LK, "--expect-version", "2", "--json")
    assert r.code == 0 and r.json()["state"] == "niveau_2" and r.json()["version"] == 3
    r = ready("case", "fire", cid, "close", "--param", "reason=verhuisd", "--actor", IB)
    assert r.code == 0 and "Afgesloten" in r.out
    r = ready("case", "fire", cid, "escalate", "--actor", IB)
    assert r.code == 3 and "De casus is afgesloten." in r.err


# ---- process show ------------------------------------------------------------------------------

def test_process_show(cli: Any) -> None:
    r = cli("process", "show")
    assert r.code == 0 and "escalate: niveau_1 -> niveau_2" in r.out
    m = cli("process", "show", "--format", "mermaid")
    assert m.code == 0 and "stateDiagram-v2" in m.out and m.out.startswith("---\ntitle: ")
    for state in ("niveau_1", "opp_vastgesteld", "geschil", "afgesloten"):
        assert state in m.out
    j = cli("process", "show", "--format", "json")
    assert j.code == 0 and j.json()["id"] == "passend-po"
    assert cli("--json", "process", "show", "--format", "mermaid").json()["version"] == 1
    one_line_error(cli("process", "show", "--version", "9"), 2)
    one_line_error(cli("process", "show", "--format", "svg"), 2)


# ---- every command: --json errors, garbage, no traceback ---------------------------------------

GARBAGE = [
    ("case",), ("case", "open"), ("case", "open", "--pupil"), ("case", "show"),
    ("case", "show", "'; DROP TABLE events; --", "--actor", IB), ("case", "show", "\x00", "--actor", IB),
    ("case", "fire"), ("case", "fire", "C-X"), ("case", "fire", "C-X", "escalate", "--actor", IB),
    ("case", "list", "--actor", "\u00e9\u00e9n"), ("case", "list", "--school"),
    ("record",), ("record", "signal"), ("record", "signal", "C-X", "--actor", IB),
    ("record", "plan", "C-X", "--start", "🙂", "--actor", IB), ("record", "evaluation", "C-X", "--plan", "-1"),
    ("process", "show", "--version", "abc"), ("process", "explode"), ("init", "extra"),
    ("frobnicate",), ("--config",), ("case", "open", "--pupil", "x" * 10_000, "--school", "de-linde",
                                     "--actor", IB),
    ("case", "open", "--pupil", "P", "--school", "de-linde", "--actor", IB, "--group", "1e9"),
]


@pytest.mark.parametrize("args", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_never_shows_a_traceback(ready: Any, args: tuple[str, ...]) -> None:
    r = ready(*args)
    assert r.code == 2, (args, r.code, r.out, r.err)
    no_traceback(r)
    j = ready("--json", *args)
    assert j.code == 2
    no_traceback(j)
    body = j.json()
    assert body["exit_code"] == 2 and isinstance(body["error"], str) and "\n" not in body["error"]


def test_json_flag_before_or_after_every_command(ready: Any) -> None:
    cid = open_case(ready)
    for args in [("case", "list", "--actor", IB), ("case", "show", cid, "--actor", IB),
                 ("record", "signal", cid, "--area", "lezen", "--note", "n", "--actor", LK),
                 ("case", "fire", cid, "escalate", "--actor", LK, "--dry-run"), ("process", "show"),
                 ("init",)]:
        for r in (ready("--json", *args), ready(*args, "--json")):
            assert r.code == 0, (args, r.err)
            json.loads(r.out)


# ---- configuration -------------------------------------------------------------------------------

def run(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    from .conftest import CliResult

    capsys.readouterr()
    code = cli_main(list(args))
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


def test_missing_or_bad_config_is_exit_2_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.toml here
    monkeypatch.setenv("PASSEND_MASTER_KEY", "A" * 43)
    monkeypatch.delenv("PASSEND_CONFIG", raising=False)
    r = run(capsys, "case", "list", "--actor", IB)
    one_line_error(r, 2)
    assert "config.toml: configuratiebestand niet gevonden" in r.err and len(r.err.splitlines()) == 1
    r = run(capsys, "--config", str(tmp_path / "none.toml"), "--json", "init")
    assert r.code == 2 and "none.toml" in r.json()["error"]
    bad = tmp_path / "bad.toml"
    for content, key in [("[database\n", "geen geldige TOML"), ("[nonsense]\n", "regel 1: nonsense: onbekende sectie"),
                         ("database = 3\n", "database: moet een tabel zijn"),
                         ('[database]\nurl = "mysql://x/y"\n', "regel 2: database.url"),
                         ('[[users]]\nid = "u"\nrole = "ib"\nschools = ["nergens"]\n', "regel 4: users[0].schools"),
                         (f'[process]\ndefinition = "{DEFAULT}"\n[[users]]\nid = "u"\nrole = "koning"\n',
                          "regel 5: users[0].role: onbekende rol 'koning'"),
                         ('[process]\ndefinition = "missing.toml"\n', "missing.toml bestaat niet"),
                         ('[logging]\nlevel = "loud"\n', "logging.level: moet een van"),
                         ('[[users]]\nid = "u"\nrole = "ib"\n[[users]]\nid = "u"\nrole = "leerkracht"\n',
                          "regel 5: users[1].id: gebruiker 'u' staat er al")]:
        bad.write_text(content, encoding="utf-8")
        r = run(capsys, "--config", str(bad), "case", "list", "--actor", "u")
        one_line_error(r, 2)
        assert key in r.err and len(r.err.splitlines()) == 1, (content, r.err)
    r = run(capsys, "--config", str(tmp_path), "init")
    one_line_error(r, 2)


def test_config_and_database_from_the_environment(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    cfg = write_config(a, f"sqlite:///{a / 'in-config.db'}")
    monkeypatch.chdir(b)
    monkeypatch.setenv("PASSEND_CONFIG", str(cfg))
    assert run(capsys, "init").code == 0
    assert (a / "in-config.db").exists()
    assert run(capsys, "case", "open", "--pupil", "E-1", "--school", "de-linde", "--actor", IB).code == 0
    monkeypatch.setenv("PASSEND_DATABASE_URL", f"sqlite:///{b / 'from-env.db'}")
    assert run(capsys, "init").code == 0 and (b / "from-env.db").exists()
    r = run(capsys, "--json", "case", "list", "--actor", IB)
    assert r.json() == [], r.out  # the other database
    monkeypatch.delenv("PASSEND_DATABASE_URL")
    assert len(run(capsys, "--json", "case", "list", "--actor", IB).json()) == 1
    # --config wins over PASSEND_CONFIG
    cfg_b = write_config(b, f"sqlite:///{b / 'from-env.db'}")
    (b / "var").mkdir()
    (b / "var" / "master.key").write_text((a / "var" / "master.key").read_text())
    assert run(capsys, "--config", str(cfg_b), "--json", "case", "list", "--actor", IB).json() == []
    monkeypatch.setenv("PASSEND_DATABASE_URL", "nonsense")
    one_line_error(run(capsys, "case", "list", "--actor", IB), 2)


def test_uninitialised_and_unreachable_databases(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}")
    monkeypatch.setenv("PASSEND_MASTER_KEY", "A" * 43)
    r = run(capsys, "--config", str(cfg), "case", "list", "--actor", IB)
    one_line_error(r, 2)
    assert "passend init" in r.err
    monkeypatch.setenv("PASSEND_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    r = run(capsys, "--config", str(cfg), "--json", "case", "list", "--actor", IB)
    assert r.code == 1 and "niet bereikbaar" in r.json()["error"]
    no_traceback(r)


def test_missing_master_key(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSEND_MASTER_KEY", raising=False)
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}")
    r = run(capsys, "--config", str(cfg), "case", "list", "--actor", IB)
    one_line_error(r, 2)
    assert "passend init" in r.err
    monkeypatch.setenv("PASSEND_MASTER_KEY", "too-short")
    one_line_error(run(capsys, "--config", str(cfg), "init"), 2)


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--version").code == 0
    r = run(capsys, "--help")
    assert r.code == 0 and "Afsluitcodes" in r.out
    r = run(capsys)
    assert r.code == 2 and "Opdrachten:" in r.err


def test_demo_walks_a_case_to_an_adopted_opp(cli: Any) -> None:
    r = cli("--json", "demo")
    assert r.code == 0, r.err
    steps = r.json()
    assert steps[0]["state"] == "niveau_1" and steps[-1]["state"] == "opp_vastgesteld"
    cid = steps[-1]["case_id"]
    assert cli("--json", "case", "show", cid, "--actor", IB).json()["opp_active"] is True


@pytest.mark.slow
def test_a_real_process_keeps_stdout_for_results_and_stderr_for_logs(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}")
    cfg.write_text(cfg.read_text().replace('level = "warning"', 'level = "info"'))

    def passend(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "workflow.entrypoints.cli.main", "--config", str(cfg), *args],
                              capture_output=True, text=True, timeout=120,
                              cwd=Path(__file__).resolve().parents[1])

    assert passend("init").returncode == 0
    r = passend("--json", "case", "open", "--pupil", "SUB-1", "--school", "de-linde", "--name", "Naam Geheim",
                "--actor", IB)
    assert r.returncode == 0, r.stderr
    cid = json.loads(r.stdout)["case_id"]  # stdout is only the result
    logs = [json.loads(line) for line in r.stderr.splitlines()]  # stderr is only JSON log lines
    assert any(entry["event"] == "case.opened" and entry["case_id"] == cid for entry in logs)
    assert "Naam Geheim" not in r.stderr and "SUB-1" not in r.stderr
    r = passend("case", "fire", cid, "escalate", "--actor", LK, "--json")
    assert r.returncode == 3 and json.loads(r.stdout)["exit_code"] == 3
    r = passend("case", "show", "C- x;--", "--actor", IB)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_fuzzed_command_lines_never_crash(ready: Any) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    cid = open_case(ready)
    words = ["case", "open", "list", "show", "fire", "record", "signal", "plan", "evaluation", "consent",
             "view", "meeting", "contact", "process", "init", "--actor", IB, LK, DIR, "--json", "--pupil",
             "--school", "de-linde", "--area", "lezen", "--note", "x", "--date", "2020-01-01", "--outcome",
             "tlv", "--reason", "verhuisd", "escalate", "close", "bot_outcome", cid, "C-NOPE", "--dry-run",
             "--expect-version", "1", "2", "--param", "a=b", "--format", "json", "mermaid", "--party",
             "ouders", "--text", "--kind", "oogo", "--participants", "--method", "brief", "--scope",
             "bot_aanmelding", "--status", "granted", "--by", "--plan", "-1", "", " ", "\u00e9"]

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.sampled_from(words), min_size=1, max_size=9))
    def fuzz(argv: list[str]) -> None:
        r = ready(*argv)
        assert r.code in (0, 2, 3, 4), (argv, r.code, r.out, r.err)
        no_traceback(r)
        if "--json" in argv and r.out and r.code != 0:
            assert json.loads(r.out)["exit_code"] == r.code

    fuzz()


def test_demo_serve_without_an_ib_address_says_why(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`demo --serve` needs the first school's IB to have an e-mail address (the sign-in link is
    made for it); without one it says so in one line, exit 2, before anything listens. It once
    said only 'onjuiste aanroep': its refusal was a bare click error, which the CLI words as a
    wrong call."""
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}")
    cfg.write_text(cfg.read_text().replace('email = "ib@de-linde.school.example"\n', ""))
    r = run(capsys, "--config", str(cfg), "demo", "--pupils", "5", "--seed", "1", "--serve")
    one_line_error(r, 2)
    assert r.err.strip() == "passend: config.toml heeft geen IB met een e-mailadres voor de eerste school"
    assert (tmp_path / "p.db").stat().st_size == 0  # refused before the demo was made: no table, no case
