"""Singer output: singer-sdk's msgspec writer, flushing at STATE rather than at every RECORD, and
the one place every STATE passes, where the ledger of exports is added to it."""

from __future__ import annotations

import copy
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib.messages import Message, RecordMessage, StateMessage


class StateFlushingWriter(MsgSpecWriter):
    """Writes each message with msgspec; flushes stdout at every non-RECORD message.

    The SDK's writers flush after every message, one system call per record. Records only need
    to reach the target before the STATE that covers them, so flushing at STATE (and SCHEMA)
    keeps that guarantee. On a terminal every message is flushed, for a human watching.

    Every STATE carries the ledger of exports created and not deleted (jobs/ledger.py), read
    when it is written (`keep_in_state`); `write_state_again` writes the last STATE once more
    with the ledger as it is now, from any thread: the pipeline's worker threads call it as
    they create exports. Its bookmarks are those of a STATE already written, so it never covers
    a row the target has not been given (export_stream.py's `_advance_bookmark`). A lock keeps
    every message whole and in one order with the ledger.
    """

    _interactive: bool | None = None

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._extra_key: str | None = None
        self._extra_value: Callable[[], Any] = list
        self._last_state: dict[str, Any] | None = None  # as written, the extra key included

    def keep_in_state(
        self, key: str, value: Callable[[], Any], baseline: Mapping[str, Any]
    ) -> None:
        """Write `key: value()` into every STATE from now on. `baseline` (the input state) is
        what `write_state_again` writes it into while no STATE has been written yet."""
        with self._lock:
            self._extra_key, self._extra_value = key, value
            if self._last_state is None:
                self._last_state = copy.deepcopy(dict(baseline))

    def write_state_again(self) -> None:
        """Write the last STATE (its bookmarks cover every row written before it) once more, with
        the extra key's value now, unless that is what it already says."""
        with self._lock:
            if self._extra_key is None or self._last_state is None:
                return
            value = self._extra_value()
            if self._last_state.get(self._extra_key, []) == value:
                return
            self._write_state({**self._last_state, self._extra_key: value})

    def write_message(self, message: Message) -> None:
        """Write one message; flush unless it is a RECORD going to a pipe or file."""
        with self._lock:
            if isinstance(message, StateMessage):
                state = message.value
                if self._extra_key is not None:
                    state = {**state, self._extra_key: self._extra_value()}
                self._write_state(state)
                return
            stdout = sys.stdout
            stdout.buffer.write(self.format_message(message))
            if self._interactive is None:
                self._interactive = stdout.isatty()
            if self._interactive or not isinstance(message, RecordMessage):
                stdout.flush()

    def write_record_lines(self, data: bytes) -> None:
        """Write RECORD lines already encoded (output/fastpath.py); flushed only on a terminal."""
        with self._lock:
            stdout = sys.stdout
            stdout.buffer.write(data)
            if self._interactive is None:
                self._interactive = stdout.isatty()
            if self._interactive:
                stdout.flush()

    def _write_state(self, state: Mapping[str, Any]) -> None:
        # Holding the lock. A copy: singer-sdk goes on changing its state dict in place.
        self._last_state = copy.deepcopy(dict(state))
        sys.stdout.buffer.write(self.format_message(StateMessage(value=state)))
        sys.stdout.flush()
