"""`--config` files: each must exist, be readable and hold one JSON object of settings.

singer-sdk reads them in a click callback, before the tap exists, and a missing file or broken
JSON ends in its traceback. tap.py checks each file here first, so the run ends in one line
naming the file and what is wrong with it (cli.py's reporting), before any message or request.
"""

from __future__ import annotations

import json
from pathlib import Path

from tap_voucherify_exports.errors import ConfigFileError

# singer-sdk's `--config ENV`: settings from environment variables, not a file.
ENV_CONFIG = "ENV"


def check_config_file(path: str) -> None:
    """Raise `ConfigFileError` unless `path` names a readable file holding a JSON object."""
    file = Path(path)
    if not file.exists():
        raise ConfigFileError(f"Config file {path!r} does not exist.")
    if file.is_dir():
        raise ConfigFileError(f"Config file {path!r} is a directory, not a JSON file.")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"Config file {path!r} is not UTF-8 text: {exc.reason}.") from None
    except OSError as exc:
        raise ConfigFileError(f"Config file {path!r} cannot be read: {exc.strerror}.") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigFileError(
            f"Config file {path!r} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    if not isinstance(value, dict):
        raise ConfigFileError(
            f"Config file {path!r} holds a JSON {_json_kind(value)}, not an object of settings "
            '({"app_id": …, "app_token": …, "start_date": …}).'
        )


def check_config_files(paths: tuple[str, ...]) -> None:
    """`check_config_file` for every `--config` given, `ENV` aside."""
    for path in paths:
        if path != ENV_CONFIG:
            check_config_file(path)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
