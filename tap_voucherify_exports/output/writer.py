"""Singer output: singer-sdk's msgspec writer, flushing at STATE rather than at every RECORD."""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib.messages import Message, RecordMessage


class StateFlushingWriter(MsgSpecWriter):
    """Writes each message with msgspec; flushes stdout at every non-RECORD message.

    The SDK's writers flush after every message, one system call per record. Records only need
    to reach the target before the STATE that covers them, so flushing at STATE (and SCHEMA)
    keeps that guarantee. On a terminal every message is flushed, for a human watching.
    """

    _interactive: bool | None = None

    def write_message(self, message: Message) -> None:
        """Write one message; flush unless it is a RECORD going to a pipe or file."""
        stdout = sys.stdout
        stdout.buffer.write(self.format_message(message))
        if self._interactive is None:
            self._interactive = stdout.isatty()
        if self._interactive or not isinstance(message, RecordMessage):
            stdout.flush()

    def write_record_lines(self, data: bytes) -> None:
        """Write RECORD lines already encoded (output/fastpath.py); flushed only on a terminal."""
        stdout = sys.stdout
        stdout.buffer.write(data)
        if self._interactive is None:
            self._interactive = stdout.isatty()
        if self._interactive:
            stdout.flush()
