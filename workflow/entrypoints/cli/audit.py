"""`passend audit verify | replay | timeline | export | compliance | access`.

Thin shells over workflow.service_layer.audit: each sub-command imports only the module it needs. A broken
chain is not an error of the command: the report is printed, then the exit code is 5.
"""

from __future__ import annotations

import re
from typing import Any

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, json_option

AUDIT_FAILED = 5


def text(key: str, /, **values: Any) -> str:
    """A line's words from the message catalog (cli.audit.*, workflow.messages.text), imported
    when first said, so `passend audit --help` and a bad option read no catalog."""
    from workflow.messages import text as sentence

    return sentence(key, **values)


def _reader(engine: Any, actor: str | None) -> str:
    """The asking user; defaults to the only user who may see every school (the auditor)."""
    if actor:
        engine.user(actor)
        return actor
    users = [u.id for u in engine.config.users.values() if "*" in u.schools]
    if len(users) != 1:
        raise nl.UsageProblem(text("cli.audit.actor_needed"))
    return str(users[0])


actor_option = click.option("--actor", default=None, metavar="GEBRUIKER",
                            help="cli.audit.option.actor")
purpose_option = click.option("--purpose", default=None, metavar="TEKST",
                              help="cli.audit.option.purpose")
behalf_option = click.option("--on-behalf-of", "on_behalf_of", default=None, metavar="WIE",
                             help="cli.audit.option.on_behalf_of")


@click.group(cls=nl.Group, help="cli.audit.help")
def audit() -> None:
    pass


_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@audit.command("verify", help="cli.audit.verify.help")
@click.option("--access-anchor", "anchor", default=None, metavar="HASH",
              help="cli.audit.verify.option.access_anchor")
@click.option("--witness", "witness", multiple=True, metavar="BESTAND|MAP",
              help="cli.audit.verify.option.witness")
@json_option
@click.pass_obj
def verify_cmd(state: State, anchor: str | None, witness: tuple[str, ...]) -> None:
    # Only the config and the store: verify needs no keys, definitions or read models (fast start).
    from workflow.bootstrap import open_store
    from workflow.entrypoints.cli.progress import Progress
    from workflow.service_layer.audit.verify import verify

    if anchor is not None and not _HEX64.fullmatch(anchor):
        raise nl.BadValue(text("cli.audit.verify.bad_anchor"), param_hint="--access-anchor")
    records: list[dict[str, Any]] = []
    if witness:
        from pathlib import Path

        from workflow.service_layer.witness import record

        records = [r for w in witness for r in record.load(Path(w))]
    store = open_store(state.config)
    bar = Progress("verify")
    witnessed = None
    try:
        with store.uow(write=False) as uow:
            report = verify(uow, progress=bar.advance, access_anchor=anchor and anchor.lower())
            if records:
                from workflow.service_layer.witness.check import check

                witnessed = check(uow, records)
    finally:
        store.dispose()
    bar.close()
    d = report.as_dict()
    if not report.problems:
        lines = [text("cli.audit.verify.intact", cases=d["cases"], events=d["events"], seconds=d["seconds"])]
    else:
        lines = [text("cli.audit.verify.broken", broken=len(report.problems), cases=d["cases"], events=d["events"])]
        for p in report.problems:
            where = (text("cli.audit.verify.at_event", seq=p.seq) if p.seq is not None
                     else text("cli.audit.verify.at_case"))
            lines.append(f"  {p.case_id}  {where}: {p.kind}: {p.detail}")
    access = report.access
    if access.ok:
        lines.append(text("cli.audit.access_log.intact.one" if access.records == 1 else "cli.audit.access_log.intact",
                          n=access.records, hash=access.head_hash))
    else:
        broken = sum(1 for p in access.problems if p.record_id) + access.more_problems
        lines.append(text("cli.audit.access_log.broken", broken=broken, n=access.records) if broken else
                     text("cli.audit.access_log.not_intact", n=access.records, hash=access.head_hash))
        lines.extend("  " + text("cli.audit.access_log.record", id=p.record_id, kind=p.kind, detail=p.detail)
                     if p.record_id else f"  {p.kind}: {p.detail}" for p in access.problems)
        if access.more_problems:
            lines.append("  " + text("cli.audit.access_log.more", n=access.more_problems))
    if witnessed is not None:
        d["witness"] = witnessed.as_dict()
        if witnessed.ok:
            lines.append(text("cli.audit.witness.ok", roots=witnessed.roots, leaves=witnessed.leaves))
        else:
            lines.append(text("cli.audit.witness.failed", findings=len(witnessed.findings), roots=witnessed.roots))
            lines.extend(f"  {f.day}  {f.kind}: {f.detail}" for f in witnessed.findings)
    ok = report.ok
    if state.access_log is not None:  # `passend --access-log FILE audit verify`: that file's chain too
        from pathlib import Path

        from workflow.adapters.access_file import check_file

        file_report = check_file(Path(state.access_log))
        d["access_log_file"] = {"path": state.access_log, **file_report.as_dict()}
        ok = ok and file_report.ok
        lines.append(text("cli.audit.access_file.intact", path=state.access_log, n=file_report.records,
                          hash=file_report.head_hash) if file_report.ok else
                     text("cli.audit.access_file.broken", path=state.access_log,
                          broken=len(file_report.problems) + file_report.more_problems))
        lines.extend("  " + text("cli.audit.access_log.record", id=p.record_id, kind=p.kind, detail=p.detail)
                     for p in file_report.problems)
    emit(d, "\n".join(lines))
    if not ok or (witnessed is not None and not witnessed.ok):
        raise click.exceptions.Exit(AUDIT_FAILED)


