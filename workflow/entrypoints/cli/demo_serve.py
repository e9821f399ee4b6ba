"""`passend demo --serve`: the demo, the web app and the reminder service together, for a first
look in a browser.

The reminder service runs as a child process (`passend serve`, the same config, its log in
var/passend-serve.log), the web app in this process (uvicorn), on the host and port of
`[web] base_url`; Ctrl-C stops both. Before it starts listening it prints the address and a
one-time sign-in link for the demo IB (the first user of the reminders' role with an e-mail
address who serves the first school): a real link, made by the same service as a link by
e-mail, good once, for `[web] link_minutes`.

The code step stays: every sign-in by link asks for a code from an authenticator app. So that a
demo can be tried without one, the demo prints the demo IB's code key (TOTP secret) as the
enrolment page would show it, and a one-line command that prints the current code from it. It is
printed only here, only while that user has not set up an app yet, and marked as demo: on a real
school's database nobody runs `passend demo`.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import click

from workflow.domain.errors import BadInput
from workflow.entrypoints.cli import nl


def demo_user(engine: Any) -> Any:
    from workflow.service_layer.worklist import remind_roles

    first = next(iter(engine.config.schools), None)
    roles = remind_roles(engine.config.raw)
    for user in engine.config.users.values():
        if user.role in roles and user.email and (first is None or user.serves(first)):
            return user
    raise BadInput(nl.say("cli.demo.serve.no_ib"))


def serve(engine: Any, config: str | None) -> None:
    import uvicorn

    from workflow.adapters.web_settings import parse_web
    from workflow.bootstrap import make_notifier
    from workflow.entrypoints.web.app import create_app, settle_heap
    from workflow.service_layer.signin.links import Links
    from workflow.service_layer.signin.totp import Codes

    settings = parse_web(engine.config.raw.get("web"), engine.config.path.name)
    address = urlsplit(settings.base_url)
    host = address.hostname or "127.0.0.1"
    port = address.port or (443 if address.scheme == "https" else 80)
    user = demo_user(engine)
    issued = Links(engine, minutes=settings.link_minutes).request(user.email, ip="passend-demo")
    if issued is None:
        raise BadInput(nl.say("cli.demo.serve.no_link"))
    codes = Codes(engine)
    lines = [
        "", nl.say("cli.demo.serve.running", url=settings.base_url), "",
        nl.say("cli.demo.serve.sign_in", name=user.name or user.id, email=user.email, minutes=settings.link_minutes),
        f"  {settings.url('/inloggen/link/' + issued.token)}", "",
    ]
    if not codes.enrolled(user.id):
        secret = codes.enrolment(user.id, user.email).secret
        lines += [
            *nl.say("cli.demo.serve.enrol").splitlines(),
            "  " + nl.say("cli.demo.serve.secret", secret=secret),
            "  " + nl.say("cli.demo.serve.code_now")
            + f"{sys.executable} -c \"import pyotp; print(pyotp.TOTP('{secret}').now())\"",
            "",
        ]
    else:
        lines += [*nl.say("cli.demo.serve.code", user=user.id).splitlines(), ""]
    log_file = engine.config.base / "var" / "passend-serve.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    lines += [*nl.say("cli.demo.serve.reminders", log=log_file).splitlines(), ""]
    cmd = [sys.executable, "-m", "workflow.entrypoints.cli.main", *(["--config", config] if config else []), "serve"]
    with log_file.open("ab") as log:
        child = subprocess.Popen(cmd, stdout=log, stderr=log,
                                 preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    click.echo("\n".join(lines))
    try:
        app = create_app(engine, settings, make_notifier(engine))
        settle_heap()
        uvicorn.run(app, host=host, port=port, access_log=False, server_header=False, log_level="warning")
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


def _die_with_parent() -> None:
    """In the child, before it runs: end it (SIGTERM) when this process ends, however it ends.
    The `finally` above stops it on Ctrl-C and SIGTERM; a SIGKILL skips that, and an orphaned
    service would go on sending reminders and holding its health port."""
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):  # not Linux's libc: the finally above is all there is
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
