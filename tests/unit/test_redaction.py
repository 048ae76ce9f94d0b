import logging

from tap_voucherify_exports.redaction import SecretRedactingFilter, redact_secrets_in_logs


def test_a_log_line_carrying_a_secret_or_download_token_is_redacted(caplog):
    caplog.set_level(logging.INFO)
    redact_secrets_in_logs(["s3cr3t"])
    caplog.handler.addFilter(SecretRedactingFilter(["s3cr3t"]))
    logging.getLogger("tap_voucherify_exports").info(
        "token %s and url %s", "s3cr3t", "https://d/v1/exports/x?token=eyJhbGciOi.abc"
    )
    assert "s3cr3t" not in caplog.text
    assert "eyJhbGciOi" not in caplog.text
    assert "token *** and url https://d/v1/exports/x?token=…" in caplog.text


def test_a_traceback_carrying_a_secret_is_redacted(caplog):
    caplog.handler.addFilter(SecretRedactingFilter(["s3cr3t"]))
    try:
        raise ValueError("bad s3cr3t")
    except ValueError:
        logging.getLogger("x").exception("failed")
    assert "s3cr3t" not in caplog.text
