"""One `requests.Session`, the run's rate gate, timeouts, retries with backoff, OAuth renewal,
Voucherify error bodies → exceptions."""

from __future__ import annotations

import json
import logging
import time
from http import HTTPStatus
from typing import Any

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from tap_voucherify_exports.api.auth import (
    AppKeyAuth,
    OAuthBearerAuth,
    OAuthToken,
    TrustedOriginSession,
)
from tap_voucherify_exports.api.rate_gate import HOUR_SECONDS, MINUTE_SECONDS, RateGate
from tap_voucherify_exports.api.retries import (
    MAX_TRIES,
    RETRIABLE_STATUSES,
    RETRY_AFTER_MAX_SECONDS,
    RetryPolicy,
    retry_after_seconds,
)
from tap_voucherify_exports.config.settings import Settings
from tap_voucherify_exports.config.values import origin_of
from tap_voucherify_exports.errors import (
    ConnectFailedError,
    RetriableHTTPError,
    VoucherifyAPIError,
    VoucherifyError,
)
from tap_voucherify_exports.redaction import safe_url

LOGGER = logging.getLogger("tap_voucherify_exports")

CONNECT_TIMEOUT_MAX_SECONDS = 30.0
USER_AGENT = "tap-voucherify-exports"


def _error_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    text = response.text[:500].strip()
    return {"message": text or response.reason or "no body"}


