"""OAuth 2.0 client-credentials tokens, as Voucherify's `documentation/openapi/oauth.json` has them.

- `POST /v1/oauth/token`, authenticated with `X-App-Id`/`X-App-Token`, a form body
  `grant_type=client_credentials&scope=<space-separated>`; answers `{access_token, client_id,
  expires_at (epoch s), expires_in, scope, token_type: "Bearer"}`; 400 `invalid_grant_type` /
  `invalid_scope`.
- `POST /v1/oauth/token/revoke`, same authentication, form `access_token=…`: 204, or 404 for a
  token that is unknown or no longer active.
- A token is then sent as `Authorization: Bearer <token>`; exports calls accept scope `api` or
  `exports`. Tokens last `oauth_token_ttl_seconds` (Voucherify: 900); `expire_all` ends them at
  once (the `expire_oauth_token` fault), for tests of renewal in the middle of a run.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from voucherify_emulator.validation import ApiError, request_id

# The documented scope values that matter here; others are accepted as Voucherify lists many.
EXPORT_SCOPES = frozenset({"api", "exports"})
KNOWN_SCOPES = EXPORT_SCOPES | frozenset(
    {"vouchers", "campaigns", "customers", "orders", "redemptions", "publications", "loyalties"}
)


@dataclass
class _Token:
    scopes: frozenset[str]
    expires_at: float
    revoked: bool = False


def _bad_request(key: str, message: str) -> ApiError:
    return ApiError(400, {"code": 400, "key": key, "message": message, "request_id": request_id()})


class TokenStore:
    """Issued tokens; thread-safe."""

    def __init__(self, ttl_seconds: int, client_id: str) -> None:
        self.ttl_seconds = ttl_seconds
        self.client_id = client_id
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}

    def issue(self, form: dict[str, list[str]]) -> dict[str, Any]:
        """The answer of `POST /v1/oauth/token` for this form body."""
        if form.get("grant_type", [""])[0] != "client_credentials":
            raise _bad_request("invalid_grant_type", "Invalid grant_type")
        scope = form.get("scope", [""])[0]
        scopes = frozenset(scope.split(" ")) - {""}
        if not scopes or not scopes <= KNOWN_SCOPES:
            raise _bad_request("invalid_scope", f"Invalid scope: {scope}")
        token = secrets.token_urlsafe(36)
        expires_at = time.time() + self.ttl_seconds
        with self._lock:
            self._tokens[token] = _Token(scopes, expires_at)
        return {
            "access_token": token,
            "client_id": self.client_id,
            "expires_at": int(expires_at),
            "expires_in": self.ttl_seconds,
            "scope": " ".join(sorted(scopes)),
            "token_type": "Bearer",
        }

    def revoke(self, form: dict[str, list[str]]) -> bool:
        """Revoke the form's `access_token`; False if it was unknown or no longer active."""
        token = form.get("access_token", [""])[0]
        with self._lock:
            found = self._tokens.get(token)
            if found is None or found.revoked or found.expires_at <= time.time():
                return False
            found.revoked = True
            return True

    def allows_exports(self, token: str) -> bool:
        """Whether this bearer token is active and scoped for the exports API."""
        with self._lock:
            found = self._tokens.get(token)
        return (
            found is not None
            and not found.revoked
            and found.expires_at > time.time()
            and bool(found.scopes & EXPORT_SCOPES)
        )

    def expire_all(self) -> None:
        """End every token now."""
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, time.time())

    @property
    def issued(self) -> list[str]:
        """Every token issued so far, in order (tests look for them in the tap's output)."""
        with self._lock:
            return list(self._tokens)

    @property
    def active(self) -> int:
        """How many tokens are still usable (Voucherify allows 1000 per project)."""
        now = time.time()
        with self._lock:
            return sum(1 for t in self._tokens.values() if not t.revoked and t.expires_at > now)
