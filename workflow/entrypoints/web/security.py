"""Response headers and cookies that hold for every page.

The Content-Security-Policy allows scripts, styles and images from this app only (no inline
script or style at all; `data:` images for nothing but the QR fallback), no framing, forms only
to this app, and no <base>. Pages are never cached (they carry personal data and CSRF tokens);
only /static/ is. Cookies: HttpOnly, SameSite=Lax, and Secure with the `__Host-` prefix (no
Domain, Path=/) when the app is served over https (`[web] secure_cookies`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
STATIC_PREFIX = "/static/"
STYLE = re.compile(r"<style>(.*?)</style>", re.S)


class SecurityHeaders:
    """Pure ASGI middleware: the headers above on every response, `no-store` on all but static
    files, and HSTS when the app is served over https."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"cache-control", b"pragma") or static]
                have = {k.lower() for k, _ in headers}
                for name, value in HEADERS.items():
                    if name.encode() not in have:
                        headers.append((name.encode(), value.encode()))
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                    headers.append((b"pragma", b"no-cache"))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cookie_name(base: str, secure: bool) -> str:
    return f"__Host-{base}" if secure else base


def set_cookie(response: Response, name: str, value: str, *, secure: bool, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax")


def clear_cookie(response: Response, name: str, *, secure: bool) -> None:
    response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="lax")


def client_ip(request: Request) -> str:
    """The caller's address as uvicorn saw it (behind a proxy: from X-Forwarded-For, which
    uvicorn trusts only from `--forwarded-allow-ips`)."""
    client: Any = request.client
    return str(client.host) if client is not None else "onbekend"


def printable_csp(html: str) -> str:
    """The CSP of a self-contained printable page (the OPP, which is also saved and mailed, so
    its style sits in the page): exactly its own <style> blocks, allowed by their hashes, and
    nothing else may load, run or submit."""
    hashes = ["'sha256-" + base64.b64encode(hashlib.sha256(m.encode("utf-8")).digest()).decode("ascii") + "'"
              for m in STYLE.findall(html)]
    styles = " ".join(hashes) or "'none'"
    return (f"default-src 'none'; style-src {styles}; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'none'")
