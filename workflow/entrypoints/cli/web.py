"""`passend web`: the web app under uvicorn.

The config is checked and the database's users read before the server starts, so a bad
`[web]` section or a database without `passend init` stops with one line and exit 2. uvicorn's
access log stays off: a sign-in link's path holds its token, and a log is no place for one.
"""

from __future__ import annotations

import os
from typing import Any

import click

from workflow.entrypoints.cli import nl
from workflow.entrypoints.cli.app import State


@click.command(cls=nl.Command, help="cli.web.help")
@click.option("--host", default="127.0.0.1", show_default=True, help="cli.web.option.host")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="cli.web.option.port")
@click.option("--forwarded-allow-ips", "forwarded", default="127.0.0.1", show_default=True, metavar="IPS",
              help="cli.web.option.forwarded_allow_ips")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="cli.web.option.workers")
@click.pass_obj
def web(state: State, host: str, port: int, forwarded: str, workers: int) -> None:
    import uvicorn

    from workflow.adapters.config import CONFIG_ENV
    from workflow.adapters.web_settings import parse_web
    from workflow.bootstrap import make_notifier
    from workflow.entrypoints.web.app import create_app, settle_heap

    engine = state.engine()
    settings = parse_web(engine.config.raw.get("web"), engine.config.path.name)
    engine.users.all()  # no users table: 'voer eerst passend init uit' (exit 2), before listening
    app = create_app(engine, settings, make_notifier(engine))
    click.echo(nl.say("cli.web.listening", url=settings.base_url, host=host, port=port), err=True)
    options: dict[str, Any] = dict(host=host, port=port, access_log=False, proxy_headers=True,
                                   forwarded_allow_ips=forwarded, server_header=False, log_level="warning")
    if workers == 1:
        settle_heap()
        uvicorn.run(app, **options)
        return
    # Several processes (the app keeps no state of its own): uvicorn starts each from the factory,
    # which reads the same config file, checked above.
    os.environ[CONFIG_ENV] = str(engine.config.path)
    uvicorn.run("workflow.entrypoints.web.app:app_from_config", factory=True, workers=workers, **options)
