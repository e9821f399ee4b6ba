"""`passend init` and `passend demo` (one walked case, or a generated population)."""

from __future__ import annotations

import sys
from typing import Any

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, json_option


@click.command(cls=nl.Command, help="cli.init.help")
@json_option
@click.pass_obj
def init(state: State) -> None:
    engine = state.engine(create_key=True)
    heads = engine.init()
    synced = engine.users_synced
    where = engine.config.database_url.split("@")[-1]
    text = (nl.say("cli.init.database", where=where, heads=", ".join(heads)) + "\n"
            + nl.say("cli.init.users", file=engine.config.path.name, added=len(synced["added"]),
                     updated=len(synced["updated"]), disabled=len(synced["disabled"])))
    if engine.worklist_rebuilt:  # a store made before the work list, or for another version of it
        text += "\n" + nl.say("cli.init.worklist", cases=engine.worklist_rebuilt)
    emit({"database": where, "heads": heads, "users": synced}, text)


@click.command(cls=nl.Command, help="cli.demo.help")
@click.option("--school", default=None, metavar="SCHOOL", help="cli.demo.option.school")
@click.option("--pupils", type=click.IntRange(min=1), default=None, metavar="N",
              help="cli.demo.option.pupils")
@click.option("--years", type=click.FloatRange(min=0.1, max=10), default=3.0, show_default=True, metavar="JAREN",
              help="cli.demo.option.years")
@click.option("--seed", type=int, default=None, metavar="GETAL",
              help="cli.demo.option.seed")
@click.option("--batch", type=click.IntRange(min=1, max=100_000), default=2000, show_default=True,
              metavar="AANTAL", help="cli.demo.option.batch")
@click.option("--serve", is_flag=True, default=False,
              help="cli.demo.option.serve")
@json_option
@click.pass_obj
def demo(state: State, school: str | None, pupils: int | None, years: float, seed: int | None,
         batch: int, serve: bool) -> None:
    engine = state.engine(create_key=True)
    if serve:
        from workflow.adapters.logs import configure
        from workflow.entrypoints.cli import demo_serve

        configure("warning")  # the demo's own steps are not news; the address and link are
        demo_serve.demo_user(engine)  # no IB to sign in as: refused before anything is made
    engine.init()
    if serve:
        with engine.uow(write=False) as uow:
            empty = not uow.cases.id_prefix_taken("")  # no case at all, open or closed
        if empty:
            _make(engine, school, pupils, years, seed, batch, quiet=True)
        else:
            click.echo(nl.say("cli.demo.has_cases"), err=True)
        demo_serve.serve(engine, state.config)
        return
    _make(engine, school, pupils, years, seed, batch)


def _make(engine: Any, school: str | None, pupils: int | None, years: float, seed: int | None, batch: int,
          quiet: bool = False) -> None:
    if pupils is None:
        from workflow.demo.walk import walk_to_opp

        steps = walk_to_opp(engine, school=school)
        if not quiet:
            emit(steps, "\n".join(f"{s['step']:<40} -> {s['state']}" for s in steps))
        return
    from workflow.demo.population import populate

    def progress(done: int, total: int) -> None:
        sys.stderr.write("\r" + nl.say("cli.demo.progress", done=done, total=total))
        if done == total:
            sys.stderr.write("\n")

    result = populate(engine, pupils=pupils, years=years, seed=seed, batch=batch,
                      progress=progress if sys.stderr.isatty() else None).as_dict()
    if quiet:  # a served demo also gets one case walked to an adopted OPP by the demo users
        from workflow.demo.walk import walk_to_opp

        walk_to_opp(engine, school=school)
    states = ", ".join(f"{k} {v}" for k, v in result["states"].items())
    emit(result, nl.say("cli.demo.population", pupils=result["pupils"], events=result["events"],
                        seconds=result["seconds"], rate=result["events_per_s"], states=states))
