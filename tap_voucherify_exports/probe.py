"""`--probe`: one small export per selected stream, to see how an account answers before a sync.

The CSV header's text, the column order, the shape of `metadata` and which fields a cluster
accepts are not documented (docs/types.md). The probe asks the account itself: per stream
it creates one small export (the last day; then the last 30 days and everything since
`start_date` while a window holds no row), downloads it, prints the header, how each cell was
matched, the first row typed, each amount column's cell as sent beside its typed value (amounts
pass through unscaled: only an account's own file shows their unit) and any field Voucherify
refused, and deletes the export. It says when Voucherify split an export into several files and
when it ignored the export's filter (rows outside the window: then it stops looking back, since
every older window would hold the whole table again). It writes no Singer message and moves no
state.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from tap_voucherify_exports.errors import VoucherifyError
from tap_voucherify_exports.export_stream import VoucherifyExportStream
from tap_voucherify_exports.fields import FieldType
from tap_voucherify_exports.jobs.request import ExportRequest
from tap_voucherify_exports.jobs.windows import Window
from tap_voucherify_exports.parsing.columns import ColumnMap, Resolution
from tap_voucherify_exports.session import Sample, SyncSession

# Windows tried, newest first, while an export holds no row (then everything since start_date).
PROBE_WINDOWS = (dt.timedelta(days=1), dt.timedelta(days=30))
Echo = Callable[[str], None]
# How the notes on an account's ways of exporting begin, one per stream and kind.
SPLIT_NOTE = "  split result:"
IGNORED_NOTE = "  filter ignored:"
_NUMBER = "@decimal@"  # marks a Decimal in the JSON text, replaced by its digits


def probe_windows(start: dt.datetime, end: dt.datetime, step: dt.timedelta) -> list[Window]:
    """The windows tried, newest first, until one holds a row: the last day, the last 30 days,
    then back from there one `step` (backfill_window_days) at a time to `start`, so no probe
    export ever covers more than one backfill window of history."""
    windows = [Window(end - span, end) for span in PROBE_WINDOWS if end - span > start]
    upper = windows[-1].start if windows else end
    while upper > start:
        lower = max(start, upper - step)
        windows.append(Window(lower, upper))
        upper = lower
    return windows


def cost_notice(streams: Sequence[VoucherifyExportStream], session: SyncSession) -> str:
    """What the probe will cost, said before it starts: at worst, for a stream whose recent
    windows are empty, one export per backfill window back to start_date."""
    settings = session.settings
    most = len(probe_windows(settings.start_date, session.sync_end, settings.backfill_window))
    return (
        f"Probe: one small export per selected stream ({len(streams)}: "
        f"{', '.join(stream.name for stream in streams)}), each a create, a few status checks "
        "(1 s growing to poll_interval_max), one download and a delete. While the newest "
        "window holds no row it tries an older one: the last day, the last 30 days, then "
        f"{settings.backfill_window.days} days at a time back to start_date, up to {most} "
        "exports for a stream with no row at all (none covers more than one backfill window). "
        "Each export takes as long as Voucherify needs to generate it, often minutes. No data "
        "is written and no state is changed."
    )


def probe_requests(stream: VoucherifyExportStream, session: SyncSession) -> list[ExportRequest]:
    """The exports the probe may create for one stream, newest window first."""
    if not stream.filter_key:
        return [stream.export_request()]
    settings = session.settings
    windows = probe_windows(settings.start_date, session.sync_end, settings.backfill_window)
    return [stream.export_request(window) for window in windows]


def _json(record: dict[str, Any]) -> str:
    """A record as JSON, numbers as numbers: Decimal amounts are written with their own digits."""
    marked = json.dumps(record, default=lambda value: f"{_NUMBER}{value}", ensure_ascii=False)
    return re.sub(rf'"{_NUMBER}([^"]*)"', r"\1", marked)


def _describe_columns(column_map: ColumnMap) -> list[str]:
    lines = [f"  header ({len(column_map.columns)} columns), as sent → field (matched by):"]
    for column in column_map.columns:
        target = column.field.key
        how = column.how.value
        if column.how is Resolution.METADATA_KEY:
            target = f"metadata[{column.metadata_key!r}]"
        elif column.how is Resolution.LABEL:
            how = f"label, {column.field.label_source.value}"
        lines.append(f"    {column.index + 1:>3}  {column.cell!r} → {target} ({how})")
    if column_map.warning:
        lines.append(f"  warning: {column_map.warning}")
    return lines


def probe_stream(stream: VoucherifyExportStream, session: SyncSession, echo: Echo) -> bool:
    """Probe one stream; print what was learnt; True if a sync of it would work."""
    echo(f"\n{stream.name} ({stream.exported_object}):")
    echo(f"  requested: {', '.join(stream.requested_fields)}")
    sample: Sample | None = None
    notes: list[str] = []
    try:
        for request in probe_requests(stream, session):
            sample = session.sample(request)
            echo(f"  export {sample.export_id} ({request}): {_found(sample)}")
            notes += _split_note(sample, notes)
            if sample.outside:
                # Every export of this cursor holds the whole table: an older window would
                # download all of it again and tell nothing more.
                notes.append(_ignored_note(request, sample))
                break
            if sample.first is not None:
                break
    except VoucherifyError as exc:
        _refused(stream, session, echo)
        echo(f"  FAILED: {exc}")
        return False
    _refused(stream, session, echo)
    for note in notes:
        echo(note)
    first = sample.first if sample is not None else None
    if sample is not None and sample.column_map is not None:
        for line in _describe_columns(sample.column_map):
            echo(line)
    if first is not None:
        row = _json(first)
    elif sample is not None and sample.outside:
        row = "none inside the window (older windows not tried: the filter is ignored)"
    else:
        row = "none: no row since start_date"
    echo(f"  first row, typed: {row}")
    if sample is not None:
        for line in _describe_amounts(sample):
            echo(line)
    echo("  OK")
    return True


def _found(sample: Sample) -> str:
    """What one probe export held: a row in its window or none, its files, rows outside."""
    found = "a row" if sample.first is not None else "no row"
    if sample.files > 1:
        found += f", in {sample.files} files"
    if sample.outside:
        found += f"; {sample.outside} rows outside the window"
    return found


def _split_note(sample: Sample, notes: list[str]) -> list[str]:
    """The stream's note on split results, said once: how a sync reads them (jobs/download.py)."""
    if sample.files < 2 or any(note.startswith(SPLIT_NOTE) for note in notes):  # noqa: PLR2004
        return []
    return [
        f"{SPLIT_NOTE} {sample.export_id} came in {sample.files} files; a sync reads every "
        "file, in order (docs/reliability.md)."
    ]


