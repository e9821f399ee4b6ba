"""`passend init` and `passend demo`."""

from __future__ import annotations

import click

from .main import State, emit, json_option


@click.command()
@json_option
@click.pass_obj
def init(state: State) -> None:
    """Create or upgrade the database to the newest schema."""
    engine = state.engine(create_key=True)
    heads = engine.init()
    emit({"database": engine.config.database_url.split("@")[-1], "heads": heads},
         f"database klaar: {engine.config.database_url.split('@')[-1]} (schema {', '.join(heads)})")


@click.command()
@click.option("--school", default=None, help="School to use (default: the first in config).")
@json_option
@click.pass_obj
def demo(state: State, school: str | None) -> None:
    """Initialise the database, open a demo case and walk it from niveau 1 to an adopted OPP."""
    from ..demo import walk_to_opp

    engine = state.engine(create_key=True)
    engine.init()
    steps = walk_to_opp(engine, school=school)
    emit(steps, "\n".join(f"{s['step']:<40} -> {s['state']}" for s in steps))