def _date(value: str | None, option: str) -> Any:
    if value is None:
        return None
    import datetime as dt

    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise nl.BadValue(text("cli.audit.bad_date", value=value), param_hint=option) from None


@audit.command("export", help="cli.audit.export.help")
@click.option("--out", "out", required=True, metavar="MAP", help="cli.audit.export.option.out")
@click.option("--school", default=None, metavar="SCHOOL", help="cli.audit.export.option.school")
@click.option("--since", default=None, metavar="DATUM", help="cli.audit.export.option.since")
@actor_option
@purpose_option
@behalf_option
@json_option
@click.pass_obj
def export_cmd(state: State, out: str, school: str | None, since: str | None, actor: str | None,
               purpose: str | None, on_behalf_of: str | None) -> None:
    from pathlib import Path

    from workflow.entrypoints.cli.progress import Progress
    from workflow.service_layer.audit.export import export

    engine = state.engine()
    day = _date(since, "--since")
    who = _reader(engine, actor)
    bar = Progress("export")
    m = export(engine, Path(out), actor=who, school=school, since=day, purpose=purpose,
               on_behalf_of=on_behalf_of, progress=bar.advance)
    bar.close()
    summary = {k: m[k] for k in ("counts", "export_sha256", "store_chain_intact", "filters")}
    emit({"out": out, **summary},
         text("cli.audit.export.done", events=m["counts"]["events"], cases=m["counts"]["cases"], out=out,
              sha=m["export_sha256"][:16])
         + ("" if m["store_chain_intact"] else "\n" + text("cli.audit.export.chain_broken")))


@audit.command("replay", help="cli.audit.replay.help")
@click.argument("case_id", metavar="[CASUS]", required=False)
@click.option("--all", "all_cases", is_flag=True, help="cli.audit.replay.option.all")
@click.option("--as-of", "as_of", default=None, metavar="DATUM",
              help="cli.audit.replay.option.as_of")
