"""Singer tap for Voucherify data, read through the asynchronous /v1/exports API."""
