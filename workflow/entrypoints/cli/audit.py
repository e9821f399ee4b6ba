"""`passend audit verify | replay | timeline | export | compliance | access`.

Thin shells over workflow.service_layer.audit: each sub-command imports only the module it needs. A broken
chain is not an error of the command: the report is printed, then the exit code is 5.
"""

from __future__ import annotations

import re
from typing import Any

import click

from workflow.entrypoints.cli.main import State, emit, json_option

AUDIT_FAILED = 5


def _reader(engine: Any, actor: str | None) -> str:
    """The asking user; defaults to the only user who may see every school (the auditor)."""
    if actor:
        engine.user(actor)
        return actor
    users = [u.id for u in engine.config.users.values() if "*" in u.schools]
    if len(users) != 1:
        raise click.UsageError("--actor is required (which user is asking?)")
    return str(users[0])


actor_option = click.option("--actor", default=None, metavar="USER",
                            help="Who asks (default: the only user with access to every school).")
purpose_option = click.option("--purpose", default=None, metavar="TEXT",
                              help="Why the data is read (kept in the access log).")
behalf_option = click.option("--on-behalf-of", "on_behalf_of", default=None, metavar="WHO",
                             help="On whose behalf (kept in the access log).")


@click.group()
def audit() -> None:
    """Verify, replay, show and export case history; check the legal rules."""


_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@audit.command("verify")
@click.option("--access-anchor", "anchor", default=None, metavar="HASH",
              help="A head hash of the access log noted earlier (verify's last line, an export's "
                   "manifest): exit 5 unless the log still holds that record.")
@json_option
@click.pass_obj
def verify_cmd(state: State, anchor: str | None) -> None:
    """Walk every case's hash chain and the access log's; exit 5 if anything was edited,
    removed, moved or added."""
    # Only the config and the store: verify needs no keys, definitions or read models (fast start).
    from workflow.bootstrap import open_store
    from workflow.entrypoints.cli.progress import Progress
    from workflow.service_layer.audit.verify import verify

    if anchor is not None and not _HEX64.fullmatch(anchor):
        raise click.BadParameter("64 hexadecimal characters (a SHA-256 hash)", param_hint="--access-anchor")
    store = open_store(state.config)
    bar = Progress("verify")
    try:
        with store.uow(write=False) as uow:
            report = verify(uow, progress=bar.advance, access_anchor=anchor and anchor.lower())
    finally:
        store.dispose()
    bar.close()
    d = report.as_dict()
    if not report.problems:
        lines = [f"intact: {d['cases']} casussen, {d['events']} gebeurtenissen ({d['seconds']} s)"]
    else:
        lines = [f"NIET intact: {len(report.problems)} van {d['cases']} casussen gebroken "
                 f"({d['events']} gebeurtenissen gelezen)"]
        for p in report.problems:
            where = f"gebeurtenis {p.seq}" if p.seq is not None else "casus"
            lines.append(f"  {p.case_id}  {where}: {p.kind}: {p.detail}")
    access = report.access
    if access.ok:
        lines.append(f"toegangslog intact: {access.records} {'regel' if access.records == 1 else 'regels'}, "
                     f"laatste hash {access.head_hash}")
    else:
        broken = sum(1 for p in access.problems if p.record_id) + access.more_problems
        lines.append(f"toegangslog NIET intact: {broken} van {access.records} regels gebroken" if broken else
                     f"toegangslog NIET intact: {access.records} regels, laatste hash {access.head_hash}")
        lines.extend(f"  regel {p.record_id}: {p.kind}: {p.detail}" if p.record_id else f"  {p.kind}: {p.detail}"
                     for p in access.problems)
        if access.more_problems:
            lines.append(f"  ... en nog {access.more_problems}")
    emit(d, "\n".join(lines))
    if not report.ok:
        raise click.exceptions.Exit(AUDIT_FAILED)


def _date(value: str | None, option: str) -> Any:
    if value is None:
        return None
    import datetime as dt

    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date (YYYY-MM-DD)", param_hint=option) from None


@audit.command("export")
@click.option("--out", "out", required=True, metavar="DIR", help="A new or empty folder.")
@click.option("--school", default=None, help="Only this school's cases.")
@click.option("--since", default=None, metavar="DATE", help="Only events recorded on or after DATE.")
@actor_option
@purpose_option
@behalf_option
@json_option
@click.pass_obj
def export_cmd(state: State, out: str, school: str | None, since: str | None, actor: str | None,
               purpose: str | None, on_behalf_of: str | None) -> None:
    """Events as JSON Lines, a manifest and SHA256SUMS (docs/event-chain.md; docs/verify_export.py)."""
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
         f"{m['counts']['events']} gebeurtenissen van {m['counts']['cases']} casussen naar {out} "
         f"(sha256 {m['export_sha256'][:16]}…)"
         + ("" if m["store_chain_intact"] else "\nLET OP: de opgeslagen keten is niet intact; draai audit verify"))


