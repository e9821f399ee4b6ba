"""`[web]` is checked before `passend web` listens: a bad value is one line naming the key, exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from workflow.adapters.web_settings import parse_web
from workflow.domain.errors import ConfigError
from workflow.entrypoints.cli.main import main


def test_defaults_and_https() -> None:
    s = parse_web(None, "config.toml")
    assert (s.base_url, s.secure, s.idle_minutes, s.max_hours, s.link_minutes, s.email_link, s.oidc) == (
        "http://127.0.0.1:8000", False, 30, 10, 15, True, None)
    assert parse_web({"base_url": "https://passend.school.example/"}, "c").secure
    assert not parse_web({"base_url": "https://passend.school.example", "secure_cookies": False}, "c").secure


@pytest.mark.parametrize(("web", "key"), [
    ({"base_url": "ftp://x"}, "web.base_url"),
    ({"idle_minutes": 0}, "web.idle_minutes"),
    ({"max_hours": "10"}, "web.max_hours"),
    ({"colour": "blue"}, "web.colour"),
    ({"email_link": False}, "web.email_link"),
    ({"oidc": {"client_id": "x"}}, "web.oidc.issuer"),
    ({"oidc": {"issuer": "http://idp.example", "client_id": "x"}}, "web.oidc.issuer"),
    ({"oidc": {"issuer": "https://idp.example"}}, "web.oidc.client_id"),
    ({"oidc": {"issuer": "https://idp.example", "client_id": "x", "client_secret_env": "NOT_SET_HERE"}},
     "web.oidc.client_secret_env"),
    ({"oidc": {"issuer": "https://idp.example", "client_id": "x", "scopes": ["email"]}}, "web.oidc.scopes"),
])
def test_bad_values_name_their_key(web: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_web(web, "config.toml", env={})


def test_passend_web_refuses_a_bad_section_and_an_uninitialised_database(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSEND_MASTER_KEY", "A" * 43)
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", extra='\n[web]\nidle_minutes = -1\n')
    assert main(["--config", str(cfg), "web"]) == 2
    assert "web.idle_minutes" in capsys.readouterr().err
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'p.db'}")
    assert main(["--config", str(cfg), "web", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "passend init" in err and "Traceback" not in err
