"""Files with personal data are for their owner only, whatever the umask (issue 15): a timeline
(HTML with the notes decrypted), an export, a backup; 0640 for a configured group."""

from __future__ import annotations

import grp
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from workflow.entrypoints.cli.main import main as cli_main

IB = "ib.jansen"


@pytest.fixture(autouse=True)
def loose_umask(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PASSEND_MASTER_KEY", "A" * 43)
    old = os.umask(0o022)  # the usual umask: left to it, files would be 0644
    yield
    os.umask(old)


def run(capsys: pytest.CaptureFixture[str], cfg: Path, *args: str) -> Any:
    from tests.conftest import CliResult

    capsys.readouterr()
    code = cli_main(["--config", str(cfg), *args])
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


def mode(p: Path) -> str:
    return oct(p.stat().st_mode & 0o777)


@pytest.mark.parametrize("group", [None, "own"])
def test_timeline_export_and_backup_are_private(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                group: str | None) -> None:
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}")
    name = grp.getgrgid(os.getgid()).gr_name
    if group is not None:
        cfg.write_text(cfg.read_text().replace('master_key_file = "var/master.key"',
                                               f'master_key_file = "var/master.key"\nfile_group = "{name}"'))
    file_mode, dir_mode = ("0o640", "0o750") if group else ("0o600", "0o700")
    assert run(capsys, cfg, "init").code == 0
    r = run(capsys, cfg, "--json", "case", "open", "--pupil", "LL-1", "--school", "de-linde", "--actor", IB)
    cid = r.json()["case_id"]
    assert run(capsys, cfg, "record", "signal", cid, "--area", "lezen", "--note", "geheim", "--actor", IB).code == 0
    html = tmp_path / "tijdlijn.html"
    assert run(capsys, cfg, "audit", "timeline", cid, "--format", "html", "--out", str(html)).code == 0
    assert "geheim" in html.read_text() and mode(html) == file_mode
    html.chmod(0o644)  # an existing file, replaced: private again
    assert run(capsys, cfg, "audit", "timeline", cid, "--format", "html", "--out", str(html)).code == 0
    assert mode(html) == file_mode
    out = tmp_path / "export"
    assert run(capsys, cfg, "audit", "export", "--out", str(out)).code == 0
    assert mode(out) == dir_mode
    assert {p.name: mode(p) for p in out.iterdir()} == {
        n: file_mode for n in ("events.jsonl", "manifest.json", "proofs.jsonl", "SHA256SUMS")}
    backup = tmp_path / "b.db"
    assert run(capsys, cfg, "backup", "--out", str(backup)).code == 0
    assert mode(backup) == file_mode
    if group:
        gid = grp.getgrnam(name).gr_gid
        assert {p.stat().st_gid for p in (html, out, backup, *out.iterdir())} == {gid}


def test_an_unknown_group_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}")
    cfg.write_text(cfg.read_text().replace('master_key_file = "var/master.key"',
                                           'master_key_file = "var/master.key"\nfile_group = "geen-groep-xyz"'))
    r = run(capsys, cfg, "init")
    assert r.code == 2 and "security.file_group" in r.err and "geen-groep-xyz" in r.err
