"""Voucherify credentials, attached only to trusted origins: the app keys, or an OAuth token."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.auth import AuthBase

from tap_voucherify_exports.config.values import origin_of
from tap_voucherify_exports.redaction import redact_secret_from_now_on

CREDENTIAL_HEADERS = ("X-App-Id", "X-App-Token", "Authorization")


class AppKeyAuth(AuthBase):
    """Adds `X-App-Id`/`X-App-Token` to requests for the configured API and download origins.

    Any other origin (a `result.url` or a redirect naming a foreign host) gets no credentials.
    """

    def __init__(self, app_id: str, app_token: str, trusted_origins: Iterable[str]) -> None:
        self._headers = {"X-App-Id": app_id, "X-App-Token": app_token}
        self.trusted_origins = frozenset(trusted_origins)

    def is_trusted(self, url: str) -> bool:
        """Whether this URL's origin may receive the credentials."""
        return origin_of(url) in self.trusted_origins

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if request.url and self.is_trusted(request.url):
            request.headers.update(self._headers)
        return request

    def __repr__(self) -> str:
        return f"AppKeyAuth(trusted_origins={sorted(self.trusted_origins)})"


class TrustedOriginSession(requests.Session):
    """A session whose redirects never carry the app keys to an untrusted origin.

    requests strips `Authorization` on a cross-host redirect but copies custom headers such as
    `X-App-Token`; a download redirected to storage (Voucherify keeps files in S3) must not leak it.
    """

    def __init__(self, auth: AppKeyAuth | OAuthBearerAuth) -> None:
        super().__init__()
        self.auth = auth

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        """Drop every credential when a redirect leaves the trusted origins; within them, send
        the run's own (requests would drop a bearer token between api and download hosts)."""
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        auth = self.auth
        url = prepared_request.url or ""
        if isinstance(auth, AppKeyAuth | OAuthBearerAuth) and auth.is_trusted(url):
            auth(prepared_request)
        else:
            for header in CREDENTIAL_HEADERS:
                prepared_request.headers.pop(header, None)


# Renew this long before the token's expiry (15 min on Voucherify), or at a fifth of its lifetime
# if shorter, so a request never leaves with a token that expires on the way.
RENEW_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class OAuthToken:
    """An access token from `POST /v1/oauth/token`; `expires` is monotonic."""

    value: str = field(repr=False)
    expires: float
    lifetime: float

    @classmethod
    def from_json(cls, body: Any, now: float) -> OAuthToken:
        """Build from the token endpoint's answer (`access_token`, `expires_in`)."""
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            keys = sorted(body) if isinstance(body, dict) else type(body).__name__
            raise ValueError(f"the OAuth token answer has no access_token (keys: {keys})")
        try:
            lifetime = float(body.get("expires_in", 900))
        except (TypeError, ValueError):
            lifetime = 900.0
        return cls(token, now + lifetime, lifetime)

    def due_for_renewal(self, now: float) -> bool:
        """Whether the token expires within the renewal margin."""
        return now >= self.expires - min(RENEW_MARGIN_SECONDS, self.lifetime / 5)


class OAuthBearerAuth(AuthBase):
    """`Authorization: Bearer <token>` for the trusted origins, with the token renewed before it
    expires and after a 401; the app keys then go only to the token endpoint.

    `fetch` asks the token endpoint for a new token (the client does it, through the run's rate
    gate). Threads share one token; only one of them renews it.
    """

    def __init__(self, trusted_origins: Iterable[str], fetch: Callable[[], OAuthToken]) -> None:
        self.trusted_origins = frozenset(trusted_origins)
        self._fetch = fetch
        self._lock = threading.Lock()
        self._token: OAuthToken | None = None
        self.issued: list[OAuthToken] = []  # every token this run obtained, for revocation

    def is_trusted(self, url: str) -> bool:
        """Whether this URL's origin may receive the token."""
        return origin_of(url) in self.trusted_origins

    def current(self) -> OAuthToken:
        """A token valid for a while yet, renewed first if it is about to expire."""
        with self._lock:
            if self._token is None or self._token.due_for_renewal(time.monotonic()):
                self._renew_locked()
            assert self._token is not None
            return self._token

    def renew_after_401(self, rejected: str | None) -> bool:
        """Replace the token the server rejected (unless another thread already did); False if
        the rejected request carried no token of ours, so a retry would not help."""
        with self._lock:
            if self._token is None or rejected is None:
                return False
            if rejected == f"Bearer {self._token.value}":
                self._renew_locked()
            return True

    def _renew_locked(self) -> None:
        self._token = self._fetch()
        # The tap never logs a token; the filter makes sure nothing else does either.
        redact_secret_from_now_on(self._token.value)
        self.issued.append(self._token)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if request.url and self.is_trusted(request.url):
            # The client renews (`current`) before the request takes its rate-gate slot; here
            # the token in hand is used, so no renewal call is ever made from inside a slot.
            with self._lock:
                token = self._token
            if token is None:
                token = self.current()
            request.headers["Authorization"] = f"Bearer {token.value}"
        return request

    def __repr__(self) -> str:
        return f"OAuthBearerAuth(trusted_origins={sorted(self.trusted_origins)})"
