"""The Singer writer: every message written in order, stdout flushed at STATE, not per RECORD."""

from __future__ import annotations

import io
import json
import threading

import pytest
from singer_sdk.singerlib.messages import RecordMessage, SchemaMessage, StateMessage

from tap_voucherify_exports.jobs.ledger import STATE_KEY, ExportLedger
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


def ledger_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Stdout, StateFlushingWriter, ExportLedger]:
    stdout = Stdout(tty=False)
    monkeypatch.setattr("sys.stdout", stdout)
    writer, ledger = StateFlushingWriter(), ExportLedger()
    writer.keep_in_state(STATE_KEY, ledger.ids, {"bookmarks": {}})
    ledger.on_add = writer.write_state_again
    return stdout, writer, ledger


def test_every_state_lists_the_ledger_and_each_new_export_writes_the_last_state_again(monkeypatch):
    stdout, writer, ledger = ledger_writer(monkeypatch)
    bookmarked = {"bookmarks": {"s": {"replication_key_value": "2024"}}}
    ledger.add("exp_1")  # before any STATE: into the baseline
    writer.write_message(StateMessage(value=bookmarked))
    ledger.add("exp_2")
    ledger.discard("exp_1")
    ledger.discard("exp_2")
    writer.write_state_again()
    writer.write_state_again()  # it already says so: nothing written
    assert [m["value"] for m in lines(stdout)] == [
        {"bookmarks": {}, STATE_KEY: ["exp_1"]},
        {**bookmarked, STATE_KEY: ["exp_1"]},
        {**bookmarked, STATE_KEY: ["exp_1", "exp_2"]},
        {**bookmarked, STATE_KEY: []},
    ]
    assert len(stdout.flushed_at) == 4


def test_exports_created_on_other_threads_never_split_a_line_and_the_last_state_lists_them(
    monkeypatch,
):
    stdout, writer, ledger = ledger_writer(monkeypatch)

    def create(worker: int) -> None:
        for n in range(200):
            ledger.add(f"exp_{worker}x{n}")

    threads = [threading.Thread(target=create, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    for n in range(2000):
        writer.write_message(RecordMessage(stream="s", record={"id": n}))
        writer.write_record_lines(b'{"type":"RECORD","stream":"s","record":{"id":-1}}\n')
    for thread in threads:
        thread.join()
    written = lines(stdout)  # every line is whole JSON
    assert sum(m["type"] == "RECORD" for m in written) == 4000
    last_state = [m["value"] for m in written if m["type"] == "STATE"][-1]
    assert sorted(last_state[STATE_KEY]) == sorted(ledger.ids())
    assert len(ledger.ids()) == 600
