"""The emulator over real HTTP with `requests`, for the emulator's own tests: create an export,
wait for it, download its CSV."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from voucherify_emulator import Emulator


@contextmanager
def client(emu: Emulator, auth: bool = True) -> Iterator[requests.Session]:
    """A session carrying the emulator's app keys (none with `auth=False`)."""
    with requests.Session() as session:
        if auth:
            session.headers.update({"X-App-Id": emu.app_id, "X-App-Token": emu.app_token})
        yield session


def create(s: requests.Session, emu: Emulator, exported_object: str, **parameters) -> dict:
    """`POST /v1/exports`; the created export."""
    body: dict[str, Any] = {"exported_object": exported_object}
    if parameters:
        body["parameters"] = parameters
    response = s.post(f"{emu.api_url}/v1/exports", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def wait(s: requests.Session, emu: Emulator, export_id: str, timeout: float = 15) -> dict:
    """Poll the export until DONE or ERROR (or `timeout` seconds); its last status."""
    deadline = time.monotonic() + timeout
    while True:
        body = s.get(f"{emu.api_url}/v1/exports/{export_id}").json()
        if body["status"] in ("DONE", "ERROR") or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def export_csv(s: requests.Session, emu: Emulator, exported_object: str, **parameters) -> str:
    """Create an export, wait for it to be DONE, download it: the CSV text."""
    job = wait(s, emu, create(s, emu, exported_object, **parameters)["id"])
    assert job["status"] == "DONE", job
    response = s.get(job["result"]["url"])
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.content.decode("utf-8")
