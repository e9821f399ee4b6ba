"""The Dutch mail text: Jinja2 templates in notifiers/templates, rendered with escaping.

Messages name the case id, the school, the deadline and its date and what is missing; never a
pupil's name, note, view or diagnosis, so neither the outbox nor a mailbox holds personal data
beyond a case id. They link to the case's page in the web app (`[web] base_url` + /casus/ID; a
digest to Mijn werk and each case): the link holds the case id and nothing else, and opening it
asks the reader to sign in.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from workflow.service_layer.mailtext import date_long, date_nl, message_id

__all__ = ["date_long", "date_nl", "message_id", "missing_item", "render"]

MISSING_PREFIX = "ontbreekt: "


def missing_item(reason: str) -> str:
    """One line under the heading "Wat nog ontbreekt:": a guard's reason without its own
    "ontbreekt: " (the heading says it already); the reason elsewhere (a refusal) keeps it."""
    return reason[len(MISSING_PREFIX):] if reason.startswith(MISSING_PREFIX) else reason


@lru_cache(maxsize=1)
def _env() -> Any:
    import jinja2

    import notifiers

    folder = Path(notifiers.__file__).resolve().parent / "templates"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False,
                                            default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["missing_item"] = missing_item
    return env


def render(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of `template` (reminder, escalation, digest)."""
    env = _env()
    subject = env.get_template(f"{template}_subject.txt.j2").render(**context)
    subject = " ".join(subject.split())  # one line, whatever the template or data hold
    text = env.get_template(f"{template}.txt.j2").render(**context)
    html = env.get_template(f"{template}.html.j2").render(**context)
    return subject, text, html
