"""A faithful local emulator of Voucherify's asynchronous Exports API (stdlib only).

    from tap_voucherify_exports.emulator import Emulator
    with Emulator(seed=7, rows={"voucher": 500}) as emu:
        ...  # emu.api_url, emu.download_url, emu.inject(...), emu.ground_truth(...)

Run standalone with `python -m tap_voucherify_exports.emulator --help`.
"""

from tap_voucherify_exports.emulator.emulator import Emulator
from tap_voucherify_exports.emulator.faults import Fault
from tap_voucherify_exports.emulator.jobs import ExportJob
from tap_voucherify_exports.emulator.recording import RecordedRequest

__all__ = ["Emulator", "ExportJob", "Fault", "RecordedRequest"]
