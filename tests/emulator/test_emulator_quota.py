"""The emulator's rate limit and OAuth endpoints over real HTTP, as the tap's tests use them."""

from __future__ import annotations

import pytest
import requests

from voucherify_emulator import Emulator

pytestmark = pytest.mark.integration


def keys(emu: Emulator) -> dict[str, str]:
    return {"X-App-Id": emu.app_id, "X-App-Token": emu.app_token}


def test_an_enforced_limit_answers_429_with_voucherifys_body_and_headers():
    limited_emulator = Emulator(
        rate_limit_per_minute=3, enforce_rate_limit=True, rate_limit_window_seconds=600
    )
    with limited_emulator as emu, requests.Session() as http:
        answers = [http.get(f"{emu.api_url}/v1/exports", headers=keys(emu)) for _ in range(4)]
        recorded = emu.requests[-1]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-Rate-Limit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    limited = answers[-1]
    assert limited.json() == {"code": 429, "message": "Too many requests hit the API too quickly."}
    assert limited.headers["X-Rate-Limit-Limit"] == "3"
    assert 1 <= int(limited.headers["Retry-After"]) <= 600
    assert int(limited.headers["X-Rate-Limit-Retry"]) % 600 == 0  # the next window's start
    assert recorded.status == 429
    assert recorded.retry_at is not None


def test_oauth_token_endpoint_issues_checks_and_revokes_tokens():
    with Emulator(oauth_token_ttl_seconds=120) as emu, requests.Session() as http:
        token_url = f"{emu.api_url}/v1/oauth/token"
        form = {"grant_type": "client_credentials", "scope": "exports"}
        assert http.post(token_url, data=form).status_code == 401  # app keys required
        bad_grant = http.post(token_url, data={**form, "grant_type": "password"}, headers=keys(emu))
        assert bad_grant.json()["key"] == "invalid_grant_type"
        bad_scope = http.post(token_url, data={**form, "scope": "exports,api"}, headers=keys(emu))
        assert bad_scope.json()["key"] == "invalid_scope"
        grant = http.post(token_url, data=form, headers=keys(emu)).json()
        assert grant["token_type"] == "Bearer"
        assert grant["expires_in"] == 120
        assert grant["scope"] == "exports"
        bearer = {"Authorization": f"Bearer {grant['access_token']}"}
        assert http.get(f"{emu.api_url}/v1/exports", headers=bearer).status_code == 200
        revoke = f"{token_url}/revoke"
        body = {"access_token": grant["access_token"]}
        assert http.post(revoke, data=body, headers=keys(emu)).status_code == 204
        assert http.post(revoke, data=body, headers=keys(emu)).status_code == 404
        assert http.get(f"{emu.api_url}/v1/exports", headers=bearer).status_code == 401


def test_a_token_without_an_exports_scope_is_refused():
    with Emulator() as emu, requests.Session() as http:
        form = {"grant_type": "client_credentials", "scope": "vouchers"}
        grant = http.post(f"{emu.api_url}/v1/oauth/token", headers=keys(emu), data=form).json()
        bearer = {"Authorization": f"Bearer {grant['access_token']}"}
        assert http.get(f"{emu.api_url}/v1/exports", headers=bearer).status_code == 401
