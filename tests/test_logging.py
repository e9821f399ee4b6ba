"""Logs: JSON off a terminal, case id and actor on every line of a case command, and never a
name, note, view or other personal text, not even when a command fails. The real stderr is
captured (structlog.testing.capture_logs would skip the processors that matter here)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from workflow.adapters.logs import REDACTED, configure
from workflow.entrypoints.cli.main import main as cli_main

from .conftest import CliResult, write_config

IB, LK = "ib.jansen", "lk.devries"
SENSITIVE = {
    "pupil": "PUPREF-77x", "name": "Marijke Zeldzaam", "note": "bijt-klasgenoten-4411",
    "notes": "evaluatie-geheim-8", "view": "wij-willen-niet-x9", "reason": "ziek-thuis-k3",
    "participants": "oom-Barend-Q", "by": "stiefvader-Kees-Z", "goals": "doel-geheim-g1",
    "who": "meester-Pim-2", "summary": "afspraak-s7",
}


@pytest.fixture
def info_config(tmp_path: Path, db_url: str) -> Path:
    path = write_config(tmp_path, db_url)
    path.write_text(path.read_text().replace('level = "warning"', 'level = "info"'))
    return path


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], info_config: Path) -> Any:
    def go(*args: str) -> CliResult:
        capsys.readouterr()
        code = cli_main(["--config", str(info_config), *args])
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    yield go
    structlog.contextvars.clear_contextvars()


def log_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def assert_clean(text: str) -> None:
    for field, value in SENSITIVE.items():
        assert value not in text, f"{field} leaked: {text}"


def test_logs_are_json_with_case_and_actor_and_no_personal_data(run: Any) -> None:
    s = SENSITIVE
    r = run("init")
    assert r.code == 0 and log_lines(r.err)[0]["event"] == "database.ready"
    r = run("case", "open", "--pupil", s["pupil"], "--school", "de-linde", "--name", s["name"],
            "--actor", IB, "--json")
    assert r.code == 0
    cid = r.json()["case_id"]
    logged = r.err
    today = dt.date.today()
    start, end = (today - dt.timedelta(days=60)).isoformat(), (today - dt.timedelta(days=5)).isoformat()
    commands: list[tuple[str, ...]] = [
        ("record", "signal", cid, "--area", "lezen", "--note", s["note"], "--actor", LK),
        ("case", "fire", cid, "escalate", "--actor", LK),
        ("record", "plan", cid, "--start", start, "--end", end, "--goals", s["goals"],
         "--who", s["who"], "--frequency", "3x", "--actor", LK),
        ("record", "evaluation", cid, "--outcome", "onvoldoende", "--notes", s["notes"], "--actor", LK,
         "--date", end),
        ("record", "view", cid, "--party", "ouders", "--text", s["view"], "--actor", IB),
        ("record", "view", cid, "--party", "leerling", "--reason-not-heard", s["reason"], "--actor", IB),
        ("record", "meeting", cid, "--kind", "leerlingbespreking", "--participants", s["participants"],
         "--summary", s["summary"], "--actor", IB),
        ("record", "consent", cid, "--scope", "externe_deskundige", "--status", "granted", "--by", s["by"],
         "--actor", IB),
        ("record", "contact", cid, "--method", "telefoon", "--note", s["note"], "--actor", IB),
        ("case", "fire", cid, "escalate", "--actor", IB),  # refused: logged without reasons' text
        ("case", "fire", cid, "escalate", "--actor", LK, "--dry-run"),  # refused for the role
        ("case", "show", cid, "--actor", IB),
        ("case", "list", "--actor", IB),
    ]
    for args in commands:
        r = run(*args)
        assert r.code in (0, 3), (args, r.err)
        if args[0] != "case" or args[1] != "show":
            assert_clean(r.out)
        assert_clean(r.err)
        lines = log_lines(r.err)
        assert lines or (args[0] == "case" and args[1] in ("show", "list")), args  # reads may be silent
        assert all(line.startswith(("{", "passend: ", "  - ")) for line in r.err.splitlines()), r.err
        for line in lines:
            assert line["actor"] in (IB, LK)
            assert "timestamp" in line and "level" in line
            if args[:2] != ("case", "list"):
                assert line["case_id"] == cid, line
        logged += r.err
    events = [e["event"] for e in log_lines(logged)]
    for expected in ("case.opened", "evidence.recorded", "transition.fired", "transition.refused"):
        assert expected in events
    show = run("case", "show", cid, "--actor", IB, "--json").json()
    assert show["name"] == s["name"]  # the data is there for the IB, only not in logs


def test_failing_commands_do_not_echo_personal_data(run: Any) -> None:
    s = SENSITIVE
    run("init")
    cid = run("case", "open", "--pupil", "OK-1", "--school", "de-linde", "--actor", IB, "--json").json()["case_id"]
    failing: list[tuple[str, ...]] = [
        ("case", "open", "--pupil", s["name"], "--school", "de-linde", "--actor", IB),  # a name as ref
        ("case", "open", "--pupil", "OK-2", "--school", "de-linde", "--name", s["name"] * 20, "--actor", IB),
        ("case", "open", "--pupil", s["pupil"], "--school", "nergens", "--name", s["name"], "--actor", IB),
        ("record", "signal", cid, "--area", "zwemmen", "--note", s["note"], "--actor", LK),
        ("record", "signal", cid, "--area", "lezen", "--note", s["note"] * 2000, "--actor", LK),
        ("record", "view", cid, "--party", "ouders", "--text", s["view"], "--reason-not-heard", s["reason"],
         "--actor", IB),
        ("record", "consent", cid, "--scope", "opp_handelingsdeel", "--status", "revoked", "--by", s["by"],
         "--actor", IB),
        ("record", "meeting", cid, "--kind", "bot", "--participants", s["participants"], "--actor", IB),
        ("record", "view", cid, "--party", "ouders", "--text", s["view"], "--actor", LK),  # role refusal
        ("record", "signal", cid, "--area", "lezen", "--note", s["note"], "--actor", IB,
         "--expect-version", "7"),
        ("record", "signal", "C-NOPE", "--area", "lezen", "--note", s["note"], "--actor", IB),
    ]
    for args in failing:
        for extra in ((), ("--json",)):
            r = run(*args, *extra)
            assert r.code in (2, 3, 4), (args, r.code, r.err)
            assert_clean(r.out)
            assert_clean(r.err)


def test_redaction_drops_personal_values_by_key() -> None:
    out = io.StringIO()
    configure("debug", json=True, stream=out)
    try:
        structlog.contextvars.bind_contextvars(case_id="C-1", name="Marijke")
        log = structlog.get_logger("t")
        log.info("careless", note="bijt", text="view", participants="oom", by="kees", kind="signal",
                 pupil="REF", summary="s", goals="g")
        line = json.loads(out.getvalue().strip())
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()
    assert line["case_id"] == "C-1" and line["kind"] == "signal"
    for key in ("name", "note", "text", "participants", "by", "pupil", "summary", "goals"):
        assert line[key] == REDACTED
    assert "Marijke" not in out.getvalue() and "bijt" not in out.getvalue()


def test_console_renderer_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    configure("info", stream=out)
    try:
        structlog.get_logger("t").info("hello", case_id="C-1", note="geheim")
    finally:
        structlog.reset_defaults()
    text = out.getvalue()
    assert "hello" in text and not text.startswith("{") and "geheim" not in text


def test_lines_are_those_of_structlogs_own_processors() -> None:
    """The short chain (one step for level and time, exceptions formatted only when there is one,
    an encoder built once) writes exactly what structlog's add_log_level, TimeStamper(iso, utc),
    format_exc_info and JSONRenderer would."""
    import datetime as dt

    from workflow.adapters import logs

    class Odd:
        def __repr__(self) -> str:
            return "<odd>"

    class Own:
        def __structlog__(self) -> dict[str, int]:
            return {"own": 1}

    times: list[str] = []

    def freeze(_l: Any, _m: str, ed: Any) -> Any:
        times.append(ed["timestamp"])
        ed["timestamp"] = "T"
        return ed

    def lines(processors: list[Any]) -> str:
        out = io.StringIO()
        structlog.configure(processors=processors, logger_factory=structlog.WriteLoggerFactory(out))
        structlog.contextvars.bind_contextvars(case_id="C-1", actor=IB)
        try:
            log = structlog.get_logger("t")
            log.info("one", n=1, note="x", day=dt.date(2026, 1, 1), odd=Odd(), own=Own(), text="ë€")
            log.warn("two")
            log.warning("three")
            log.error("four", flag=True, none=None)
            try:
                raise ZeroDivisionError("x")
            except ZeroDivisionError:
                log.exception("five")
        finally:
            structlog.contextvars.clear_contextvars()
            structlog.reset_defaults()
        return out.getvalue()

    head = [structlog.contextvars.merge_contextvars, logs.redact]
    theirs = lines([*head, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.format_exc_info, freeze, structlog.processors.JSONRenderer()])
    ours = lines([*head, logs.add_level_and_time, logs.format_exc_info, freeze, logs.render_json])
    assert ours == theirs
    # ... and so does the chain as one step, as configure() sets it up (the clock frozen before the renderer)
    one = lines([logs.one_step(structlog.contextvars.merge_contextvars,
                               lambda lg, m, ed: logs.render_json(lg, m, freeze(lg, m, ed)))])
    assert one == theirs
    assert len(ours.splitlines()) == 5 and "ZeroDivisionError" in ours
    for stamp in times:  # and the times themselves have the same form: ISO, UTC, with a Z
        assert stamp.endswith("Z") and dt.datetime.fromisoformat(stamp[:-1] + "+00:00").tzinfo is not None


def test_a_commands_context_replaces_the_previous_commands() -> None:
    """bind_command leaves bound exactly the values it was given: a key of the previous command
    that this one does not bind is gone, one it binds again has its new value."""
    from workflow.adapters.logs import bind_command

    try:
        structlog.contextvars.bind_contextvars(stray="x")
        bind_command(actor=IB, case_id="C-1", command="fire")
        assert structlog.contextvars.get_contextvars() == {"actor": IB, "case_id": "C-1", "command": "fire"}
        bind_command(actor=LK, command="list")
        assert structlog.contextvars.get_contextvars() == {"actor": LK, "command": "list"}
        bind_command()
        assert structlog.contextvars.get_contextvars() == {}
    finally:
        structlog.contextvars.clear_contextvars()
