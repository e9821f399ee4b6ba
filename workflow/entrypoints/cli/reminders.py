"""`passend reminders due | dispatch | list | retry` and `passend serve`.

`--now DATETIME` runs a command as if it were another moment: it changes which deadlines are
due, never a time recorded on an event or in the outbox's bookkeeping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, emit_each, json_option


def _now_option(f: Any) -> Any:
    return click.option("--now", "now_text", default=None, metavar="MOMENT",
                        help="cli.reminders.option.now")(f)


def _clock(now_text: str | None) -> Callable[[], dt.datetime]:
    """The clock that decides what is due: real time, or shifted so it starts at --now."""
    from workflow.adapters.clock import utcnow
    from workflow.domain.instants import parse_instant

    if now_text is None:
        return utcnow
    try:
        start = parse_instant(now_text)
    except ValueError:
        raise nl.BadValue(nl.say("cli.reminders.bad_now", value=now_text), param_hint="--now") from None
    offset = start - utcnow()
    return lambda: utcnow() + offset


def _service(state: State, now_text: str | None) -> Any:
    from workflow.bootstrap import reminder_service

    clock = _clock(now_text)
    return reminder_service(state.engine(), clock)


def _tick(r: dict[str, Any]) -> str:
    """What one round of the reminder service did (dispatch, serve --once)."""
    return nl.say("cli.reminders.tick", planned=r["planned"], sent=r["sent"], retrying=r["retrying"],
                  failed=r["failed"])


@click.group(cls=nl.Group, help="cli.reminders.help")
def reminders() -> None:
    pass


@reminders.command("due", help="cli.reminders.due.help")
@_now_option
@json_option
@click.pass_obj
def due(state: State, now_text: str | None) -> None:
    from workflow.entrypoints.cli import app as cli_main
    from workflow.service_layer.reminders.service import unreachable

    service = _service(state, now_text)
    outbox = service.engine.store.outbox

    def rows() -> Iterator[dict[str, Any]]:  # a page of cases at a time, as the planner folds them
        for chunk in service.planner().listed_chunks(service.now()):
            have = outbox.existing_keys([i.key for i in chunk])
            yield from ({**i.summary(), "outbox": have.get(i.key, "new")} for i in chunk)

    line = nl.sentence("cli.reminders.due.line")
    emit_each(rows(), lambda r: line.format(kind=r["kind"], case_id=r["case_id"] or "-", deadline=r["deadline"] or "-",
                                            recipient=r["recipient"], send_on=r["send_on"], due=r["due"] or "-",
                                            outbox=r["outbox"]),
              nl.say("cli.reminders.due.none"))
    if cli_main._json_mode:
        return
    for school, what, roles in unreachable(service.engine, service.settings):
        key = "cli.reminders.unreachable" if what == "reminders" else "cli.reminders.unreachable.escalations"
        click.echo(nl.say(key, school=school, roles=f" {nl.say('word.or')} ".join(roles)))


@reminders.command("dispatch", help="cli.reminders.dispatch.help")
@click.option("--once", is_flag=True, default=True,
              help="cli.reminders.dispatch.option.once")
@click.option("--no-plan", is_flag=True, help="cli.reminders.dispatch.option.no_plan")
@_now_option
@json_option
@click.pass_obj
def dispatch(state: State, once: bool, no_plan: bool, now_text: str | None) -> None:
    service = _service(state, now_text)
    service.start()  # the notifier checked, an earlier run's claims released
    r = service.tick(plan=not no_plan)
    emit(r, _tick(r))


@reminders.command("list", help="cli.reminders.list.help")
@click.option("--failed", is_flag=True, help="cli.reminders.list.option.failed")
@click.option("--pending", is_flag=True, help="cli.reminders.list.option.pending")
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True, metavar="AANTAL",
              help="cli.reminders.list.option.limit")
@json_option
@click.pass_obj
def list_(state: State, failed: bool, pending: bool, limit: int) -> None:
    from workflow.adapters.ports import FAILED, PENDING

    if failed and pending:
        raise nl.UsageProblem(nl.say("cli.reminders.list.failed_or_pending"))
    status = FAILED if failed else PENDING if pending else None
    rows = [r.as_dict() for r in state.engine().store.outbox.rows(status=status, limit=limit)]
    line = nl.sentence("cli.reminders.list.line")
    text = "\n".join(
        line.format(id=r["id"], status=r["status"], kind=r["kind"], case_id=r["case_id"] or "-",
                    deadline=r["deadline"] or "-", recipient=r["recipient"], attempts=r["attempts"],
                    error=f"  ({r['last_error']})" if r["last_error"] and r["status"] != "sent" else "")
        for r in rows
    ) or nl.say("cli.reminders.list.none")
    emit(rows, text)


@reminders.command("retry", help="cli.reminders.retry.help")
@click.argument("ids", nargs=-1, type=int, metavar="[ID]...")
@click.option("--actor", required=True, metavar="GEBRUIKER", help="cli.reminders.retry.option.actor")
@json_option
@click.pass_obj
def retry(state: State, ids: tuple[int, ...], actor: str) -> None:
    from workflow.service_layer.reminders.service import retry_failed

    n = retry_failed(state.engine(), list(ids) or None, actor=actor)
    emit({"requeued": n, "actor": actor}, nl.say(
        "cli.reminders.retry.done.one" if n == 1 else "cli.reminders.retry.done", n=n, actor=actor))


@click.command(cls=nl.Command, help="cli.serve.help")
@click.option("--once", is_flag=True, help="cli.serve.option.once")
@_now_option
@json_option
@click.pass_obj
def serve(state: State, once: bool, now_text: str | None) -> None:
    from workflow.entrypoints.health import address
    from workflow.entrypoints.serve import serve as run

    service = _service(state, now_text)
    service.start()  # the notifier checked (exit 2 here, not a failed attempt per message), claims released
    if once:
        r = service.tick()
        emit(r, f"{_tick(r)} ({service.notifier.describe()})")
        return
    from workflow.bootstrap import long_running

    long_running(service.engine)
    run(service, health_at=address(service.engine.config.raw.get("serve"), service.engine.config.path.name))
