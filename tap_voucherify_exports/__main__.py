"""`python -m tap_voucherify_exports`: the same CLI as the `tap-voucherify-exports` command."""

from __future__ import annotations

from tap_voucherify_exports.tap import TapVoucherifyExports

TapVoucherifyExports.cli()
