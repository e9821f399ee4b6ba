"""The printable OPP for the parents and the BOT: one HTML page, or a PDF of it (WeasyPrint).

Every part of the version is on it, with what is still missing marked, the adoption date, and
the version's and the handelingsdeel's SHA-256 with the salt that lets anyone holding the paper
recompute them (docs/event-chain.md, "The OPP document"): the consent of the parents names that
same hash, so paper and record can be matched. Personal data is on it by nature, so producing it
is logged as a read (`opp.print`). The template is autoescaped: the parts are text people typed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflow.domain.errors import BadInput
from workflow.messages import text
from workflow.service_layer import opp
from workflow.service_layer.context import ServiceContext

FORMATS = ("html", "pdf")


def render_html(view: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("workflow.service_layer", "templates"), autoescape=True,
                      undefined=StrictUndefined)
    env.globals["t"] = text  # its words from the catalog (plain text: autoescaped like the parts)
    return env.get_template("opp.html.j2").render(o=view)


def render_pdf(html: str) -> bytes:
    """The HTML as a PDF (WeasyPrint, which needs Pango from the system)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: the Pango library is missing
        raise BadInput(text("svc.opp_print.no_pdf", error=type(exc).__name__)) from None
    out: bytes = HTML(string=html).write_pdf()
    return out


def print_opp(ctx: ServiceContext, case_id: str, *, actor: str, fmt: str = "pdf", version: int | None = None,
              out: Path | None = None, purpose: str | None = None) -> dict[str, Any]:
    """Write the OPP (HTML or PDF) to `out`, or return it in `document` when no file is given."""
    if fmt not in FORMATS:
        raise BadInput(text("svc.format.choose", choices=", ".join(FORMATS)))
    view = opp.show(ctx, case_id, actor=actor, version=version, purpose=purpose, action="opp.print")
    html = render_html(view)
    data = html.encode("utf-8") if fmt == "html" else render_pdf(html)
    result: dict[str, Any] = {"case_id": case_id, "opp_version": view["opp_version"], "hash": view["hash"],
                              "adopted_on": view["adopted_on"], "format": fmt, "bytes": len(data)}
    if out is not None:
        out.write_bytes(data)
        result["file"] = str(out)
    else:
        result["document"] = data
    return result
