"""Field encryption with a key per case, so that erasing a pupil is destroying one key.

Each case gets a random data key (AES-256-GCM); the key is stored wrapped by the master key,
which comes from the environment or a key file named in config, never from the repository. The
ciphertext binds the case id and field name as associated data, so a value moved to another
case or field does not decrypt. Hashes in the event chain cover the ciphertext, so the chain
still verifies after the key is gone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from workflow.domain.errors import ConfigError, Said

ENC_KEY = "$enc"
ERASED = "[gewist]"
MASTER_ENV = "PASSEND_MASTER_KEY"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_master_key() -> str:
    return _b64(os.urandom(32))


def load_master_key(key_file: Path | None, *, create: bool = False) -> bytes:
    """The master key from $PASSEND_MASTER_KEY, else from `key_file` (made, mode 0600, on init)."""
    text = os.environ.get(MASTER_ENV)
    source = MASTER_ENV
    if not text:
        if key_file is None:
            raise ConfigError(Said("cfg.key.none", env=MASTER_ENV))
        if key_file.is_dir():
            raise ConfigError(Said("cfg.key.a_folder", path=str(key_file)))
        if not key_file.exists():
            if not create:
                raise ConfigError(Said("cfg.key.missing", path=str(key_file)))
            try:
                key_file.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(new_master_key() + "\n")
            except OSError as exc:
                raise ConfigError(Said("cfg.key.cannot_make", path=str(key_file),
                                       error=exc.strerror or type(exc).__name__)) from None
        try:
            text = key_file.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(Said("cfg.key.unreadable", path=str(key_file),
                                   error=getattr(exc, "strerror", None) or type(exc).__name__)) from None
        source = str(key_file)
    try:
        key = _unb64(text)
    except (ValueError, TypeError):
        key = b""
    if len(key) != 32:
        raise ConfigError(Said("cfg.key.bad", source=source))
    return key


class KeyRing:
    """Wraps and unwraps per-case data keys with the master key; derives the lookup index key."""

    def __init__(self, master: bytes) -> None:
        self._wrap = AESGCM(hashlib.sha256(b"passend/wrap/v1" + master).digest())
        self._index_key = hashlib.sha256(b"passend/index/v1" + master).digest()
        # Sign-in secrets (a user's TOTP seed) and the keyed hashes of sign-in tokens get keys of
        # their own, derived like the others: a key never serves two purposes.
        self._secret = AESGCM(hashlib.sha256(b"passend/secret/v1" + master).digest())
        self._token_key = hashlib.sha256(b"passend/token/v1" + master).digest()

    def new_case_key(self, case_id: str) -> tuple[bytes, bytes]:
        """(plain data key, wrapped form to store)."""
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        return key, nonce + self._wrap.encrypt(nonce, key, case_id.encode())

    def unwrap(self, case_id: str, wrapped: bytes) -> bytes:
        try:
            return self._wrap.decrypt(wrapped[:12], wrapped[12:], case_id.encode())
        except InvalidTag:
            raise ConfigError(Said("cfg.key.case_keys")) from None

    def seal_secret(self, context: str, value: str) -> bytes:
        """`value` encrypted with the master key, bound to `context` (e.g. "totp/ib.jansen"), so a
        sealed value copied to another user's row does not open."""
        nonce = os.urandom(12)
        return nonce + self._secret.encrypt(nonce, value.encode("utf-8"), context.encode())

    def open_secret(self, context: str, sealed: bytes) -> str:
        try:
            return self._secret.decrypt(sealed[:12], sealed[12:], context.encode()).decode("utf-8")
        except InvalidTag:
            raise ConfigError(Said("cfg.key.signin_secrets")) from None

    def token_hash(self, purpose: str, token: str) -> str:
        """The keyed hash a sign-in link or session token is stored and looked up by: a copy of
        the database alone can neither use a stored token nor make one that verifies."""
        return hmac.new(self._token_key, f"{purpose}\x00{token}".encode(), hashlib.sha256).hexdigest()

    def pupil_index(self, school: str, pupil_ref: str) -> str:
        """A keyed hash of the pupil reference: findable, but not readable from the database."""
        msg = f"{school}\x00{pupil_ref.strip()}".encode()
        return hmac.new(self._index_key, msg, hashlib.sha256).hexdigest()


class CaseCipher:
    """Encrypts and decrypts the secret fields of one case."""

    def __init__(self, case_id: str, key: bytes | None) -> None:
        self.case_id = case_id
        self._aead = AESGCM(key) if key is not None else None
        # A key for values derived from the case key (the OPP hash's salt), never the key itself.
        self._derive = hmac.new(key, b"passend/derive", hashlib.sha256).digest() if key is not None else None

    def derived(self, purpose: str) -> str | None:
        """A stable secret of this case for `purpose` (32 hex digits); None once erased."""
        if self._derive is None:
            return None
        return hmac.new(self._derive, purpose.encode(), hashlib.sha256).hexdigest()[:32]

    @property
    def erased(self) -> bool:
        return self._aead is None

    def seal(self, field: str, value: str) -> dict[str, str]:
        if self._aead is None:
            raise ConfigError(Said("cfg.key.case_erased", case=self.case_id))
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, value.encode("utf-8"), f"{self.case_id}/{field}".encode())
        return {ENC_KEY: "v1." + _b64(nonce + ct)}

    def open(self, field: str, sealed: Any) -> str:
        if not is_sealed(sealed):
            return str(sealed)
        if self._aead is None:
            return ERASED
        blob = _unb64(sealed[ENC_KEY].split(".", 1)[1])
        try:
            plain = self._aead.decrypt(blob[:12], blob[12:], f"{self.case_id}/{field}".encode())
        except InvalidTag:
            return "[onleesbaar]"
        return plain.decode("utf-8")

    def seal_all(self, values: dict[str, str]) -> dict[str, dict[str, str]]:
        return {k: self.seal(k, v) for k, v in values.items()}

    def open_all(self, sealed: dict[str, Any]) -> dict[str, str]:
        return {k: self.open(k, v) for k, v in sealed.items()}


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {ENC_KEY}