def _ignored_note(request: ExportRequest, sample: Sample) -> str:
    """The stream's note on an ignored filter: what a sync then does (docs/incremental.md)."""
    return (
        f"{IGNORED_NOTE} Voucherify ignored the export filter on {request.filter_key}: "
        f"{sample.export_id} held {sample.outside} rows outside {request.window}"
        f"{'' if sample.first is None else ' before its first row inside'}. A sync drops "
        "such rows and exports the rest of the range once (docs/incremental.md)."
    )


def _describe_amounts(sample: Sample) -> list[str]:
    """Each amount column's cell as sent beside its typed value: the tap passes amounts through
    unscaled, and only an account's own file shows their unit (docs/types.md)."""
    if sample.column_map is None or sample.first is None or sample.first_cells is None:
        return []
    amounts = [c for c in sample.column_map.direct if c.field.type is FieldType.NUMBER]
    if not amounts:
        return []
    lines = ["  amounts, as sent → typed (passed through unscaled; the unit is your account's):"]
    for column in amounts:
        typed = _json({"v": sample.first[column.field.property_name]})[len('{"v": ') : -1]
        lines.append(f"    {column.field.key}: {sample.first_cells[column.index]!r} → {typed}")
    return lines


def _refused(stream: VoucherifyExportStream, session: SyncSession, echo: Echo) -> None:
    refused = session.refused_fields.of(stream.exported_object)
    echo(f"  refused by Voucherify: {', '.join(refused) if refused else 'none'}")


def run_probe(streams: Sequence[VoucherifyExportStream], session: SyncSession, echo: Echo) -> bool:
    """Probe every stream in `streams` inside one open session; True if all would sync.

    The probe is a check, like `--test`: a host it cannot connect to fails it after 2 tries,
    not a sync's 8 (`open(check=True)`), and the app keys and region are checked first with one
    list call, so an unreachable host or a wrong key is the run's one error line and hint
    rather than one failure per stream."""
    with session.open(check=True) as running:
        running.check_access()
        echo(cost_notice(streams, running))
        results = [probe_stream(stream, running, echo) for stream in streams]
    failed = [stream.name for stream, ok in zip(streams, results, strict=True) if not ok]
    verdict = f"; would fail: {', '.join(failed)}." if failed else "."
    echo(f"\nProbe: {len(streams) - len(failed)} of {len(streams)} streams OK{verdict}")
    return not failed
