"""Users in the database: `passend user ...`, init's import of config.toml, and the acting user."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_init_imports_the_config_users(cli: Any) -> None:
    r = cli("--json", "init")
    assert r.code == 0 and sorted(r.json()["users"]["added"]) == [
        "auditor", "dir.bakker", "ib.jansen", "ib.smit", "lk.devries"]
    r = cli("init")
    assert r.code == 0 and "0 nieuw, 0 bijgewerkt, 0 uitgeschakeld" in r.out
    users = {u["id"]: u for u in cli("user", "list", "--json").json()}
    assert users["ib.jansen"] == {
        "id": "ib.jansen", "name": "", "role": "ib", "schools": ["de-linde"], "email": "ib@de-linde.school.example",
        "managed": "config", "active": True, "disabled_at": None, "totp": False}


def test_add_disable_enable_and_their_exit_codes(cli: Any) -> None:
    cli("init")
    r = cli("user", "add", "lk.bos", "--role", "leerkracht", "--school", "de-linde", "--name", "Juf Bos",
            "--email", " Bos@De-Linde.School.Example ")
    assert r.code == 0 and "lk.bos toegevoegd" in r.out
    assert cli("user", "list").out.count("lk.bos") == 1
    listed = {u["id"]: u for u in cli("user", "list", "--json").json()}
    assert listed["lk.bos"]["email"] == "bos@de-linde.school.example" and listed["lk.bos"]["managed"] == "cli"
    for args, needle in (
        (("lk.bos", "--role", "leerkracht", "--school", "de-linde"), "bestaat al"),
        (("lk.x", "--role", "conciërge", "--school", "de-linde"), "onbekende rol"),
        (("lk.x", "--role", "leerkracht", "--school", "nergens"), "onbekende school"),
        (("lk.x", "--role", "leerkracht", "--school", "de-linde", "--email", "geen-adres"), "geen geldig"),
        (("lk.x", "--role", "leerkracht", "--school", "de-linde", "--email", "BOS@de-linde.school.example"),
         "hoort al bij gebruiker 'lk.bos'"),
        (("lk x", "--role", "leerkracht", "--school", "de-linde"), "id:"),
    ):
        r = cli("user", "add", *args)
        assert r.code == 2 and needle in r.err and "Traceback" not in r.err, (args, r.err)
    assert cli("user", "add", "lk.x", "--role", "ib").code == 2  # --school is required
    assert cli("user", "disable", "niemand").code == 2
    case = cli("--json", "case", "open", "--pupil", "LL-1", "--school", "de-linde", "--actor", "lk.bos").json()
    r = cli("user", "disable", "lk.bos")
    assert r.code == 0 and "uitgeschakeld" in r.out
    assert "was al uitgeschakeld" in cli("user", "disable", "lk.bos").out
    r = cli("case", "show", case["case_id"], "--actor", "lk.bos")
    assert r.code == 3 and "lk.bos" in r.err and "uitgeschakeld" in r.err
    r = cli("--json", "case", "list", "--actor", "lk.bos")
    assert r.code == 3 and r.json()["exit_code"] == 3
    disabled = "gebruiker 'lk.bos' is uitgeschakeld (passend user enable zet hem weer aan)"
    assert r.json()["reasons"] == [{"code": "user_disabled", "params": {"user": "lk.bos"}, "text": disabled}]
    assert cli("user", "enable", "lk.bos").code == 0
    assert cli("case", "show", case["case_id"], "--actor", "lk.bos").code == 0
    r = cli("case", "list", "--actor", "nobody")
    assert r.code == 2 and "onbekende gebruiker" in r.err


def test_a_config_user_disabled_by_the_cli_stays_disabled_through_init(cli: Any, config_path: Path) -> None:
    cli("init")
    assert cli("user", "disable", "lk.devries").code == 0
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace('id = "lk.devries"\nrole = "leerkracht"',
                                        'id = "lk.devries"\nrole = "ib"'), encoding="utf-8")
    r = cli("--json", "init")
    assert r.json()["users"]["updated"] == ["lk.devries"]
    u = {u["id"]: u for u in cli("user", "list", "--json").json()}["lk.devries"]
    assert u["role"] == "ib" and not u["active"]  # the file sets the role; disabled stays disabled


def test_a_user_taken_out_of_the_file_is_disabled_by_init(cli: Any, config_path: Path) -> None:
    cli("init")
    cli("user", "add", "lk.bos", "--role", "leerkracht", "--school", "de-linde")
    text = config_path.read_text(encoding="utf-8")
    start = text.index('[[users]]\nid = "ib.smit"')
    config_path.write_text(text[:start] + text[text.index("[[users]]", start + 5):], encoding="utf-8")
    r = cli("--json", "init")
    assert r.json()["users"]["disabled"] == ["ib.smit"]
    users = {u["id"]: u for u in cli("user", "list", "--json").json()}
    assert not users["ib.smit"]["active"] and users["lk.bos"]["active"]  # cli users are left alone


def test_init_refuses_a_config_address_that_belongs_to_another_user(cli: Any, config_path: Path) -> None:
    cli("init")
    cli("user", "add", "lk.bos", "--role", "leerkracht", "--school", "de-linde", "--email", "bos@x.example")
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("groep5@de-linde.school.example", "BOS@x.example"), encoding="utf-8")
    before = cli("user", "list", "--json").json()
    r = cli("init")
    assert r.code == 2 and "lk.bos" in r.err
    assert cli("user", "list", "--json").json() == before


def test_addresses_may_move_between_config_users(cli: Any, config_path: Path) -> None:
    cli("init")
    text = config_path.read_text(encoding="utf-8")
    swapped = (text.replace("ib@de-linde.school.example", "TMP").replace("groep5@de-linde.school.example",
               "ib@de-linde.school.example").replace("TMP", "groep5@de-linde.school.example"))
    config_path.write_text(swapped, encoding="utf-8")
    assert cli("init").code == 0
    users = {u["id"]: u for u in cli("user", "list", "--json").json()}
    assert users["ib.jansen"]["email"] == "groep5@de-linde.school.example"


def test_reset_code_forgets_the_authenticator(cli: Any) -> None:
    cli("init")
    r = cli("user", "reset-code", "ib.jansen")
    assert r.code == 0 and "vergeten" in r.out
    assert cli("user", "reset-code", "niemand").code == 2

