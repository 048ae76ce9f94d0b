"""The Singer writer: every message written in order, stdout flushed at STATE, not per RECORD."""

from __future__ import annotations

import io
import json

import pytest
from singer_sdk.singerlib.messages import RecordMessage, SchemaMessage, StateMessage

from tap_voucherify_exports.output.writer import StateFlushingWriter


class Stdout:
    """A stdout stand-in that records what was buffered when each flush happened."""

    def __init__(self, tty: bool) -> None:
        self.buffer = io.BytesIO()
        self.tty = tty
        self.flushed_at: list[int] = []  # bytes written at each flush

    def isatty(self) -> bool:
        return self.tty

    def flush(self) -> None:
        self.flushed_at.append(len(self.buffer.getvalue()))


def messages():
    return [
        SchemaMessage(stream="s", schema={"type": "object"}, key_properties=["id"]),
        RecordMessage(stream="s", record={"id": 1}),
        RecordMessage(stream="s", record={"id": 2}),
        StateMessage(value={"bookmarks": {"s": {"replication_key_value": "2024"}}}),
        RecordMessage(stream="s", record={"id": 3}),
    ]


def write_all(monkeypatch: pytest.MonkeyPatch, tty: bool) -> Stdout:
    stdout = Stdout(tty)
    monkeypatch.setattr("sys.stdout", stdout)
    writer = StateFlushingWriter()
    for message in messages():
        writer.write_message(message)
    return stdout


def lines(stdout: Stdout) -> list[dict]:
    return [json.loads(line) for line in stdout.buffer.getvalue().splitlines()]


def test_to_a_pipe_records_wait_for_the_next_state(monkeypatch):
    stdout = write_all(monkeypatch, tty=False)
    written = lines(stdout)
    assert [m["type"] for m in written] == ["SCHEMA", "RECORD", "RECORD", "STATE", "RECORD"]
    assert [m["record"]["id"] for m in written if m["type"] == "RECORD"] == [1, 2, 3]
    # Two flushes: after SCHEMA, and after STATE with both records before it already written.
    assert len(stdout.flushed_at) == 2
    text = stdout.buffer.getvalue()
    after_state = text.index(b'"STATE"')
    assert stdout.flushed_at[1] == text.index(b"\n", after_state) + 1
    # The record after the last STATE is written but not flushed: the SDK flushes at exit.
    assert stdout.flushed_at[-1] < len(text)


def test_to_a_terminal_every_message_is_flushed(monkeypatch):
    stdout = write_all(monkeypatch, tty=True)
    assert len(stdout.flushed_at) == len(messages())
    assert stdout.flushed_at[-1] == len(stdout.buffer.getvalue())