@actor_option
@json_option
@click.pass_obj
def replay_cmd(state: State, case_id: str | None, all_cases: bool, as_of: str | None,
               actor: str | None) -> None:
    from workflow.service_layer.audit.replay import replay_all, replay_case

    if (case_id is None) == (not all_cases):
        raise nl.UsageProblem(text("cli.audit.replay.which"))
    from workflow.entrypoints.cli import app as cli_main

    engine = state.engine()
    day = _date(as_of, "--as-of")
    who = _reader(engine, actor)
    as_json = cli_main._json_mode
    if case_id is not None:
        found: Any = [replay_case(engine, case_id, actor=who, as_of=day)]
        bar = None
    else:
        from workflow.entrypoints.cli.progress import Progress

        bar = Progress("replay")
        found = replay_all(engine, actor=who, as_of=day, progress=bar.advance)
    import json

    ok = True
    n = 0
    if as_json:  # streamed JSON: one case at a time, so memory stays flat with --all
        click.echo('{"as_of": ' + json.dumps(as_of) + ', "cases": [')
    for r in found:
        ok = ok and r.ok
        d = r.as_dict()
        if as_json:
            click.echo(("," if n else "") + json.dumps(d, ensure_ascii=False, default=str))
        else:
            click.echo(_render_replay(d))
        n += 1
    if bar is not None:
        bar.close()
    if as_json:
        click.echo('], "count": ' + str(n) + ', "ok": ' + ("true" if ok else "false") + "}")
    elif n == 0:
        click.echo(text("cli.audit.no_cases"))
    if not ok:
        raise click.exceptions.Exit(AUDIT_FAILED)


def _render_replay(d: dict[str, Any]) -> str:
    lines = []
    if "state" in d:
        level = d["level"] if d["level"] is not None else "-"
        lines.append(f"{d['case_id']:<12} {d['state']:<16} "
                     + text("cli.audit.replay.case", level=level, version=d["version"], process=d["process"],
                            verdict=text("cli.audit.replay.ok" if d["ok"] else "cli.audit.replay.mismatch")))
    else:
        lines.append(f"{d['case_id']:<12} {'; '.join(d['errors'])}")
    for f in d["refused"]:
        lines.append("  ! " + text("cli.audit.replay.refused", seq=f["seq"], step=f["step"], role=f["role"]))
        lines.extend(f"      - {x}" for x in f["reasons"])
    lines.extend(f"  ≠ {m}" for m in d["mismatches"])
    lines.extend(f"  ~ {n}" for n in d.get("notes", []))
    if "state" in d:
        lines.extend(f"  ! {e}" for e in d["errors"])
    if d.get("as_of"):
        for e in d.get("evidence", []):
            lines.append(f"  #{e['seq']:<3} {e['date']} {e['kind']:<10} "
                         + ", ".join(f"{k}={v}" for k, v in e["fields"].items()))
        for t in d.get("deadlines", []):
            lines.append("  " + text("cli.audit.replay.deadline", name=t["name"], due=t["due"], status=t["status"]))
    return "\n".join(lines)


@audit.command("timeline", help="cli.audit.timeline.help")
@click.argument("case_id", metavar="CASUS")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True,
              help="cli.audit.timeline.option.format")
@click.option("--out", "out", default=None, metavar="BESTAND",
              help="cli.audit.timeline.option.out")
@actor_option
@purpose_option
@behalf_option
@json_option
@click.pass_obj
def timeline_cmd(state: State, case_id: str, fmt: str, out: str | None, actor: str | None,
                 purpose: str | None, on_behalf_of: str | None) -> None:
    from workflow.entrypoints.cli import app as cli_main
    from workflow.service_layer.audit.timeline import render, timeline

    engine = state.engine()
    who = _reader(engine, actor)
    if cli_main._json_mode:
        fmt = "json"
    data = timeline(engine, case_id, actor=who, purpose=purpose, on_behalf_of=on_behalf_of)
    page = render(data, fmt)
    if out is None:
        click.echo(page)
        return
    from pathlib import Path

    try:
        engine.files.write_text(Path(out), page + "\n")  # 0600 (0640 with [security] file_group)
    except OSError as exc:
        raise nl.BadValue(text("cli.audit.timeline.cannot_write", out=out, error=nl.os_error(exc)),
                          param_hint="--out") from None
    emit({"case_id": case_id, "out": out, "format": fmt}, text("cli.audit.timeline.written", case=case_id, out=out))


