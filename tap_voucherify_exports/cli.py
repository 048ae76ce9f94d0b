"""How a run ends, as a person reads it: one line per error the tap raises on purpose (and a
hint where one helps), exit status 1, the traceback only at LOGLEVEL=DEBUG; a bug keeps its
traceback. tap.py wraps every command in `errors_end_the_run`; the exit statuses of a stop
(128 + the signal's number) are tap.py's `_handle_termination`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

from singer_sdk.exceptions import ConfigValidationError

from tap_voucherify_exports.errors import VoucherifyError

EXIT_ERROR = 1
# What singer-sdk's `Stream.sync` logs (ERROR) for any exception before re-raising it.
SDK_STREAM_ERROR_LINE = "An unhandled error occurred while syncing '%s'"


class OneLinePerError(logging.Filter):
    """Drops the SDK's stream-error line when the error is a `VoucherifyError`: the run's last
    line says what happened (`errors_end_the_run`), so the SDK's only repeats that it failed.
    For any other exception (a bug) the line stays, before the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        # The SDK logs it inside its `except` block: the exception is the one being handled.
        return record.msg != SDK_STREAM_ERROR_LINE or not isinstance(
            sys.exc_info()[1], VoucherifyError
        )


ONE_LINE_PER_ERROR = OneLinePerError()


@contextlib.contextmanager
def errors_end_the_run(
    logger: logging.Logger, outcome: str = "nothing was synced"
) -> Iterator[None]:
    """Turn an error the tap raises on purpose into its lines on stderr and exit status 1;
    `outcome` ends the last line of a settings error."""
    try:
        yield
    except ConfigValidationError as exc:
        for line in exc.errors or [str(exc)]:
            logger.error("%s", line)
        logger.error("Config validation failed: %s.", outcome)
        sys.exit(EXIT_ERROR)
    except VoucherifyError as exc:
        # The message says what happened; a traceback helps only whoever debugs the tap.
        debugging = logger.isEnabledFor(logging.DEBUG)
        logger.error("%s", exc, exc_info=exc if debugging else None)
        if exc.hint:
            logger.error("Hint: %s", exc.hint)
        sys.exit(EXIT_ERROR)
