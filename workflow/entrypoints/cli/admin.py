"""`passend init` and `passend demo` (one walked case, or a generated population)."""

from __future__ import annotations

import sys

import click

from workflow.entrypoints.cli.main import State, emit, json_option


@click.command()
@json_option
@click.pass_obj
def init(state: State) -> None:
    """Create or upgrade the database to the newest schema, and import config.toml's users."""
    engine = state.engine(create_key=True)
    heads = engine.init()
    synced = engine.users_synced
    where = engine.config.database_url.split("@")[-1]
    text = (f"database klaar: {where} (schema {', '.join(heads)})\n"
            f"gebruikers uit {engine.config.path.name}: {len(synced['added'])} nieuw, "
            f"{len(synced['updated'])} bijgewerkt, {len(synced['disabled'])} uitgeschakeld (niet meer in het bestand)")
    emit({"database": where, "heads": heads, "users": synced}, text)


@click.command()
@click.option("--school", default=None, help="School to use (default: the first in config).")
@click.option("--pupils", type=click.IntRange(min=1), default=None, metavar="N",
              help="Instead of one walked case, generate N cases with made-up pupils, spread over "
                   "the configured schools, levels and states, with up to --years of history.")
@click.option("--years", type=click.FloatRange(min=0.1, max=10), default=3.0, show_default=True,
              help="With --pupils: how far back the generated history reaches.")
@click.option("--seed", type=int, default=None, help="With --pupils: random seed, for a repeatable population.")
@click.option("--batch", type=click.IntRange(min=1, max=100_000), default=2000, show_default=True,
              help="With --pupils: cases per transaction.")
@json_option
@click.pass_obj
def demo(state: State, school: str | None, pupils: int | None, years: float, seed: int | None,
         batch: int) -> None:
    """Initialise the database, then walk one demo case to an adopted OPP (or generate --pupils N)."""
    engine = state.engine(create_key=True)
    engine.init()
    if pupils is None:
        from workflow.demo.walk import walk_to_opp

        steps = walk_to_opp(engine, school=school)
        emit(steps, "\n".join(f"{s['step']:<40} -> {s['state']}" for s in steps))
        return
    from workflow.demo.population import populate

    def progress(done: int, total: int) -> None:
        sys.stderr.write(f"\r{done}/{total} casussen")
        if done == total:
            sys.stderr.write("\n")

    result = populate(engine, pupils=pupils, years=years, seed=seed, batch=batch,
                      progress=progress if sys.stderr.isatty() else None).as_dict()
    states = ", ".join(f"{k} {v}" for k, v in result["states"].items())
    emit(result, f"{result['pupils']} casussen, {result['events']} gebeurtenissen in "
                 f"{result['seconds']} s ({result['events_per_s']}/s)\n{states}")
