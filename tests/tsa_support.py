"""A real RFC 3161 timestamping service on loopback, for the witness tests: OpenSSL's own TSA
(`openssl ts -reply`) behind a tiny HTTP server, signing with a key and certificate made here
(cryptography). Nothing but 127.0.0.1 is contacted."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CONFIG = """
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def make_tsa_files(folder: Path) -> Path:
    """A key, a self-signed certificate for time stamping (critical EKU), a serial file and the
    OpenSSL TSA config; returns the config's path."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "passend test TSA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / "tsa.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    (folder / "tsa.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "serial").write_text("01\n")
    cfg = folder / "tsa.cnf"
    cfg.write_text(CONFIG.format(dir=folder), encoding="ascii")
    return cfg


class _Handler(http.server.BaseHTTPRequestHandler):
    config: Path
    requests: list[bytes]

    def do_POST(self) -> None:  # http.server calls it by this name
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.requests.append(body)
        with tempfile.TemporaryDirectory() as tmp:
            req, resp = Path(tmp) / "req.tsq", Path(tmp) / "resp.tsr"
            req.write_bytes(body)
            r = subprocess.run(["openssl", "ts", "-reply", "-config", str(self.config), "-queryfile", str(req),
                                "-out", str(resp)], capture_output=True, timeout=30, check=False)
            if r.returncode != 0 or not resp.is_file():
                self.send_response(500)
                self.end_headers()
                return
            data = resp.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def local_tsa(folder: Path) -> Iterator[tuple[str, list[bytes], Path]]:
    """(URL, the requests received, the certificate's path) of a TSA on a free loopback port."""
    if shutil.which("openssl") is None:
        import pytest

        pytest.skip("openssl is not installed: no local timestamping service")
    config = make_tsa_files(folder)
    handler = type("Handler", (_Handler,), {"config": config, "requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa", handler.requests, folder / "tsa.crt"
    finally:
        server.shutdown()
        server.server_close()
