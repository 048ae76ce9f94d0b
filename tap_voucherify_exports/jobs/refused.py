"""Fields Voucherify refuses: the "Allowed fields" list of its 400, and a run's memory of them.

The spec's own 400 example (captured from the live API) lists the redemption fields without
`order_id`, which the tap requests by default: a cluster may export fewer fields than the spec
lists. jobs/exports_api.py drops what a 400 refuses and creates the export again; the
session keeps one `RefusedFields` per run so later exports ask only for what is allowed.
"""

from __future__ import annotations

import re
import threading
from http import HTTPStatus

from tap_voucherify_exports.errors import VoucherifyAPIError

# The documented 400 for a field the cluster does not export (spec example, captured from the
# live API): `details` "Unsupported field used. Allowed fields: id, object, date, …".
INVALID_EXPORT_FIELDS = "invalid_export_fields"
_ALLOWED_FIELDS = re.compile(r"Allowed fields:\s*(.*)", re.DOTALL)


def allowed_fields(error: VoucherifyAPIError) -> frozenset[str] | None:
    """The fields a 400 `invalid_export_fields` says are allowed; None for any other error."""
    if error.status != HTTPStatus.BAD_REQUEST or error.key != INVALID_EXPORT_FIELDS:
        return None
    match = _ALLOWED_FIELDS.search(str(error.details or ""))
    if match is None:
        return None
    return frozenset(part.strip() for part in match.group(1).split(",") if part.strip())


def is_allowed(field: str, allowed: frozenset[str]) -> bool:
    """Whether `field` is in the allowed list.

    The documented list names `metadata` and no `metadata.<key>`: keys are each project's own,
    so a `metadata.<key>` field stands or falls with `metadata` (inferred).
    """
    if field.startswith("metadata.") and "metadata" in allowed:
        return True
    return field in allowed


class RefusedFields:
    """Fields Voucherify refused during this run, per exported object (the session owns one).

    Every later export of that object leaves them out, so the refusal costs one failed create
    per run, and records of every window lack the same properties.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_object: dict[str, set[str]] = {}

    def of(self, exported_object: str) -> tuple[str, ...]:
        """The fields refused for this object so far, sorted."""
        with self._lock:
            return tuple(sorted(self._by_object.get(exported_object, ())))

    def without(self, exported_object: str, fields: tuple[str, ...]) -> tuple[str, ...]:
        """`fields` minus those refused for this object."""
        refused = set(self.of(exported_object))
        return tuple(field for field in fields if field not in refused)

    def add(self, exported_object: str, fields: list[str]) -> list[str]:
        """Remember refused fields; return those not known before."""
        with self._lock:
            known = self._by_object.setdefault(exported_object, set())
            new = [field for field in fields if field not in known]
            known.update(new)
        return new
