"""Loopback ports for tests of what the tap does when nothing answers."""

from __future__ import annotations

import socket


def closed_port() -> int:
    """A loopback port nothing listens on: bound to learn a free one, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
