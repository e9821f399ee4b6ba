"""The import contracts hold: `lint-imports` (import-linter, configured in pyproject.toml's
[tool.importlinter]) passes on the tree, run as its own process from this venv, as .ci/run runs it.

The contracts: the layers (entry points > bootstrap > service layer > adapters | messages >
domain), a domain that imports nothing of the house and none of the database, web, CLI, logging
or crypto libraries, adapters below the services, the demo outside the core, notifiers that stand
alone, and no import cycles anywhere in workflow/. A second run with a contract the tree must
break shows that the tool really reads the imports (a check that cannot fail proves nothing).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


def test_every_import_contract_is_kept() -> None:
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} is missing: pip install -e '.[test]'"
    r = _run()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 6 kept, 0 broken." in r.stdout, r.stdout


def test_a_contract_the_tree_breaks_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["workflow"]\n\n[[tool.importlinter.contracts]]\n'
        'name = "the service layer without the domain (false on purpose)"\ntype = "forbidden"\n'
        'source_modules = ["workflow.service_layer"]\nforbidden_modules = ["workflow.domain"]\n',
        encoding="utf-8")
    r = _run(str(config))
    assert r.returncode == 1 and "BROKEN" in r.stdout, r.stdout + r.stderr
    assert "workflow.service_layer" in r.stdout and "workflow.domain" in r.stdout
