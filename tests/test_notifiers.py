"""Notifiers: SMTP against a real aiosmtpd server on loopback, file, console; config errors."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

import notifiers
from notifiers import Attachment, Message, NotifierConfigError, NotifierError
from notifiers.console import ConsoleNotifier
from notifiers.file import FileNotifier
from tests.reminders_support import free_port, smtp_server
from workflow.service_layer.reminders import ics

MSG = Message(
    to=("ib@de-linde.school.example",),
    subject="[passend] Herinnering: OPP vaststellen voor casus C-TEST0001 uiterlijk 19-10-2026",
    text="Beste intern begeleider,\nCasus C-TEST0001.\n",
    html="<p>Casus <strong>C-TEST0001</strong> &amp; meer</p>",
    message_id="<abc123@test.example>",
    attachments=(Attachment("termijn.ics", "text/calendar",
                            ics.all_day_event(uid="abc123@test.example", day=dt.date(2026, 10, 19),
                                              summary="Uiterste datum: BOT-overleg, casus C-TEST0001",
                                              description="passend case show C-TEST0001",
                                              stamp=dt.datetime(2026, 9, 1, tzinfo=dt.UTC)),
                            (("method", "PUBLISH"),)),),
    date=dt.datetime(2026, 9, 1, 6, 0, tzinfo=dt.UTC),
)


def smtp(port: int, **extra: object) -> notifiers.Notifier:
    return notifiers.create({"backend": "smtp", "host": "127.0.0.1", "port": port, "security": "none",
                             "from": "passend@test.example", "timeout": 5, **extra}, Path("."))


def test_smtp_delivers_to_a_real_server_on_loopback() -> None:
    with smtp_server() as (port, inbox):
        n = smtp(port)
        n.send(MSG)
        n.send(Message(to=MSG.to, subject="tweede", text="x", html=None, message_id="<two@test.example>"))
        n.close()
    got = inbox.messages()
    assert [m["Message-ID"] for m in got] == ["<abc123@test.example>", "<two@test.example>"]
    m = got[0]
    assert m["Subject"] == MSG.subject and m["From"] == "passend@test.example"
    assert m.get_body(("plain",)).get_content().startswith("Beste intern begeleider")
    assert "&amp; meer" in m.get_body(("html",)).get_content()
    (cal,) = list(m.iter_attachments())
    assert cal.get_content_type() == "text/calendar" and cal.get_filename() == "termijn.ics"
    body = cal.get_payload(decode=True)
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and body.endswith(b"END:VCALENDAR\r\n")
    assert b"DTSTART;VALUE=DATE:20261019\r\n" in body
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))


def test_smtp_login_with_the_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.smtp import AuthResult

    seen: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        seen.append((auth_data.login.decode(), auth_data.password.decode()))
        # handled=False: aiosmtpd itself answers "535"; with the default (True) it sends nothing
        # and a refused login only ended at the client's 5 s timeout.
        return AuthResult(success=auth_data.password == b"geheim", handled=False)

    monkeypatch.setenv("PASSEND_SMTP_PASSWORD", "geheim")
    # PLAIN only, so each login is one attempt (smtplib would try LOGIN after a refused PLAIN).
    with smtp_server(authenticator=authenticator, auth_require_tls=False,
                     auth_exclude_mechanism=["LOGIN"]) as (port, inbox):
        n = smtp(port, username="passend", password_env="PASSEND_SMTP_PASSWORD")
        n.send(MSG)
        n.close()
        monkeypatch.setenv("PASSEND_SMTP_PASSWORD", "fout")
        bad = smtp(port, username="passend", password_env="PASSEND_SMTP_PASSWORD")
        with pytest.raises(NotifierError) as err:
            bad.send(MSG)
    assert seen == [("passend", "geheim"), ("passend", "fout")]
    assert len(inbox.messages()) == 1
    assert "fout" not in str(err.value) and "C-TEST" not in str(err.value)


def test_smtp_down_is_a_retryable_error_without_content() -> None:
    n = smtp(free_port())
    with pytest.raises(NotifierError) as err:
        n.send(MSG)
    assert "127.0.0.1" in str(err.value) and "C-TEST0001" not in str(err.value)
    assert err.value.down  # the dispatcher stops its run instead of trying every message


def test_file_notifier_writes_one_eml_per_message_id(tmp_path: Path) -> None:
    n = notifiers.create({"backend": "file", "folder": "out", "from": "passend@test.example"}, tmp_path)
    assert isinstance(n, FileNotifier)
    n.send(MSG)
    n.send(MSG)  # a resend after a crash replaces the same file
    files = list((tmp_path / "out").glob("*.eml"))
    assert len(files) == 1
    import email
    from email import policy

    m = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert m["Message-ID"] == MSG.message_id


def test_console_notifier_prints() -> None:
    out = io.StringIO()
    ConsoleNotifier("passend@test.example", out).send(MSG)
    assert MSG.subject in out.getvalue() and "termijn.ics" in out.getvalue()


@pytest.mark.parametrize(("options", "key"), [
    ({"backend": "duif"}, "notifier.backend"),
    ({"backend": "smtp"}, "notifier.host"),
    ({"backend": "smtp", "host": "h", "port": 70000}, "notifier.port"),
    ({"backend": "smtp", "host": "h", "security": "tls13"}, "notifier.security"),
    ({"backend": "smtp", "host": "h", "username": "u"}, "notifier.password_env"),
    ({"backend": "smtp", "host": "h", "password": "p"}, "notifier.password"),
    ({"backend": "file", "from": "geen adres"}, "notifier.from"),
])
def test_bad_notifier_config_names_the_key(options: dict, key: str) -> None:
    """The error is a catalog key and its values (passend words it, in Dutch by default:
    tests/test_notifier_messages.py); its own str() is the English fallback, naming the key too."""
    with pytest.raises(NotifierConfigError) as err:
        notifiers.create(options, Path("."))
    assert err.value.key.startswith("notify.") and err.value.field == key
    assert str(err.value).startswith(key + ":")


def test_ics_escapes_and_folds() -> None:
    text = ics.all_day_event(uid="u@x", day=dt.date(2027, 1, 5), summary="a, b; c\\d\nregel " + "é" * 60,
                             description="d", stamp=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert "SUMMARY:a\\, b\\; c\\\\d\\nregel" in text
    lines = text.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    assert any(line.startswith(" ") for line in lines)
    assert "\n" not in text.replace("\r\n", "")


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with `cryptography` (already a dependency)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "passend test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "relay.pem", tmp_path / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_tls_verifies_the_server_certificate(tmp_path: Path, security: str) -> None:
    import ssl

    cert_file, key_file = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    kwargs = {"tls_context": server_ctx, "require_starttls": True} if security == "starttls" \
        else {"ssl_context": server_ctx}
    with smtp_server(**kwargs) as (port, inbox):
        trusted = smtp(port, security=security, ca_file=str(cert_file))
        trusted.send(MSG)
        trusted.close()
        untrusted = smtp(port, security=security)  # the system CAs do not know this relay
        with pytest.raises(NotifierError):
            untrusted.send(MSG)
    assert inbox.message_ids() == [MSG.message_id]
