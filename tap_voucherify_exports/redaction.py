"""A last line of defence: no log line leaves the process carrying a secret or a download token."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

REDACTED = "***"
_TOKEN_QUERY = re.compile(r"(token=)[^&\s'\"]+")


def redact_tokens(text: str) -> str:
    """Blank out `token=` query values (download tokens) in a message meant for logs."""
    return _TOKEN_QUERY.sub(r"\1…", text)


def safe_url(url: str) -> str:
    """A URL fit for logs: origin and path only, the query (which carries tokens) dropped."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


class SecretRedactingFilter(logging.Filter):
    """Rewrites any log record that contains a secret value or a `token=` query value."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(secret for secret in secrets if secret)

    def add(self, secret: str) -> None:
        """Redact one more value from now on (a tuple swap: safe while other threads log)."""
        if secret and secret not in self.secrets:
            self.secrets = (*self.secrets, secret)

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return redact_tokens(text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message (and any traceback) in place; never drop the record."""
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True


_active: SecretRedactingFilter | None = None


def redact_secrets_in_logs(secrets: Iterable[str]) -> None:
    """Attach the filter to every handler that exists now (root and named loggers)."""
    global _active  # noqa: PLW0603 - one filter per process, shared by every handler
    redactor = _active = SecretRedactingFilter(secrets)
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]  # fmt: skip
    for logger in loggers:
        for handler in logger.handlers:
            handler.filters = [
                f for f in handler.filters if not isinstance(f, SecretRedactingFilter)
            ]
            handler.addFilter(redactor)


def redact_secret_from_now_on(secret: str) -> None:
    """Add a credential obtained during the run (an OAuth access token) to the active filter."""
    if _active is not None:
        _active.add(secret)