@audit.command("replay")
@click.argument("case_id", metavar="CASE", required=False)
@click.option("--all", "all_cases", is_flag=True, help="Every case you may see.")
@click.option("--as-of", "as_of", default=None, metavar="DATE",
              help="State, level, evidence and running deadlines at the end of DATE.")
@actor_option
@json_option
@click.pass_obj
def replay_cmd(state: State, case_id: str | None, all_cases: bool, as_of: str | None,
               actor: str | None) -> None:
    """Rebuild cases from their events with the definition version on them; re-check every step.

    Exit 5 when a step would not have been allowed or the projection differs from the events.
    """
    from workflow.service_layer.audit.replay import replay_all, replay_case

    if (case_id is None) == (not all_cases):
        raise click.UsageError("give a CASE or --all")
    from workflow.entrypoints.cli import main as cli_main

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
        click.echo("geen casussen")
    if not ok:
        raise click.exceptions.Exit(AUDIT_FAILED)


def _render_replay(d: dict[str, Any]) -> str:
    lines = []
    if "state" in d:
        level = d["level"] if d["level"] is not None else "-"
        lines.append(f"{d['case_id']:<12} {d['state']:<16} niveau {level}  v{d['version']} {d['process']}: "
                     f"{'klopt' if d['ok'] else 'AFWIJKING'}")
    else:
        lines.append(f"{d['case_id']:<12} {'; '.join(d['errors'])}")
    for f in d["refused"]:
        lines.append(f"  ! gebeurtenis {f['seq']} ({f['step']}, {f['role']}) zou niet zijn toegestaan:")
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
            lines.append(f"  termijn {t['name']} op {t['due']} ({t['status']})")
    return "\n".join(lines)


@audit.command("timeline")
@click.argument("case_id", metavar="CASE")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True)
@click.option("--out", "out", default=None, metavar="FILE", help="Write to FILE instead of stdout.")
@actor_option
@purpose_option
@behalf_option
@json_option
@click.pass_obj
def timeline_cmd(state: State, case_id: str, fmt: str, out: str | None, actor: str | None,
                 purpose: str | None, on_behalf_of: str | None) -> None:
    """Who did what and when, state before and after, the guards checked (logged as an access)."""
    from workflow.entrypoints.cli import main as cli_main
    from workflow.service_layer.audit.timeline import render, timeline

    engine = state.engine()
    who = _reader(engine, actor)
    if cli_main._json_mode:
        fmt = "json"
    data = timeline(engine, case_id, actor=who, purpose=purpose, on_behalf_of=on_behalf_of)
    text = render(data, fmt)
    if out is None:
        click.echo(text)
        return
    from pathlib import Path

    try:
        Path(out).write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(f"cannot write {out}: {exc.strerror}", param_hint="--out") from None
    emit({"case_id": case_id, "out": out, "format": fmt}, f"tijdlijn van {case_id} geschreven naar {out}")


@audit.command("access")
@click.argument("case_id", metavar="CASE")
@actor_option
@json_option
@click.pass_obj
def access_cmd(state: State, case_id: str, actor: str | None) -> None:
    """Who read or exported this case, when, and why (NEN 7513 fields)."""
    from workflow.service_layer.access import access_records

    engine = state.engine()
    rows = [r.as_dict() for r in access_records(engine, case_id, actor=_reader(engine, actor))]
    text = "\n".join(
        f"{r['at'][:19].replace('T', ' ')}  {r['actor']:<14} {r['role']:<11} {r['action']:<15} "
        f"doel: {r['purpose']}" + (f"  namens: {r['on_behalf_of']}" if r["on_behalf_of"] else "")
        for r in rows
    ) or f"geen inzage vastgelegd voor {case_id}"
    emit(rows, text)


@audit.command("compliance")
@click.option("--school", default=None, help="Only this school's cases.")
@actor_option
@json_option
@click.pass_obj
def compliance_cmd(state: State, school: str | None, actor: str | None) -> None:
    """The legal rules per case (pass / fail / not_due / n/a) and a summary per school.

    Exit 5 when a case's events cannot be read (listed apart; `audit verify` names the row)."""
    import json

    from workflow.entrypoints.cli import main as cli_main
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
        click.echo(f"Naleving op {run.today.isoformat()}")
        for sid, per in sorted(run.summary.items()):
            click.echo(f"School {sid}:")
            for rule in RULES:
                c = per[rule]
                click.echo(f"  {rule:<38} voldaan {c['pass']:>4}  niet voldaan {c['fail']:>4}  "
                           f"nog niet aan de orde {c['not_due']:>4}  n.v.t. {c['n/a']:>4}")
        if failing.tell():
            click.echo("Niet voldaan:")
            failing.seek(0)
            for line in failing:
                click.echo(line, nl=False)
    if run.unreadable:
        click.echo("Niet te lezen:")
        for u in run.unreadable:
            click.echo(f"  {u['case_id']:<12} {u['error']}")
    if not counted and not run.unreadable:
        click.echo("geen casussen")
