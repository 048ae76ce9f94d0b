"""The verbs of an export job: create (without refused fields), get, list, delete, and the
step from a finished job to a downloadable one."""

from __future__ import annotations

import enum
import json
import logging
import time
from dataclasses import replace
from http import HTTPStatus

from tap_voucherify_exports.api.client import VoucherifyClient
from tap_voucherify_exports.config.settings import Settings
from tap_voucherify_exports.errors import (
    ConnectFailedError,
    ExportedObjectRefusedError,
    ExportFailedError,
    ExportFieldsRefusedError,
    VoucherifyAPIError,
    VoucherifyError,
)
from tap_voucherify_exports.jobs.export import Export, ExportStatus, result_urls
from tap_voucherify_exports.jobs.refused import RefusedFields, allowed_fields, is_allowed
from tap_voucherify_exports.jobs.request import ExportRequest

LOGGER = logging.getLogger("tap_voucherify_exports")

RESULT_PREVIEW_CHARS = 500


class DeleteOutcome(enum.Enum):
    """What became of a `DELETE /v1/exports/{id}`."""

    DELETED = "deleted"
    GONE = "gone"  # 404: already deleted (by an earlier try, or by someone else)
    FAILED = "failed"  # still there as far as the tap knows (an API error after the retries)
    UNREACHABLE = "unreachable"  # the host could not be reached at all

    @property
    def gone(self) -> bool:
        """The export is no longer on Voucherify."""
        return self in {DeleteOutcome.DELETED, DeleteOutcome.GONE}


class ExportsAPI:
    """The verbs of an export job against one Voucherify project."""

    def __init__(
        self,
        client: VoucherifyClient,
        settings: Settings,
        refused: RefusedFields | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.refused = RefusedFields() if refused is None else refused
        self._exports_url = f"{settings.api_origin}/v1/exports"

    def create_export(self, request: ExportRequest) -> Export:
        """`POST /v1/exports`, without the fields refused so far in this run.

        A 400 `invalid_export_fields` drops the requested fields its "Allowed fields" list
        lacks (never a `required` one: that fails), warns once, and creates again.
        """
        request = self.as_sent(request)
        while True:
            try:
                response = self.client.request(
                    "POST", self._exports_url, kind="create", json_body=request.body()
                )
            except VoucherifyAPIError as exc:
                request = self._without_refused(request, exc)
                continue
            export = Export.from_json(response.json())
            LOGGER.info("%s: created %s for %s", request.stream_name, export.id, request)
            return export

    def as_sent(self, request: ExportRequest) -> ExportRequest:
        """`request` as it is created: without the fields refused so far in this run."""
        fields = self.refused.without(request.exported_object, request.fields)
        return request if fields == request.fields else replace(request, fields=fields)

    def _without_refused(self, request: ExportRequest, error: VoucherifyAPIError) -> ExportRequest:
        """The request minus the fields `error` refuses; re-raise what cannot be recovered."""
        allowed = allowed_fields(error)
        refused = (
            [] if allowed is None else [f for f in request.fields if not is_allowed(f, allowed)]
        )
        if not refused:
            if error.status == HTTPStatus.BAD_REQUEST and "exported_object" in str(error.details):
                # The spec's captured 400 lists the exportable objects without
                # `voucher_transactions`: an account may refuse a whole object.
                raise ExportedObjectRefusedError(
                    f"{request.stream_name}: Voucherify refuses to export "
                    f"`{request.exported_object}` on this account: {error}. Deselect the stream "
                    f"{request.stream_name} (catalog `selected: false`; in meltano, "
                    f"`select: ['!{request.stream_name}.*']`) to sync the others."
                ) from None
            raise error  # not a field refusal, or none of ours: nothing to drop
        needed = [field for field in refused if field in request.required]
        if needed:
            raise ExportFieldsRefusedError(
                f"{request.stream_name}: Voucherify refuses the field(s) {', '.join(needed)}, "
                f"which the stream needs as its primary or replication key, so it cannot be "
                f"synced from this account. {error}"
            ) from None
        new = self.refused.add(request.exported_object, refused)
        if new:
            LOGGER.warning(
                "%s: Voucherify refuses the field(s) %s (%s); they are left out of every %s "
                "export for the rest of this run, and records lack those properties.",
                request.stream_name, ", ".join(new), error, request.exported_object,
            )  # fmt: skip
        return replace(request, fields=tuple(f for f in request.fields if f not in refused))

    def get_export(self, export_id: str) -> Export:
        """`GET /v1/exports/{id}`."""
        response = self.client.request("GET", f"{self._exports_url}/{export_id}", kind="get")
        return Export.from_json(response.json())

    def list_exports(self, limit: int) -> list[Export]:
        """`GET /v1/exports?order=-created_at&limit=…`: the project's newest exports, first page."""
        response = self.client.request(
            "GET", f"{self._exports_url}?order=-created_at&limit={limit}", kind="list"
        )
        body = response.json()
        items = body.get("exports") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise VoucherifyError(f"Unexpected export list from Voucherify: {str(body)[:200]}")
        return [Export.from_json(item) for item in items]

    def interrupt_waits(self) -> None:
        """The sync is stopping: requests waiting for the rate limit give up now."""
        self.client.interrupt_waits()

    def delete_export(self, export_id: str, *, quiet: bool = False) -> DeleteOutcome:
        """`DELETE /v1/exports/{id}`; a failure is only a warning, the data is already synced.
        UNREACHABLE when the API could not be reached at all (jobs/pipeline.py then stops
        trying). `quiet` leaves out the line per export deleted or gone (the caller sums up)."""
        try:
            self.client.request("DELETE", f"{self._exports_url}/{export_id}", kind="delete")
        except VoucherifyAPIError as exc:
            if exc.status == HTTPStatus.NOT_FOUND:
                if not quiet:
                    LOGGER.info("Export %s was already deleted (404)", export_id)
                return DeleteOutcome.GONE
            LOGGER.warning("Could not delete export %s: %s", export_id, exc)
            return DeleteOutcome.FAILED
        except VoucherifyError as exc:
            LOGGER.warning("Could not delete export %s: %s", export_id, exc)
            if isinstance(exc, ConnectFailedError):
                return DeleteOutcome.UNREACHABLE
            return DeleteOutcome.FAILED
        if not quiet:
            LOGGER.info("Deleted export %s", export_id)
        return DeleteOutcome.DELETED

    def finished(self, export: Export, request: ExportRequest, started: float) -> Export:
        """A job that is no longer pending, made ready to download: raise on ERROR, and read a
        DONE job once more if its answer had no `result` (jobs/polling.py does the waiting)."""
        if export.status == ExportStatus.DONE.value and not result_urls(export.result, export.id):
            # The create answer carries no `result`: a job already DONE by then (tiny, or a slow
            # client) is read once more, as Voucherify says, for its result.url.
            export = self.get_export(export.id)
        if export.status == ExportStatus.ERROR.value:
            raise ExportFailedError(
                f"{request.stream_name}: {export.id} ({request}) ended in ERROR; "
                f"result: {json.dumps(export.result)[:RESULT_PREVIEW_CHARS]}"
            )
        LOGGER.info(
            "%s: %s is DONE after %.1f s",
            request.stream_name,
            export.id,
            time.monotonic() - started,
        )
        return export
