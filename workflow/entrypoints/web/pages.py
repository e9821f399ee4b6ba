"""Rendering a page: the template, with what every page needs (the user, `read_only`, the CSRF
token, the schools' names), and the pre-session cookie set when a form needs one."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jinja2
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from workflow.entrypoints.web.guard import current_session, is_read_only, new_pre_cookie, parent_session, pre_token
from workflow.entrypoints.web.security import set_cookie
from workflow.entrypoints.web.webcontext import context
from workflow.messages import text
from workflow.messages.markup import page_text
from workflow.messages.render import language
from workflow.service_layer.dashboard import AUDIT_ROLES, DIRECTIE_ROLES

_DICT_ATTRIBUTES = frozenset(dir(dict))


class PageEnvironment(jinja2.Environment):
    """Jinja's environment, with `view.name` on a plain dict looked up as the key at once.

    The pages are drawn from dicts (the service layer's views), and Jinja's `getattr` first asks
    the dict for an attribute of that name, which for anything but dict's own methods raises and
    catches an AttributeError: a thousand times a case page, a tenth of its rendering. A plain
    dict has no attributes but its class's, so for any other name the key is the answer Jinja
    would have given, and for `items`, `get` and the like the method still is."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


TEMPLATES = Jinja2Templates(env=PageEnvironment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=jinja2.select_autoescape(),
    auto_reload=False,  # the templates ship with the package: compiled once, never looked up on disk again
))


TEMPLATES.env.globals["t"] = page_text


def fields_html(controls: Iterable[Any]) -> Markup:
    """Form controls drawn by the templates' own `field` macro (_macros.html), as one piece."""
    field = TEMPLATES.env.get_template("_macros.html").module.field  # type: ignore[attr-defined]
    return Markup("").join(field(c) for c in controls)


def fragment(request: Request, key: tuple[Any, ...], build: Callable[[], Markup]) -> Markup:
    """A part of a page that is the same for every request with this `key`, in the language in
    force: built once per app, then kept (WebContext.fragments). The case page's blank evidence
    forms are a third of its rendering, and the same for every case of a process version."""
    cache = context(request).fragments
    full = (language(), *key)
    found = cache.get(full)
    if found is None:
        found = cache[full] = build()
    return found


class _RoleNames(Mapping[str, str]):
    """A role as a page names it ("intern begeleider (IB)"), from the catalog (`web.role.<id>`),
    read when a page asks, so the language in force decides."""

    ROLES = ("ib", "leerkracht", "directeur", "auditor", "ouder")

    def __getitem__(self, role: str) -> str:
        if role not in self.ROLES:
            raise KeyError(role)
        return text(f"web.role.{role}")

    def get(self, role: str, default: Any = None) -> Any:  # as Mapping's, without its try/except
        return text(f"web.role.{role}") if role in self.ROLES else default

    def __iter__(self) -> Iterator[str]:
        return iter(self.ROLES)

    def __len__(self) -> int:
        return len(self.ROLES)


ROLE_NAMES: Mapping[str, str] = _RoleNames()


def _csrf(request: Request, session: Any) -> tuple[str | None, str | None]:
    """The page's CSRF token: the session's, else the pre-session cookie's (a new cookie, the
    second value, when the browser has none yet)."""
    if session is not None:
        return session.csrf, None
    csrf = pre_token(request)
    if csrf is not None:
        return csrf, None
    new_cookie = new_pre_cookie()
    return pre_token(request, new_cookie), new_cookie


def _respond(request: Request, name: str, status: int, page: dict[str, Any], new_cookie: str | None) -> HTMLResponse:
    web = context(request)
    response = TEMPLATES.TemplateResponse(request, name, page, status_code=status)
    if new_cookie is not None:
        set_cookie(response, web.pre_cookie, new_cookie, secure=web.settings.secure)
    return response


def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    web = context(request)
    session = current_session(request)
    csrf, new_cookie = _csrf(request, session)
    user = session.user if session is not None and session.full else None
    read_only = user is not None and is_read_only(request, user)
    page = {
        "user": user,
        "read_only": read_only,
        # May this user open a case (the "Nieuwe casus" link in the menu)?
        "may_open": user is not None and not read_only and user.role in web.engine.definition.open_roles,
        # The Directie and Audit overviews (service_layer.dashboard decides the roles).
        "may_directie": user is not None and user.role in DIRECTIE_ROLES,
        "may_audit": user is not None and user.role in AUDIT_ROLES,
        "csrf": csrf,
        "role_name": ROLE_NAMES.get(user.role, user.role) if user else None,
        "school_names": {k: s.name for k, s in web.engine.config.schools.items()},
        "email_link": web.settings.email_link,
        "link_minutes": web.settings.link_minutes,
        "oidc_label": web.settings.oidc.label if web.settings.oidc else None,
        **values,
    }
    return _respond(request, name, status, page, new_cookie)


def render_parent(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A parent's page: the CSRF token of the parent's session (or the pre-session's), nothing
    of a staff session that may be open in the same browser."""
    session = parent_session(request)
    csrf, new_cookie = _csrf(request, session)
    page = {"user": None, "read_only": False, "may_open": False, "csrf": csrf, "signed_in": session is not None,
            **values}
    return _respond(request, name, status, page, new_cookie)