def _connect_failure(exc: requests.RequestException, connect_timeout: float) -> str | None:
    """Why no connection could be made at all, or None when the failure came later (a read
    timeout, a reset) or is the proxy's or TLS's (their own messages say more)."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"no connection within {connect_timeout:g} s"
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    if isinstance(exc, requests.exceptions.ProxyError | requests.exceptions.SSLError) or not (
        isinstance(reason, urllib3.exceptions.NewConnectionError)
    ):
        return None
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "its host name does not resolve (DNS)"
    cause = reason.__cause__
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    # e.g. "network is unreachable"
    strerror = cause.strerror if isinstance(cause, OSError) else None
    return strerror[0].lower() + strerror[1:] if strerror else "no connection"


class VoucherifyClient:
    """Sends requests with the credentials (to trusted origins only), through the run's rate
    gate, retrying what is retriable."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_tries: int = MAX_TRIES,
        connect_tries: int | None = None,
        connect_timeout_seconds: float = CONNECT_TIMEOUT_MAX_SECONDS,
        rate_window_seconds: float = MINUTE_SECONDS,
        hour_window_seconds: float = HOUR_SECONDS,
    ) -> None:
        self.settings = settings
        self.gate = RateGate(
            settings.max_requests_per_minute,
            window_seconds=rate_window_seconds,
            max_per_hour=settings.max_requests_per_hour,
            hour_seconds=hour_window_seconds,
            max_pause_seconds=RETRY_AFTER_MAX_SECONDS,
        )
        self._app_keys = AppKeyAuth(settings.app_id, settings.app_token, settings.trusted_origins)
        self.oauth: OAuthBearerAuth | None = None
        self.auth: AppKeyAuth | OAuthBearerAuth = self._app_keys
        if settings.auth_method == "oauth":
            self.oauth = OAuthBearerAuth(settings.trusted_origins, self._fetch_token)
            self.auth = self.oauth
        self.session = TrustedOriginSession(self.auth)
        self.session.headers["User-Agent"] = USER_AGENT
        # One connection per export that may be in flight, plus the download.
        pool = max(10, settings.max_concurrent_exports * 2 + 2)
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.timeout = (
            min(connect_timeout_seconds, settings.request_timeout_seconds),
            settings.request_timeout_seconds,
        )
        # `connect_tries`, `connect_timeout_seconds`: how often, and how long each time, a host
        # that cannot be connected to is tried (default max_tries, 30 s); a check (`--test`)
        # gives up sooner than a sync.
        self.retries = RetryPolicy(max_tries, connect_tries=connect_tries)
        self._send_with_retries = self.retries.wrap(self._send)

    def is_trusted(self, url: str) -> bool:
        """Whether the credentials may be sent to this URL."""
        return self.auth.is_trusted(url)

    def request(
        self,
        method: str,
        url: str,
        *,
        kind: str = "other",
        json_body: dict[str, Any] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send a request, retrying 429/5xx/connection errors; raise `VoucherifyAPIError` else.

        `kind` (create, get, list, download, …) is what the end-of-run summary counts it as.
        With OAuth, a 401 renews the token and sends the request once more.
        """
        try:
            return self._send_with_retries(method, url, kind, json_body, stream)
        except VoucherifyAPIError as exc:
            if exc.status != HTTPStatus.UNAUTHORIZED or self.oauth is None:
                raise
            if not self.oauth.renew_after_401(exc.sent_authorization):
                raise
            LOGGER.info("%s %s: OAuth token rejected (401); renewed it", method, safe_url(url))
            return self._send_with_retries(method, url, kind, json_body, stream)

    def _send(
        self,
        method: str,
        url: str,
        kind: str,
        json_body: dict[str, Any] | None,
        stream: bool,
        *,
        auth: AppKeyAuth | None = None,
        form: dict[str, str] | None = None,
    ) -> requests.Response:
        if json_body is not None:
            data: Any = json.dumps(json_body)
            headers: dict[str, str] | None = {"Content-Type": "application/json"}
        else:
            data, headers = form, None
        if self.oauth is not None and auth is None:
            # Renew (a call of its own) before taking a slot, never while holding one: with
            # max_requests_per_minute 1 the renewal would wait for the very slot it sits in.
            self.oauth.current()
        slot = self.gate.acquire(kind)
        response: requests.Response | None = None
        try:
            response = self.session.request(
                method,
                url,
                data=data,
                headers=headers,
                stream=stream,
                timeout=self.timeout,
                auth=auth,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise self._connection_error(method, url, exc) from None
        finally:
            # Released whatever happened: a slot left held would block its window for good.
            if response is None:
                self.gate.release(slot, None, {})
            else:
                self.gate.release(slot, response.status_code, response.headers)
        if response.status_code < HTTPStatus.BAD_REQUEST:
            return response
        body = _error_body(response)
        response.close()
        if response.status_code in RETRIABLE_STATUSES:
            raise RetriableHTTPError(
                f"{method} {safe_url(url)} answered {response.status_code}: "
                f"{body.get('message', '')}".rstrip(": "),
                retry_after_seconds(response),
                gated=response.status_code == HTTPStatus.TOO_MANY_REQUESTS,
            )
        error = VoucherifyAPIError(method, url, response.status_code, body)
        error.sent_authorization = response.request.headers.get("Authorization")
        raise error

    def _connection_error(
        self, method: str, url: str, exc: requests.RequestException
    ) -> RetriableHTTPError:
        reason = _connect_failure(exc, self.timeout[0])
        if reason is None:
            return RetriableHTTPError(f"{method} {safe_url(url)} failed: {type(exc).__name__}")
        origin = origin_of(url)
        # api_url first: when downloads come from the api origin too, that is the setting to fix.
        setting_of = {self.settings.api_origin: "api_url"}
        setting_of.setdefault(self.settings.download_origin, "download_url")
        return ConnectFailedError(method, url, reason, setting_of.get(origin), origin)

    # --- OAuth ------------------------------------------------------------------------------------
    @property
    def _token_url(self) -> str:
        return f"{self.settings.api_origin}/v1/oauth/token"

    def _fetch_token(self) -> OAuthToken:
        """`POST /v1/oauth/token` (client credentials), the one call that carries the app keys."""
        form = {"grant_type": "client_credentials", "scope": self.settings.oauth_scope}
        response = self.retries.wrap(self._send)(
            "POST", self._token_url, "token", None, False, auth=self._app_keys, form=form
        )
        try:
            token = OAuthToken.from_json(response.json(), time.monotonic())
        except ValueError as exc:
            raise VoucherifyError(f"POST {self._token_url}: {exc}") from None
        LOGGER.info("Obtained an OAuth token (scope %s, %.0f s)", self.settings.oauth_scope,
                    token.lifetime)  # fmt: skip
        return token

    def revoke_tokens(self) -> None:
        """`POST /v1/oauth/token/revoke` for every token this run obtained; failures only warn."""
        if self.oauth is None:
            return
        now = time.monotonic()
        for token in self.oauth.issued:
            if token.expires <= now:
                continue
            try:
                self._send(
                    "POST", f"{self._token_url}/revoke", "revoke", None, False,
                    auth=self._app_keys, form={"access_token": token.value},
                )  # fmt: skip
            except VoucherifyAPIError as exc:
                if exc.status != HTTPStatus.NOT_FOUND:  # "not found or inactive": nothing to revoke
                    LOGGER.warning("Could not revoke an OAuth token: %s", exc)
            except (VoucherifyError, requests.RequestException) as exc:
                LOGGER.warning("Could not revoke an OAuth token: %s", exc)
        self.oauth.issued.clear()

    def interrupt_waits(self) -> None:
        """Wake every request held back by the rate gate with `ExportCancelledError`."""
        self.gate.interrupt_waiting()

    def close(self) -> None:
        """Revoke OAuth tokens, log what the run cost the quota, release pooled connections."""
        try:
            self.revoke_tokens()
        finally:
            LOGGER.info("%s", self.gate.stats.summary())
            self.session.close()

    def __enter__(self) -> VoucherifyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
