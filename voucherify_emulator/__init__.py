"""A faithful local emulator of Voucherify's asynchronous Exports API (stdlib only).

    from voucherify_emulator import Emulator
    with Emulator(seed=7, rows={"voucher": 500}) as emu:
        ...  # emu.api_url, emu.download_url, emu.inject(...), emu.ground_truth(...)

Run standalone with `python -m voucherify_emulator --help`.
"""

from voucherify_emulator.emulator import Emulator
from voucherify_emulator.faults import Fault
from voucherify_emulator.jobs import ExportJob
from voucherify_emulator.recording import RecordedRequest

__all__ = ["Emulator", "ExportJob", "Fault", "RecordedRequest"]
