"""Back to the page asked for after sign-in: a signed-out browser that opens /casus/X (a
reminder's link, a bookmark) is sent to sign in, and lands on /casus/X afterwards, not on the
start page, whether it signs in by e-mail link and code or through the school's provider.

The path waits in a short-lived cookie of its own (HttpOnly, SameSite=Lax, RETURN_MINUTES),
set by the redirect to the sign-in page and read once when the session becomes full: the flow
crosses a mail (the link may be opened later, in the same browser) and the provider's site,
and a cookie survives both without anything in a URL a provider or a mail could change.

Only a same-site relative path is ever followed, checked when the cookie is set and again when
it is used (`safe_path`): one "/" then no second "/" or "\\", no scheme or host, no control
character or space (browsers drop tabs and newlines, so "/\\t/evil" would become "//evil"), not
the sign-in pages themselves, and not too long. Anything else is the start page: no open redirect.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from workflow.entrypoints.web.security import clear_cookie, set_cookie
from workflow.entrypoints.web.webcontext import context

RETURN_COOKIE = "passend-terug"
RETURN_MINUTES = 30  # a link mail's 15 minutes, the code, and some to spare
MAX_LENGTH = 1000
HOME = "/"
NOT_BACK_TO = ("/inloggen", "/uitloggen", "/static/", "/api/")


def safe_path(value: object) -> str | None:
    """`value` if it is a path on this site to go back to, else None."""
    if not isinstance(value, str) or not value or len(value) > MAX_LENGTH:
        return None
    if not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if any(ch in value for ch in "\\ ") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    if not value.isascii():  # a browser sends a path percent-encoded; anything else is not ours
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    if parts.path == HOME and not parts.query:
        return None  # the start page is where one lands anyway
    if any(parts.path == p.rstrip("/") or parts.path.startswith(p.rstrip("/") + "/") for p in NOT_BACK_TO):
        return None
    return value


def cookie_name(request: Request) -> str:
    from workflow.entrypoints.web.security import cookie_name as named

    return named(RETURN_COOKIE, context(request).settings.secure)


def remember(request: Request, response: Response) -> None:
    """Keep this GET request's path (and query) for after sign-in, if it is one to go back to."""
    if request.method != "GET":
        return
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if safe_path(path) is None:
        return
    set_cookie(response, cookie_name(request), path, secure=context(request).settings.secure,
               max_age=RETURN_MINUTES * 60)


def destination(request: Request) -> str:
    """Where a sign-in that just finished goes: the remembered page, or the start page."""
    return safe_path(request.cookies.get(cookie_name(request))) or HOME


def forget(request: Request, response: Response) -> None:
    if cookie_name(request) in request.cookies:
        clear_cookie(response, cookie_name(request), secure=context(request).settings.secure)
