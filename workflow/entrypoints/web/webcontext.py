"""What a request of the web app may need, made once per app (`create_app`) and kept on
`app.state.web`.

Its own module so the route modules (guard, pages, signin, oidc, home and the pages built on
them) can name its type without importing the app factory, which imports them: no import circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

if TYPE_CHECKING:
    from notifiers import Notifier
    from workflow.adapters.oidc import OidcClient
    from workflow.adapters.web_settings import WebSettings
    from workflow.service_layer.engine import Engine
    from workflow.service_layer.parents import ParentSessions
    from workflow.service_layer.signin.flows import Flows
    from workflow.service_layer.signin.links import Links
    from workflow.service_layer.signin.sessions import Sessions
    from workflow.service_layer.signin.totp import Codes


@dataclass
class WebContext:
    """Everything a request may need, made once per app."""

    engine: Engine
    settings: WebSettings
    notifier: Notifier
    sessions: Sessions
    links: Links
    codes: Codes
    flows: Flows
    oidc: OidcClient | None
    session_cookie: str
    pre_cookie: str
    parent_sessions: ParentSessions
    parent_cookie: str
    # Parts of pages that are the same for every case (pages.fragment): the blank evidence forms
    # of a process version, per language. A version of a definition never changes once stored.
    fragments: dict[tuple[Any, ...], Any] = field(default_factory=dict)


def context(request: Request) -> WebContext:
    """The app's WebContext, for a route or a dependency."""
    return request.app.state.web  # type: ignore[no-any-return]