@audit.command("access", help="cli.audit.access.help")
@click.argument("case_id", metavar="CASUS")
@actor_option
@json_option
@click.pass_obj
def access_cmd(state: State, case_id: str, actor: str | None) -> None:
    from workflow.service_layer.access import access_records

    engine = state.engine()
    rows = [r.as_dict() for r in access_records(engine, case_id, actor=_reader(engine, actor))]
    listing = "\n".join(
        f"{r['at'][:19].replace('T', ' ')}  {r['actor']:<14} {r['role']:<11} {r['action']:<15} "
        + text("cli.audit.access.purpose", purpose=r["purpose"])
        + ("  " + text("cli.audit.access.behalf", who=r["on_behalf_of"]) if r["on_behalf_of"] else "")
        for r in rows
    ) or text("cli.audit.access.none", case=case_id)
    emit(rows, listing)


@audit.command("compliance", help="cli.audit.compliance.help")
@click.option("--school", default=None, metavar="SCHOOL", help="cli.audit.compliance.option.school")
@actor_option
@json_option
@click.pass_obj
def compliance_cmd(state: State, school: str | None, actor: str | None) -> None:
    import json

    from workflow.entrypoints.cli import app as cli_main
    from workflow.service_layer.audit.compliance import RULES, ComplianceRun

    engine = state.engine()
    run = ComplianceRun(engine, actor=_reader(engine, actor), school=school)
    if cli_main._json_mode:  # streamed JSON: one case a line, so memory stays flat at any size
        click.echo('{"today": ' + json.dumps(run.today.isoformat()) + ', "rules": '
                   + json.dumps(list(RULES)) + ', "cases": [')
        for n, case in enumerate(run):
            click.echo(("," if n else "") + json.dumps(case, ensure_ascii=False, default=str))
        click.echo('], "unreadable": ' + json.dumps(run.unreadable, ensure_ascii=False)
                   + ', "summary": ' + json.dumps(run.summary, ensure_ascii=False) + "}")
    else:
        _compliance_text(run)
    if run.unreadable:
        raise click.exceptions.Exit(AUDIT_FAILED)


FAILING_SPOOL_BYTES = 1 << 20


def _compliance_text(run: Any) -> None:
    """The summary first, then every failing rule: the failing lines wait in a temporary file
    (in memory up to FAILING_SPOOL_BYTES) while the run goes on, since the summary is known only
    at its end. The lines name case ids, rules and dates, never a person."""
    import tempfile

    from workflow.service_layer.audit.compliance import RULES

    counted = 0
    with tempfile.SpooledTemporaryFile(max_size=FAILING_SPOOL_BYTES, mode="w+", encoding="utf-8") as failing:
        for case in run:
            counted += 1
            for r in case["rules"]:
                for d in r["details"]:
                    if d["status"] == "fail":
                        failing.write(f"  {case['case_id']:<12} {r['rule']}: {d['detail']}\n")
        click.echo(text("cli.audit.compliance.title", day=run.today.isoformat()))
        for sid, per in sorted(run.summary.items()):
            click.echo(text("cli.audit.compliance.school", school=sid))
            for rule in RULES:
                c = per[rule]
                click.echo(f"  {rule:<38} " + text("cli.audit.compliance.counts", passed=c["pass"], failed=c["fail"],
                                                   not_due=c["not_due"], na=c["n/a"]))
        if failing.tell():
            click.echo(text("cli.audit.compliance.failing"))
            failing.seek(0)
            for line in failing:
                click.echo(line, nl=False)
    if run.unreadable:
        click.echo(text("cli.audit.compliance.unreadable"))
        for u in run.unreadable:
            click.echo(f"  {u['case_id']:<12} {u['error']}")
    if not counted and not run.unreadable:
        click.echo(text("cli.audit.no_cases"))
