"""The reminder, escalation and digest mails: Jinja2 templates in notifiers/templates, rendered
with escaping, their words from the message catalog (mail.*) in the language set.

The templates hold the mails' layout and no words: each sentence is `{{ t("mail.…", name=value) }}`,
`t` being `mail_text` below, which this module gives the templates (notifiers imports nothing of
workflow, so the catalog comes in from here, as the web pages get theirs from their own module).

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

from workflow.messages import text
from workflow.messages.render import language_held
from workflow.service_layer.mailtext import date_long, date_nl, message_id

__all__ = ["date_long", "date_nl", "mail_text", "message_id", "missing_item", "render"]

MISSING_PREFIX = "ontbreekt: "


def missing_item(reason: str) -> str:
    """One line under the heading "Wat nog ontbreekt:" (mail.case.missing): a reason without a
    leading "ontbreekt: ", which the heading says already; the reason elsewhere keeps it.

    The prefix is Dutch in either language on purpose: the catalog's reasons (nl and en) never
    begin with it or with a translation of it; it comes only with a process definition's own
    wording of a guard (`message = "ontbreekt: …"`), which is the definition's Dutch whatever
    the language set, and with the guards' wording of old."""
    return reason[len(MISSING_PREFIX):] if reason.startswith(MISSING_PREFIX) else reason


def mail_text(eval_ctx: Any, key: str, /, **values: Any) -> str:
    """A mail's wording from the catalog: `{{ t("mail.…", name=value) }}` in a template.

    In a text template the catalog's text filled in as is. In an HTML template (autoescaped) the
    web pages' `page_text` (messages.markup: the catalog's text and every value escaped, the
    template's own markup kept, the escaped text kept per language and key), with a line break
    in the catalog's text, which is where the text mail wraps its line, as a space."""
    if not eval_ctx.autoescape:
        return text(key, **values)
    from workflow.messages.markup import page_text  # markupsafe: only when a mail is rendered

    return page_text(key, True, **values)


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
    env.globals["t"] = jinja2.pass_eval_context(mail_text)
    return env


def render(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of `template` (reminder, escalation, digest), in the
    language set, read once for the three."""
    env = _env()
    with language_held():
        subject = env.get_template(f"{template}_subject.txt.j2").render(**context)
        subject = " ".join(subject.split())  # one line, whatever the template or data hold
        body = env.get_template(f"{template}.txt.j2").render(**context)
        html = env.get_template(f"{template}.html.j2").render(**context)
    return subject, body, html
