"""OpenID Connect to the school's identity provider (Microsoft Entra ID, Google Workspace,
Entree Federatie): the authorization code flow with PKCE (S256), a nonce and a state.

authlib does the OAuth 2 client work (the authorization URL with the code challenge, the token
request with the code verifier and the client's authentication); the ID token's signature is
checked against the provider's published keys (JWKS, fetched again once when a token names an
unknown key: providers rotate keys) and its claims by authlib's CodeIDToken rules: `iss` is the
configured issuer, `aud` holds our client id (and `azp` is ours when there are more), `exp` has
not passed, `iat` is present, `nonce` is the one this sign-in sent, `at_hash` matches. `state`
is the caller's to check (service_layer.signin.flows). The discovery document must name the
configured issuer, so a wrong or hijacked discovery URL cannot bring in another issuer's keys.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

TIMEOUT = 10.0
METADATA_SECONDS = 3600
LEEWAY_SECONDS = 60


class OidcError(Exception):
    """The provider could not be used or its answer did not hold; safe to log (no token, no
    address), never shown as such to the user."""


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str | None
    email_verified: bool | None
    claims: dict[str, Any]


class OidcClient:
    def __init__(self, *, issuer: str, discovery_url: str, client_id: str, client_secret: str | None,
                 scopes: tuple[str, ...], redirect_uri: str) -> None:
        self.issuer = issuer
        self.discovery_url = discovery_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.redirect_uri = redirect_uri
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: KeySet | None = None

    def _client(self) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id, client_secret=self.client_secret, scope=" ".join(self.scopes),
            redirect_uri=self.redirect_uri, code_challenge_method="S256", timeout=TIMEOUT,
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none")

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata[0] < METADATA_SECONDS:
                return self._metadata[1]
        data = self._get_json(self.discovery_url)
        if data.get("issuer", "").rstrip("/") != self.issuer:
            raise OidcError("discovery document names another issuer than web.oidc.issuer")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(key), str):
                raise OidcError(f"discovery document lacks {key}")
        with self._lock:
            self._metadata = (time.monotonic(), data)
        return data

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            r = httpx2.get(url, timeout=TIMEOUT, follow_redirects=False)
            r.raise_for_status()
            data = r.json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise OidcError(f"cannot read {url} ({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise OidcError(f"{url} is not a JSON object")
        return data

    def authorization_url(self, *, state: str, nonce: str, verifier: str) -> str:
        """Where to send the browser: the provider's sign-in, with our state, nonce and the S256
        code challenge of `verifier`."""
        endpoint = self.metadata()["authorization_endpoint"]
        with self._client() as client:
            url, _ = client.create_authorization_url(endpoint, state=state, code_verifier=verifier, nonce=nonce)
        return str(url)

    def finish(self, *, code: str, nonce: str, verifier: str) -> Identity:
        """Trade the code for tokens (with the PKCE verifier) and check the ID token."""
        meta = self.metadata()
        try:
            with self._client() as client:
                token = client.fetch_token(meta["token_endpoint"], code=code, code_verifier=verifier,
                                           grant_type="authorization_code")
        except Exception as exc:  # authlib's and httpx's errors alike: the provider said no
            raise OidcError(f"token request refused ({type(exc).__name__})") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("no id_token in the token response")
        claims = self._verify(id_token, nonce=nonce, access_token=token.get("access_token"))
        email = claims.get("email")
        verified = claims.get("email_verified")
        return Identity(subject=str(claims["sub"]), email=email if isinstance(email, str) else None,
                        email_verified=verified if isinstance(verified, bool) else None, claims=dict(claims))

    def _verify(self, id_token: str, *, nonce: str, access_token: Any) -> dict[str, Any]:
        algorithms = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in algorithms if a != "none"]
        try:
            try:
                decoded = jwt.decode(id_token, self._keyset(), algorithms=algorithms)
            except JoseError:
                decoded = jwt.decode(id_token, self._keyset(refresh=True), algorithms=algorithms)
            claims = CodeIDToken(
                decoded.claims, decoded.header,
                {"iss": {"essential": True, "value": self.issuer},
                 "aud": {"essential": True, "value": self.client_id},
                 "exp": {"essential": True}},
                {"nonce": nonce, "client_id": self.client_id,
                 **({"access_token": access_token} if isinstance(access_token, str) else {})})
            claims.validate(leeway=LEEWAY_SECONDS)
        except JoseError as exc:
            raise OidcError(f"ID token refused ({type(exc).__name__}: {exc.error})") from None
        except (ValueError, KeyError) as exc:
            raise OidcError(f"ID token unreadable ({type(exc).__name__})") from None
        return dict(claims)

    def _keyset(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            if self._keys is not None and not refresh:
                return self._keys
        keys = KeySet.import_key_set(self._get_json(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
        with self._lock:
            self._keys = keys
        return keys
