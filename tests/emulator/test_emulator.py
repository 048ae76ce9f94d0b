"""The Voucherify Exports emulator, over real HTTP with `requests`."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import pytest
import requests

from tests.support.emulator_http import client, create, export_csv, wait
from voucherify_emulator import Emulator, RecordedRequest
from voucherify_emulator.api import OBJECTS
from voucherify_emulator.shapes import SPLIT_KEYS, metadata_value

pytestmark = pytest.mark.integration


# --- helpers -------------------------------------------------------------------------------------
def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def jwt_parts(url: str) -> tuple[dict, dict]:
    token = url.split("token=")[1]
    header, payload, _ = token.split(".")

    def decode(part: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    return decode(header), decode(payload)


def between(rows: list[dict[str, str]], key: str, after: str, before: str, inclusive: bool) -> list:
    def inside(value: str) -> bool:
        if inclusive:
            return after <= value <= before
        return after < value < before

    return [row for row in rows if inside(row[key])]


# --- lifecycle, tokens, auth ---------------------------------------------------------------------
def test_lifecycle_parameters_echo_list_and_delete():
    # SCHEDULED for the first 2 s, IN_PROGRESS until 4 s: wide enough for a loaded machine.
    with Emulator(rows={"voucher": 30}, job_latency_seconds=4.0) as emu, client(emu) as s:
        parameters = {
            "order": "-created_at",
            "fields": ["id", "code"],
            "filters": {
                "junction": "AND",
                "created_at": {"conditions": {"$after": ["2021-06-01T00:00:00Z"]}},
            },
        }
        created = create(s, emu, "voucher", **parameters)
        assert re.fullmatch(r"exp_[A-Za-z0-9]{24}", created["id"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", created["created_at"])
        assert created | {"id": None, "created_at": None} == {
            "id": None,
            "object": "export",
            "created_at": None,
            "status": "SCHEDULED",
            "channel": "API",
            "exported_object": "voucher",
            "parameters": parameters,
            "result": None,
            "user_id": None,
        }
        url = f"{emu.api_url}/v1/exports/{created['id']}"
        assert s.get(url).json()["status"] == "SCHEDULED"
        status = "SCHEDULED"
        while status == "SCHEDULED":  # the first other status seen must be IN_PROGRESS
            time.sleep(0.05)
            status = s.get(url).json()["status"]
        assert status == "IN_PROGRESS"
        done = wait(s, emu, created["id"])
        assert done["status"] == "DONE"
        assert done["parameters"] == parameters
        assert done["result"]["url"].startswith(
            f"{emu.download_url}/v1/exports/{created['id']}?token="
        )
        assert created["id"] in [
            e["id"] for e in s.get(f"{emu.api_url}/v1/exports").json()["exports"]
        ]
        listing = s.get(f"{emu.api_url}/v1/exports", params={"limit": 1, "page": 1}).json()
        assert listing["object"] == "list"
        assert listing["data_ref"] == "exports"
        assert listing["total"] == 1
        assert s.get(f"{emu.api_url}/v1/exports", params={"limit": 101}).status_code == 400
        # Omitted parameters are stored as {} (the JS SDK's integration test).
        assert create(s, emu, "customer")["parameters"] == {}
        assert emu.exports[0].status == "DONE"
        path = emu.exports[0].path
        assert os.path.exists(path)
        assert s.delete(url).status_code == 204
        assert not os.path.exists(path)
        missing = s.get(url)
        assert missing.status_code == 404
        body = missing.json()
        assert body["key"] == "not_found"
        assert body["details"] == f"Cannot find export with id {created['id']}"
        assert body["resource_type"] == "export"
        assert s.delete(url).status_code == 404
        assert [e.deleted for e in emu.exports] == [True, False]  # deleted jobs stay listed


def test_token_is_hs256_jwt_and_expiry_gives_401():
    with Emulator(rows={"voucher": 10}, job_latency_seconds=0.02) as emu, client(emu) as s:
        job = wait(s, emu, create(s, emu, "voucher")["id"])
        header, payload = jwt_parts(job["result"]["url"])
        assert header == {"alg": "HS256", "typ": "JWT"}
        assert set(payload) == {"tenant", "exportId", "iat", "exp"}
        assert payload["exportId"] == job["id"]
        assert payload["exp"] - payload["iat"] == 900
        assert s.get(job["result"]["url"]).status_code == 200
        emu.inject("expire_token", ttl_seconds=0)
        expired = wait(s, emu, job["id"])["result"]["url"]
        response = s.get(expired)
        assert response.status_code == 401
        assert response.json() == {"code": 401, "message": "Unauthorized", "key": "unauthorized"}
        # Get-export mints a fresh token, so a tap can refresh an expired url.
        assert s.get(wait(s, emu, job["id"])["result"]["url"]).status_code == 200
        other = wait(s, emu, create(s, emu, "voucher")["id"])
        token = other["result"]["url"].split("token=")[1]
        assert s.get(f"{emu.download_url}/v1/exports/{job['id']}?token={token}").status_code == 401
        tampered = job["result"]["url"][:-3] + (
            "AAA" if not job["result"]["url"].endswith("AAA") else "BBB"
        )
        assert s.get(tampered).status_code == 401
    with (
        Emulator(rows={"voucher": 5}, job_latency_seconds=0.02, token_ttl_seconds=7) as emu,
        client(emu) as s,
    ):
        _, payload = jwt_parts(wait(s, emu, create(s, emu, "voucher")["id"])["result"]["url"])
        assert payload["exp"] - payload["iat"] == 7


def test_auth_required_everywhere_and_rate_limit_headers():
    with Emulator(rows={"voucher": 5}, job_latency_seconds=0.02, app_id="a", app_token="t") as emu:
        with client(emu, auth=False) as anonymous:
            response = anonymous.get(f"{emu.api_url}/v1/exports")
            assert response.status_code == 401
            assert response.json()["key"] == "unauthorized"
        with client(emu) as s:
            response = s.get(f"{emu.api_url}/v1/exports")
            assert response.status_code == 200
            assert response.headers["Content-Type"].startswith("application/json")
            for name in ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Retry"):
                assert response.headers[name].isdigit()
            assert int(response.headers["X-Rate-Limit-Retry"]) >= time.time() - 1
            url = wait(s, emu, create(s, emu, "voucher")["id"])["result"]["url"]
        with client(emu, auth=False) as anonymous:
            download = anonymous.get(url)
            assert download.status_code == 401
            assert download.json() == {
                "code": 401,
                "message": "Unauthorized",
                "key": "unauthorized",
            }
            assert "X-Rate-Limit-Remaining" in download.headers


# --- validation ----------------------------------------------------------------------------------
def test_validation_errors_and_defaults():
    with (
        Emulator(rows=dict.fromkeys(OBJECTS, 5), job_latency_seconds=0.02) as emu,
        client(emu) as s,
    ):
        post = lambda body: s.post(f"{emu.api_url}/v1/exports", json=body)  # noqa: E731
        body = post({"exported_object": "vouchers"}).json()
        assert body["code"] == 400
        assert body["key"] == "invalid_payload"
        assert body["message"] == "Invalid payload"
        assert body["details"] == (
            "Property .exported_object should be equal to one of the allowed "
            "values [ voucher, redemption, customer, publication, order, "
            "points_expiration ]"
        )
        assert body["request_id"].startswith("v-")
        body = post(
            {"exported_object": "redemption", "parameters": {"fields": ["id", "nope"]}}
        ).json()
        assert body["key"] == "invalid_export_fields"
        assert body["message"] == "Invalid Export"
        assert body["details"] == (
            "Unsupported field used. Allowed fields: " + ", ".join(OBJECTS["redemption"].keys)
        )
        bad_junction = {"filters": {"junction": "xor"}}
        assert post({"exported_object": "voucher", "parameters": bad_junction}).status_code == 400
        pe = {"filters": {"created_at": {"conditions": {"$after": "2022-01-01T00:00:00Z"}}}}
        body = post({"exported_object": "points_expiration", "parameters": pe}).json()
        assert body["key"] == "invalid_export_params"
        campaign = {
            "filters": {"junction": "and", "campaign_id": {"conditions": {"$in": ["camp_1"]}}}
        }
        assert (
            post({"exported_object": "points_expiration", "parameters": campaign}).status_code
            == 200
        )
        assert (
            post({"exported_object": "voucher", "parameters": {"order": "-code"}}).status_code
            == 400
        )
        headers = {
            "voucher": ["Code", "Voucher Type", "Value", "Discount Type"],
            "order": ["ID", "Source ID", "Status"],
            "customer": ["Name", "Source ID"],
            "publication": ["Customer ID", "Date", "Channel"],  # `code` is not a publication field
        }
        for exported_object, labels in headers.items():
            assert parse(export_csv(s, emu, exported_object))[0] == labels


# --- content -------------------------------------------------------------------------------------
def test_headers_are_labels_and_ground_truth_equals_csv_for_every_object():
    with (
        Emulator(seed=3, rows=dict.fromkeys(OBJECTS, 40), job_latency_seconds=0.01) as emu,
        client(emu) as s,
    ):
        for exported_object, table in OBJECTS.items():
            keys = list(table.keys)
            text = export_csv(s, emu, exported_object, fields=keys)
            assert "\r\n" in text
            rows = parse(text)
            assert rows[0] == [f.label for f in table.columns]
            truth = emu.ground_truth(exported_object)
            assert len(truth) == 40
            assert rows[1:] == [[row[k] for k in keys] for row in truth]
            # A reversed, partial field order maps the same way.
            subset = keys[::-2]
            rows = parse(export_csv(s, emu, exported_object, fields=subset))
            assert rows[0] == [table.column(k).label for k in subset]
            assert rows[1:] == [[row[k] for k in subset] for row in truth]
        vouchers = emu.ground_truth("voucher")
        assert len({v["id"] for v in vouchers}) == 40
        assert any(v["metadata"] == "" for v in vouchers)
        assert any("\n" in v["metadata"] and "," in v["metadata"] for v in vouchers)
        assert {v["active"] for v in vouchers} == {"true", "false"}
        assert any(re.fullmatch(r"\d+\.00", v["value"]) for v in vouchers)
        assert any(re.fullmatch(r"\d+", v["value"]) and v["value"] != "0" for v in vouchers)
        codes = {v["code"] for v in vouchers}
        customers = {c["id"] for c in emu.ground_truth("customer")}
        for redemption in emu.ground_truth("redemption"):
            assert redemption["voucher_code"] in codes
            assert redemption["customer_id"] in customers
        publications = emu.ground_truth("publication")
        assert len({(p["voucher_code"], p["customer_id"], p["date"]) for p in publications}) == 40
        created = [v["created_at"] for v in vouchers]
        assert created == sorted(created)
        assert len(set(created)) < len(created)  # several rows share one millisecond
        names = {c["name"] for c in emu.ground_truth("customer", after=None)}
        assert any(not n.isascii() for n in names)
        assert all(
            re.fullmatch(r"\d{4}-\d\d-\d\d", p["expires_at"])
            for p in emu.ground_truth("points_expiration")
        )


def test_bom_and_lf_options():
    with (
        Emulator(rows={"voucher": 5}, job_latency_seconds=0.01, bom=True, crlf=False) as emu,
        client(emu) as s,
    ):
        job = wait(s, emu, create(s, emu, "voucher")["id"])
        raw = s.get(job["result"]["url"]).content
        assert raw.startswith(b"\xef\xbb\xbfCode,")
        assert b"\r\n" not in raw
        assert raw.endswith(b"\n")


@pytest.mark.parametrize("edges", ["exclusive", "inclusive"])
def test_created_at_filters_and_edges(edges):
    inclusive = edges == "inclusive"
    with (
        Emulator(
            rows={"redemption": 90, "voucher": 90}, job_latency_seconds=0.01, edges=edges
        ) as emu,
        client(emu) as s,
    ):
        for exported_object, key in (("voucher", "created_at"), ("redemption", "date")):
            everything = emu.ground_truth(exported_object)
            after, before = everything[10][key], everything[40][key]  # both shared by 3 rows
            expected = between(everything, key, after, before, inclusive)
            assert emu.ground_truth(exported_object, after=after, before=before) == expected
            assert len(expected) == (33 if inclusive else 27)  # rows 9..41 or 12..38
            no_ms = after[:-5] + "Z"  # the same instant spelled without milliseconds, rounded down
            for value_after, value_before in ((after, before), ([after], [before])):
                conditions = {"$after": value_after, "$before": value_before}
                fields = ["id", key] if exported_object == "redemption" else ["id", "created_at"]
                rows = parse(
                    export_csv(
                        s,
                        emu,
                        exported_object,
                        fields=fields,
                        filters={"junction": "or", "created_at": {"conditions": conditions}},
                    )
                )[1:]
                assert rows == [[r["id"], r[key]] for r in expected]
            rows = parse(
                export_csv(
                    s,
                    emu,
                    exported_object,
                    fields=["id"],
                    order="-created_at",
                    filters={"created_at": {"conditions": {"$after": no_ms}}},
                )
            )[1:]
            cut = datetime.fromisoformat(no_ms)
            later = [
                r
                for r in everything
                if (
                    datetime.fromisoformat(r[key]) >= cut
                    if inclusive
                    else datetime.fromisoformat(r[key]) > cut
                )
            ]
            assert [r[0] for r in rows] == [r["id"] for r in reversed(later)]
        # The boundary rows are in or out according to `edges`.
        vouchers = emu.ground_truth("voucher")
        edge = vouchers[30]["created_at"]
        sharing = [v for v in vouchers if v["created_at"] == edge]
        assert len(sharing) == 3
        window = emu.ground_truth(
            "voucher", after=edge, before=datetime(2030, 1, 1, tzinfo=timezone.utc)
        )
        assert all(v in window for v in sharing) is inclusive


def test_same_seed_same_data_and_points_expiration_order():
    body = {"fields": list(OBJECTS["customer"].keys)}
    texts = []
    for seed in (11, 11, 12):
        with (
            Emulator(seed=seed, rows={"customer": 50}, job_latency_seconds=0.01) as emu,
            client(emu) as s,
        ):
            texts.append(export_csv(s, emu, "customer", **body))
            pe = parse(
                export_csv(
                    s, emu, "points_expiration", fields=["id", "expires_at"], order="-expires_at"
                )
            )[1:]
            assert [r[1] for r in pe] == sorted((r[1] for r in pe), reverse=True)
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_add_rows_and_state_file(tmp_path):
    state = str(tmp_path / "state.json")
    with (
        Emulator(rows={"order": 20}, job_latency_seconds=0.01, state_file=state) as emu,
        client(emu) as s,
    ):
        last = emu.ground_truth("order")[-1]["created_at"]
        assert emu.add_rows("order", 5) == 5
        assert emu.row_count("order") == 25
        response = s.post(
            f"{emu.api_url}/_emulator/rows", json={"exported_object": "order", "count": 4}
        )
        assert response.json() == {"exported_object": "order", "added": 4, "total": 29}
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        new = emu.ground_truth("order", after=last)
        assert len(new) == 9
        assert all(last < r["created_at"] <= now for r in new)
        rows = parse(
            export_csv(
                s,
                emu,
                "order",
                fields=["id", "created_at"],
                filters={"created_at": {"conditions": {"$after": last}}},
            )
        )[1:]
        assert rows == [[r["id"], r["created_at"]] for r in new]
        # Rows added after an export ran are dated after that export (never behind a bookmark).
        job = create(s, emu, "order")
        emu.add_rows("order", 3)
        assert all(r["created_at"] > job["created_at"] for r in emu.ground_truth("order")[-3:])
        before = emu.ground_truth("order")
    with Emulator(rows={"order": 20}, state_file=state) as again:
        assert again.ground_truth("order") == before


def test_a_state_file_of_another_dataset_is_said_not_silently_dropped(tmp_path, capsys):
    state = str(tmp_path / "state.json")
    with Emulator(rows={"order": 20}, state_file=state) as emu:
        emu.add_rows("order", 5)
    with Emulator(rows={"order": 30}, state_file=state) as other:
        assert other.row_count("order") == 30, "the seed's rows, not the file's additions"
    said = capsys.readouterr().err
    assert "was saved for seed" in said
    assert "rows {'order': 20}, not seed" in said


# --- faults --------------------------------------------------------------------------------------
def test_rate_limit_and_server_error_faults():
    with Emulator(rows={"voucher": 5}, job_latency_seconds=0.01) as emu, client(emu) as s:
        emu.inject("rate_limit", phase="create", times=2, retry_after=3)
        for _ in range(2):
            response = s.post(f"{emu.api_url}/v1/exports", json={"exported_object": "voucher"})
            assert response.status_code == 429
            assert response.json() == {
                "code": 429,
                "message": "Too many requests hit the API too quickly.",
            }
            assert response.headers["Retry-After"] == "3"
        job = wait(s, emu, create(s, emu, "voucher")["id"])
        emu.inject("rate_limit", phase="download", retry_after=None, retry_in=5)
        response = s.get(job["result"]["url"])
        assert response.status_code == 429
        assert "Retry-After" not in response.headers
        assert int(response.headers["X-Rate-Limit-Retry"]) >= int(time.time()) + 4
        assert s.get(job["result"]["url"]).status_code == 200
        emu.inject("server_error", phase="poll", status=503, exported_object="customer")
        assert (
            s.get(f"{emu.api_url}/v1/exports/{job['id']}").status_code == 200
        )  # voucher: untouched
        emu.inject("server_error", phase="poll", status=502)
        response = s.get(f"{emu.api_url}/v1/exports/{job['id']}")
        assert response.status_code == 502
        assert response.json()["code"] == 502
        emu.clear_faults()
        emu.inject("server_error", phase="delete")
        assert s.delete(f"{emu.api_url}/v1/exports/{job['id']}").status_code == 500
        assert s.delete(f"{emu.api_url}/v1/exports/{job['id']}").status_code == 204


def test_download_faults_reset_and_truncate():
    with Emulator(rows={"voucher": 300}, job_latency_seconds=0.01) as emu, client(emu) as s:
        job = wait(s, emu, create(s, emu, "voucher", fields=["id", "code", "value"])["id"])
        full = s.get(job["result"]["url"]).content
        emu.inject("reset_download", after_bytes=500)
        with pytest.raises(
            (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
        ):
            s.get(job["result"]["url"]).content  # noqa: B018
        emu.inject("truncate_download", mode="content_length", after_bytes=1000)
        with pytest.raises(
            (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
        ):
            s.get(job["result"]["url"]).content  # noqa: B018
        emu.inject("truncate_download", mode="clean")
        response = s.get(job["result"]["url"])
        assert response.status_code == 200
        cut = response.content
        assert full.startswith(cut)
        assert len(cut) < len(full)
        assert not cut.endswith(b"\r\n")
        rows = parse(cut.decode())
        assert len(rows) == len(parse(full.decode()))
        assert len(rows[-1]) < 3
        assert s.get(job["result"]["url"]).content == full  # faults are spent
        # An identical export reuses the file (a hard link); deleting one leaves the other.
        again = wait(s, emu, create(s, emu, "voucher", fields=["id", "code", "value"])["id"])
        assert s.delete(f"{emu.api_url}/v1/exports/{job['id']}").status_code == 204
        assert s.get(again["result"]["url"]).content == full


def test_job_faults_error_never_finish_max_rows():
    with (
        Emulator(rows={"voucher": 50, "customer": 50}, job_latency_seconds=0.05) as emu,
        client(emu) as s,
    ):
        emu.inject("job_error", exported_object="customer")
        assert wait(s, emu, create(s, emu, "voucher")["id"])["status"] == "DONE"
        failed = wait(s, emu, create(s, emu, "customer")["id"])
        assert failed["status"] == "ERROR"
        assert failed["result"] is None
        emu.inject("never_finish")
        stuck = create(s, emu, "voucher")
        time.sleep(0.2)
        assert s.get(f"{emu.api_url}/v1/exports/{stuck['id']}").json()["status"] == "IN_PROGRESS"
        emu.inject("max_rows_per_export", max_rows=10)
        small = {
            "filters": {
                "created_at": {
                    "conditions": {"$after": emu.ground_truth("voucher")[-6]["created_at"]}
                }
            }
        }
        assert wait(s, emu, create(s, emu, "voucher", **small)["id"])["status"] == "DONE"
        assert wait(s, emu, create(s, emu, "voucher")["id"])["status"] == "ERROR"
        assert wait(s, emu, create(s, emu, "voucher")["id"])["status"] == "DONE"  # fired once
    with (
        Emulator(rows={"voucher": 50}, job_latency_seconds=0.01, max_rows_per_export=20) as emu,
        client(emu) as s,
    ):
        for _ in range(2):
            assert wait(s, emu, create(s, emu, "voucher")["id"])["status"] == "ERROR"


def test_foreign_download_host_serves_csv_and_is_recorded():
    with Emulator(rows={"voucher": 10}, job_latency_seconds=0.01) as emu:
        with client(emu) as s:
            emu.inject("foreign_download_host")
            job = wait(s, emu, create(s, emu, "voucher")["id"])
            url = job["result"]["url"]
            assert url.startswith(f"{emu.foreign_url}/v1/exports/")
            assert emu.foreign_url != emu.download_url
        assert not [r for r in emu.requests if r.origin == "foreign"]
        with client(emu, auth=False) as anonymous:  # a careful client sends no credentials there
            assert anonymous.get(url).status_code == 200
        foreign = [r for r in emu.requests if r.origin == "foreign"]
        assert len(foreign) == 1
        assert "X-App-Token" not in foreign[0].headers


@pytest.mark.parametrize("kind", ["cell_count", "bad_number", "bad_date"])
def test_malformed_row(kind):
    with Emulator(rows={"order": 30}, job_latency_seconds=0.01) as emu, client(emu) as s:
        emu.inject("malformed_row", kind=kind)
        fields = ["id", "amount", "created_at"]
        rows = parse(export_csv(s, emu, "order", fields=fields))[1:]
        truth = [[r[k] for k in fields] for r in emu.ground_truth("order")]
        bad = [(got, want) for got, want in zip(rows, truth, strict=True) if got != want]
        assert len(bad) == 1
        got, want = bad[0]
        if kind == "cell_count":
            assert len(got) == 4
        elif kind == "bad_number":
            assert got[1] != want[1]
            assert not re.fullmatch(r"-?\d+(\.\d+)?", got[1])
        else:
            assert got[2] != want[2]
            with pytest.raises(ValueError, match=r"month must be in 1\.\.12"):
                datetime.fromisoformat(got[2])
        assert parse(export_csv(s, emu, "order", fields=fields))[1:] == truth  # spent


# --- scale, recording, control endpoint, CLI -----------------------------------------------------
def test_large_export_is_file_backed_and_streamed():
    with Emulator(rows={"voucher": 200_000}, job_latency_seconds=0.01) as emu, client(emu) as s:
        port = emu.api_url.rsplit(":", 1)[1]
        job = wait(s, emu, create(s, emu, "voucher", fields=["id", "code"])["id"], timeout=30)
        assert job["status"] == "DONE"
        export = emu.exports[0]
        assert os.path.getsize(export.path) == export.size
        received, lines = 0, 0
        with s.get(job["result"]["url"], stream=True) as response:
            assert int(response.headers["Content-Length"]) == export.size
            for chunk in response.iter_content(1 << 20):
                received += len(chunk)
                lines += chunk.count(b"\r\n")
        assert received == export.size
        assert lines == 200_001
        path = export.path
    assert not os.path.exists(path)  # temp files are removed on shutdown
    assert not [t for t in threading.enumerate() if t.name == f"emulator-api-{port}"]
    assert not [t for t in threading.enumerate() if t.name.startswith(f"emulator-gen-{job['id']}")]


def test_request_recording_and_control_endpoint():
    with Emulator(rows={"voucher": 20}, job_latency_seconds=0.01) as emu, client(emu) as s:
        job = wait(s, emu, create(s, emu, "voucher", fields=["id"])["id"])
        s.get(job["result"]["url"])
        first = emu.requests[0]
        assert (first.origin, first.method, first.path) == ("api", "POST", "/v1/exports")
        assert first.body == {"exported_object": "voucher", "parameters": {"fields": ["id"]}}
        assert first.headers["X-App-Token"] == emu.app_token
        download = emu.requests[-1]
        assert download.origin == "download"
        assert "token" in download.query
        with client(emu, auth=False) as control:
            recorded = control.get(f"{emu.api_url}/_emulator/requests").json()
            assert len(recorded) == len(emu.requests)
            assert recorded[0]["origin"] == "api"
            truth = control.get(
                f"{emu.api_url}/_emulator/ground-truth",
                params={"exported_object": "voucher", "after": "2022-01-01T00:00:00Z"},
            ).json()
            assert truth == emu.ground_truth("voucher", after="2022-01-01T00:00:00Z")
            armed = control.post(
                f"{emu.api_url}/_emulator/faults",
                json={"fault": "server_error", "phase": "create", "times": 1},
            )
            assert armed.status_code == 200
            assert (
                control.post(f"{emu.api_url}/_emulator/faults", json={"fault": "nope"}).status_code
                == 400
            )
            assert (
                s.post(f"{emu.api_url}/v1/exports", json={"exported_object": "voucher"}).status_code
                == 500
            )
            control.post(f"{emu.api_url}/_emulator/faults", json={"fault": "job_error"})
            assert control.delete(f"{emu.api_url}/_emulator/faults").status_code == 204
            assert wait(s, emu, create(s, emu, "voucher")["id"])["status"] == "DONE"


def test_request_hooks_see_every_recorded_request_once_in_order_and_no_control_request():
    with Emulator(rows={"voucher": 20}, job_latency_seconds=0.01) as emu, client(emu) as s:
        seen: list[RecordedRequest] = []
        order: list[str] = []
        emu.on_request(seen.append)
        emu.on_request(lambda request: order.append(f"second {request.method}"))
        emu.on_request(lambda request: order.append(f"third {request.method}"))
        job = wait(s, emu, create(s, emu, "voucher", fields=["id"])["id"])
        s.get(job["result"]["url"])
        s.get(f"{emu.api_url}/_emulator/requests")
        recorded = emu.requests
    assert seen == recorded
    assert all(a is b for a, b in zip(seen, recorded, strict=True))
    assert (seen[0].origin, seen[0].method) == ("api", "POST")
    assert seen[-1].origin == "download"
    assert not [r for r in seen if r.path.startswith("/_emulator/")]
    assert order[:2] == ["second POST", "third POST"]  # in the order the hooks were added
    assert len(order) == 2 * len(seen)


def test_a_request_hook_runs_before_the_answer_so_a_fault_it_arms_hits_that_request():
    with Emulator(rows={"voucher": 20}, job_latency_seconds=0.01) as emu, client(emu) as s:
        creates = 0

        def fail_the_second_create(request: RecordedRequest) -> None:
            nonlocal creates
            if request.method == "POST":
                creates += 1
                if creates == 2:
                    emu.inject("server_error", phase="create", status=503)

        emu.on_request(fail_the_second_create)
        body = {"exported_object": "voucher"}
        answers = [s.post(f"{emu.api_url}/v1/exports", json=body) for _ in range(3)]
        statuses = [r.status for r in emu.requests]
    assert [a.status_code for a in answers] == [200, 503, 200]
    assert statuses == [200, 503, 200]


def test_a_removed_request_hook_is_called_no_more():
    with Emulator(rows={"voucher": 20}, job_latency_seconds=0.01) as emu, client(emu) as s:
        seen: list[str] = []
        remove = emu.on_request(lambda request: seen.append(request.path))
        s.get(f"{emu.api_url}/v1/exports")
        remove()
        remove()  # a second removal changes nothing
        s.get(f"{emu.api_url}/v1/exports/exp_missing")
        assert len(emu.requests) == 2
    assert seen == ["/v1/exports"]


def test_a_request_hook_that_raises_drops_the_request_and_the_emulator_raises_it_on_stop():
    def broken_hook(request: RecordedRequest) -> None:
        raise LookupError(f"hook failed on {request.path}")

    emu = Emulator(rows={"voucher": 20}).start()
    emu.on_request(broken_hook)
    with client(emu) as s, pytest.raises(requests.ConnectionError):
        s.get(f"{emu.api_url}/v1/exports")
    with pytest.raises(LookupError, match="hook failed on /v1/exports"):
        emu.stop()
    emu.stop()  # raised once: a second stop is quiet


def test_cli_prints_urls_and_stops_on_sigterm():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voucherify_emulator",
            "--rows",
            "voucher=10",
            "--job-latency",
            "0.01",
            "--fault",
            "rate_limit:phase=create,retry_after=2",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        urls = dict(part.split("=", 1) for part in line.split())
        headers = {"X-App-Id": urls["app_id"], "X-App-Token": urls["app_token"]}
        with requests.Session() as s:
            first = s.post(
                f"{urls['api_url']}/v1/exports",
                json={"exported_object": "voucher"},
                headers=headers,
            )
            assert first.status_code == 429
            assert first.headers["Retry-After"] == "2"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()


def test_shapes_are_set_over_the_control_endpoint_and_change_later_exports_only():
    emu = Emulator(rows={"voucher": 5, "redemption": 5}, job_latency_seconds=0.01)
    with emu, client(emu.start()) as s, client(emu, auth=False) as control:
        before = create(s, emu, "voucher", fields=["id", "code", "metadata.region"])
        shape = {"header": "keys", "order": "reversed", "metadata": "split"}
        answer = control.put(f"{emu.api_url}/_emulator/shape", json=shape)
        assert answer.status_code == 200
        assert control.get(f"{emu.api_url}/_emulator/shape").json()["order"] == "reversed"
        assert (
            control.put(f"{emu.api_url}/_emulator/shape", json={"order": "sideways"}).status_code
            == 400
        )
        rows = parse(export_csv(s, emu, "voucher", fields=["id", "code", "metadata"]))
        assert rows[0][-2:] == ["code", "id"]
        assert rows[0][0].startswith("metadata.")
        job = wait(s, emu, before["id"])
        old = parse(s.get(job["result"]["url"]).content.decode("utf-8"))
        assert old[0] == ["ID", "Code", "Metadata region"]
        control.put(f"{emu.api_url}/_emulator/shape", json={"reject": {"redemption": ["order_id"]}})
        refused = s.post(
            f"{emu.api_url}/v1/exports",
            json={
                "exported_object": "redemption",
                "parameters": {"fields": ["id", "order_id"]},
            },
        ).json()
        assert refused["key"] == "invalid_export_fields"
        assert "order_id" not in refused["details"]
        assert refused["details"].startswith("Unsupported field used. Allowed fields: id, ")


def test_bare_metadata_keys_and_null_spellings_shape_the_file_not_a_cached_one():
    emu = Emulator(rows={"voucher": 40}, job_latency_seconds=0.01)
    with emu, client(emu.start()) as s, client(emu, auth=False) as control:
        fields = ["id", "code", "value", "gift_balance", "metadata"]
        plain = parse(export_csv(s, emu, "voucher", fields=fields))
        shape = {"metadata": "bare", "null": "NULL"}
        assert control.put(f"{emu.api_url}/_emulator/shape", json=shape).status_code == 200
        shaped = parse(export_csv(s, emu, "voucher", fields=fields))
        assert shaped[0] == ["ID", "Code", "Value", "Gift Balance", *SPLIT_KEYS]
        assert any(row[3] == "" for row in plain[1:])
        for before, after in zip(plain[1:], shaped[1:], strict=True):
            assert after[:2] == before[:2]  # text columns keep their empty cells
            assert after[2:4] == [cell or "NULL" for cell in before[2:4]]
            document = json.loads(before[4]) if before[4] else {}
            assert after[4:] == [metadata_value(before[4], key) for key in SPLIT_KEYS]
            assert set(document) <= set(SPLIT_KEYS)
        bad = control.put(f"{emu.api_url}/_emulator/shape", json={"null": "nil"})
        assert bad.status_code == 400


def test_cli_starts_in_the_shape_given_and_refuses_a_bad_one():
    bad = subprocess.run(
        [sys.executable, "-m", "voucherify_emulator", "--shape", '{"order": "sideways"}'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "bad --shape" in bad.stderr
    process = subprocess.Popen(
        [sys.executable, "-m", "voucherify_emulator", "--shape", '{"header": "keys"}'],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        urls = dict(part.split("=", 1) for part in process.stdout.readline().split())
        shape = requests.get(f"{urls['api_url']}/_emulator/shape", timeout=10).json()
        assert shape["header"] == "keys"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()


def test_control_endpoints_take_json_sent_with_a_form_content_type():
    # curl -d and urllib send `application/x-www-form-urlencoded` unless told otherwise.
    with Emulator(rows={"order": 5}) as emu:
        response = requests.post(
            f"{emu.api_url}/_emulator/rows",
            data=json.dumps({"exported_object": "order", "count": 2}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 7
