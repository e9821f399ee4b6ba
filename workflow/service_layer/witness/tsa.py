"""RFC 3161 timestamps of a root: the request, the service's answer, and checking the token.

Why: a mail shows a root to whoever keeps it; a timestamp token signed by a timestamping
service (a TSA) shows, to anyone, that the root existed at the token's time. The message
imprint is the SHA-256 of the root's witness record in canonical form (record.canonical), so
the token covers the day, the counts and the access log's head as well as the root.

The request (TimeStampReq, version 1, SHA-256, a random nonce, certReq true) is sent by HTTP
POST as `application/timestamp-query`; the answer must be granted, and its token (a CMS
SignedData over a TSTInfo) must hold our imprint and nonce, and carry a valid signature by the
certificate it names (when `tsa_certificate` is configured: by that certificate). The token
is stored as DER (`witness_timestamps`), and `audit verify --witness` checks it again. ASN.1 is
read and written with asn1crypto; signatures are checked with cryptography.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workflow.adapters.logs import get_logger
from workflow.adapters.ports import WitnessTimestamp
from workflow.domain.errors import Conflict
from workflow.messages import text
from workflow.service_layer.context import ServiceContext
from workflow.service_layer.witness import record
from workflow.service_layer.witness.settings import WitnessSettings

log = get_logger("passend.witness")
_HASHES = {"sha256": "SHA256", "sha384": "SHA384", "sha512": "SHA512"}


class TimestampError(Exception):
    """The service could not be reached, refused, or its answer does not hold (a short reason)."""


def request(imprint: bytes, nonce: int) -> bytes:
    from asn1crypto import tsp

    return bytes(tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": imprint},
        "nonce": nonce, "cert_req": True,
    }).dump())


def fetch(url: str, body: bytes, timeout: int) -> bytes:
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # the URL is http(s) only (settings)
            return bytes(resp.read(1 << 20))
    except urllib.error.HTTPError as exc:
        raise TimestampError(text("svc.tsa.http", code=exc.code)) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise TimestampError(text("svc.tsa.unreachable", error=type(exc).__name__)) from None


def token_from_response(data: bytes) -> bytes:
    """The DER token of a granted TimeStampResp."""
    from asn1crypto import tsp

    try:
        resp = tsp.TimeStampResp.load(data)
        status = resp["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            raise TimestampError(text("svc.tsa.refused", status=status))
        token = resp["time_stamp_token"]
        if token.native is None:
            raise TimestampError(text("svc.tsa.no_token"))
        return bytes(token.dump())
    except TimestampError:
        raise
    except Exception as exc:  # asn1crypto raises several types for bytes that are not DER
        raise TimestampError(text("svc.tsa.unreadable_answer", error=type(exc).__name__)) from None


def check_token(token: bytes, imprint: bytes, *, nonce: int | None = None,
                certificate: bytes | None = None) -> dt.datetime:
    """The token's time, after checking it covers `imprint` (and `nonce`) and its signature."""
    from asn1crypto import cms
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        info = cms.ContentInfo.load(token)
        if info["content_type"].native != "signed_data":
            raise TimestampError(text("svc.tsa.not_signed_data"))
        sd = info["content"]
        encap = sd["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise TimestampError(text("svc.tsa.no_tst_info"))
        tst_der = encap["content"].contents
        tst = encap["content"].parsed
        mi = tst["message_imprint"]
        if mi["hash_algorithm"]["algorithm"].native != "sha256" or mi["hashed_message"].native != imprint:
            raise TimestampError(text("svc.tsa.other_value"))
        if nonce is not None and tst["nonce"].native != nonce:
            raise TimestampError(text("svc.tsa.other_nonce"))
        (signer,) = sd["signer_infos"]
        sid = signer["sid"]
        certs = [c.chosen for c in sd["certificates"] if c.name == "certificate"]
        cert = next((c for c in certs if sid.name == "issuer_and_serial_number"
                     and c.issuer == sid.chosen["issuer"] and c.serial_number == sid.chosen["serial_number"].native),
                    None)
        if cert is None:
            raise TimestampError(text("svc.tsa.no_certificate"))
        if certificate is not None and cert.dump() != certificate:
            raise TimestampError(text("svc.tsa.other_certificate"))
        algo = _HASHES.get(signer["digest_algorithm"]["algorithm"].native)
        if algo is None:
            raise TimestampError(text("svc.tsa.unknown_hash"))
        h = getattr(hashes, algo)()
        attrs = signer["signed_attrs"]
        digest = next((a["values"][0].native for a in attrs if a["type"].native == "message_digest"), None)
        if digest != hashlib.new(algo.lower(), tst_der).digest():
            raise TimestampError(text("svc.tsa.hash_mismatch"))
        signed = b"\x31" + attrs.dump()[1:]  # signed over as a SET OF, not [0] IMPLICIT
        key: Any = x509.load_der_x509_certificate(cert.dump()).public_key()
        sig = signer["signature"].native
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, signed, padding.PKCS1v15(), h)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, signed, ec.ECDSA(h))
        else:
            raise TimestampError(text("svc.tsa.unknown_key"))
        when: dt.datetime = tst["gen_time"].native
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    except TimestampError:
        raise
    except InvalidSignature:
        raise TimestampError(text("svc.tsa.bad_signature")) from None
    except Exception as exc:  # not DER, or not the structure RFC 3161 prescribes
        raise TimestampError(text("svc.tsa.unreadable_token", error=type(exc).__name__)) from None


def timestamp(url: str, data: bytes, timeout: int, certificate: bytes | None = None) -> tuple[bytes, dt.datetime]:
    """Ask the TSA at `url` for a token over SHA-256(`data`); (token DER, its time)."""
    imprint = hashlib.sha256(data).digest()
    nonce = secrets.randbits(63)
    token = token_from_response(fetch(url, request(imprint, nonce), timeout))
    return token, check_token(token, imprint, nonce=nonce, certificate=certificate)


def pinned_certificate(path: Path | None) -> bytes | None:
    if path is None:
        return None
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


def stamp_latest(engine: ServiceContext, settings: WitnessSettings, real: Callable[[], dt.datetime]) -> bool:
    """A token for the newest root, when it has none yet; True when one was stored now. A
    failure is logged and tried again at the next tick."""
    assert settings.tsa_url is not None
    with engine.uow(write=False) as uow:
        latest = uow.witness.latest()
        if latest is None or latest.id is None or uow.witness.timestamp(latest.id) is not None:
            return False
    try:
        token, when = timestamp(settings.tsa_url, record.canonical(record.as_record(latest)), settings.tsa_timeout,
                                pinned_certificate(settings.tsa_certificate))
    except (TimestampError, OSError, ValueError) as exc:
        log.warning("witness.timestamp_failed", day=latest.day.isoformat(), error=str(exc)[:200])
        return False
    try:
        with engine.uow() as uow:
            if uow.witness.timestamp(latest.id) is not None:
                return False
            uow.witness.add_timestamp(WitnessTimestamp(latest.id, settings.tsa_url, token, when, real()))
            uow.commit()
    except Conflict:
        return False
    log.info("witness.timestamped", day=latest.day.isoformat())
    return True
