"""`passend backup --out FILE` and `passend restore FILE [--replace]` (workflow.service_layer.backup)."""

from __future__ import annotations

from pathlib import Path

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State, emit, json_option


@click.command(cls=nl.Command, help="cli.backup.help")
@click.option("--out", "out", required=True, metavar="BESTAND", help="cli.backup.option.out")
@json_option
@click.pass_obj
def backup(state: State, out: str) -> None:
    from workflow.service_layer.backup import backup as run

    engine = state.engine()
    r = run(engine, Path(out))
    emit(r, nl.say("cli.backup.done", out=r["out"], bytes=r["bytes"]))


@click.command(cls=nl.Command, help="cli.restore.help")
@click.argument("source", metavar="BESTAND")
@click.option("--replace", is_flag=True, help="cli.restore.option.replace")
@json_option
@click.pass_obj
def restore(state: State, source: str, replace: bool) -> None:
    from workflow.adapters.clock import utcnow
    from workflow.adapters.config import load_config
    from workflow.adapters.crypto import KeyRing, load_master_key
    from workflow.adapters.files import PrivateFiles
    from workflow.adapters.store.db import sqlite_path
    from workflow.bootstrap import make_store
    from workflow.domain.errors import BadInput
    from workflow.service_layer.backup import pg_restore
    from workflow.service_layer.backup import restore as run

    config = load_config(state.config)
    if config.database_url.startswith("memory://"):
        raise BadInput(nl.say("cli.backup.restore.memory"))
    target = sqlite_path(config.database_url)
    if target is None:
        raise pg_restore()
    keyring = KeyRing(load_master_key(config.master_key_file))
    r = run(Path(source), target, store_at=lambda p: make_store(f"sqlite:///{p}", config=config),
            keyring=keyring, files=PrivateFiles(config.file_group), replace=replace,
            now=utcnow())
    emit(r, nl.say("cli.restore.done", source=r["source"], cases=r["cases"], events=r["events"],
                   access_records=r["access_records"])
         + (nl.say("cli.restore.kept", path=r["kept_as"]) if r["kept_as"] else ""))
