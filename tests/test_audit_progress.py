"""The progress line: drawn on a terminal (stderr), silent everywhere else."""

from __future__ import annotations

import io

from workflow.entrypoints.cli.progress import Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal() -> None:
    quiet = io.StringIO()
    p = Progress("verify", stream=quiet)
    p.advance(5000)
    p.close()
    assert quiet.getvalue() == ""

    tty = _Tty()
    p = Progress("verify", total=10_000, stream=tty)
    p.advance(5000)
    p.close()
    out = tty.getvalue()
    assert out.startswith("\rverify [") and "5000/10000" in out and out.endswith("\n")
