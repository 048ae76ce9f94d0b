"""HS256 JWT download tokens, built with the standard library only.

Voucherify's `result.url` carries `?token=<JWT>`; the decoded real examples show the header
`{"alg":"HS256","typ":"JWT"}` and the payload `{tenant, exportId, iat, exp}` with
`exp - iat = 900` (research digest section 1.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

_HEADER = {"alg": "HS256", "typ": "JWT"}


class TokenError(Exception):
    """The token is malformed, badly signed, expired or for another export."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    # JWT strips the padding; base64 needs it back.
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _compact(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def mint(
    secret: bytes, tenant: str, export_id: str, ttl_seconds: int, now: float | None = None
) -> str:
    """Return a signed token for one export, valid for `ttl_seconds` from now."""
    iat = int(time.time() if now is None else now)
    payload = {"tenant": tenant, "exportId": export_id, "iat": iat, "exp": iat + int(ttl_seconds)}
    signing_input = f"{_b64url(_compact(_HEADER))}.{_b64url(_compact(payload))}"
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def decode_unverified(token: str) -> dict[str, Any]:
    """Return the payload without checking anything (for tests and diagnostics)."""
    try:
        payload = json.loads(_b64url_decode(token.split(".")[1]))
    except (IndexError, ValueError) as exc:
        raise TokenError("malformed token") from exc
    if not isinstance(payload, dict):
        raise TokenError("malformed token")
    return payload


def verify(secret: bytes, token: str, export_id: str, now: float | None = None) -> dict[str, Any]:
    """Check signature, export id and expiry; return the payload or raise TokenError."""
    parts = token.split(".")
    if len(parts) != 3:  # noqa: PLR2004 - a JWT has exactly three parts
        raise TokenError("malformed token")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
    expected = _b64url(hmac.new(secret, signing_input, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, parts[2]):
        raise TokenError("bad signature")
    payload = decode_unverified(token)
    if payload.get("exportId") != export_id:
        raise TokenError("token for another export")
    exp = payload.get("exp")
    current = time.time() if now is None else now
    if not isinstance(exp, int) or current >= exp:
        raise TokenError("token expired")
    return payload
