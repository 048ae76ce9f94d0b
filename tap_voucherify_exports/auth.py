"""Voucherify app-key auth, attached only to trusted origins."""

from __future__ import annotations

from collections.abc import Iterable

import requests
from requests.auth import AuthBase

from tap_voucherify_exports.settings import origin_of

CREDENTIAL_HEADERS = ("X-App-Id", "X-App-Token")


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

    def __init__(self, auth: AppKeyAuth) -> None:
        super().__init__()
        self.auth = auth

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        """Drop the app keys when a redirect leaves the trusted origins."""
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        auth = self.auth
        if isinstance(auth, AppKeyAuth) and not auth.is_trusted(prepared_request.url or ""):
            for header in CREDENTIAL_HEADERS:
                prepared_request.headers.pop(header, None)
