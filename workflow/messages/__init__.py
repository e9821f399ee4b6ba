"""The message catalog: how a person reads a refusal reason, in plain Dutch (or English).

Reasons are data (`workflow.domain.reasons.Reason`: a code and parameters). This package turns
them into sentences with gettext catalogs (`locale/<lang>/LC_MESSAGES/passend.po`, compiled to
`.mo` by `python -m workflow.messages.build`, which uses Babel) and fills in the definition's
labels: state, trigger, role, evidence kind, field and choice labels, never ids. Dutch is the
default and complete; English is available (`PASSEND_LANGUAGE=en`, or `lang="en"`), with the
definition's own labels, which are Dutch.

A running passend reads the compiled catalogs itself (render.read_mo, faster than gettext's
reader), without Babel: `passend --help` imports none of this.
"""

from workflow.messages.render import DEFAULT_LANGUAGE, LANGUAGES, render, render_all, text, with_text

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "render", "render_all", "text", "with_text"]
