import threading
import time
from collections.abc import Collection

import pytest

from tap_voucherify_exports.errors import ExportFailedError
from tap_voucherify_exports.fields import TABLES
from tap_voucherify_exports.jobs.export import Export
from tap_voucherify_exports.jobs.exports_api import DeleteOutcome
from tap_voucherify_exports.jobs.ledger import ExportLedger
from tap_voucherify_exports.jobs.pipeline import ExportPipeline
from tap_voucherify_exports.jobs.request import ExportRequest


class FakeAPI:
    """Records creates, waits and deletes; tracks how many jobs are in flight at once."""

    def __init__(self, fail: Collection[str] = frozenset()):
        self.lock = threading.Lock()
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.fail = fail
        self.unreachable = False  # every delete fails to connect
        self.gone: set[str] = set()  # deletes answered 404
        self.failing: set[str] = set()  # deletes answered with an error after the retries

    def create_export(self, request: ExportRequest) -> Export:
        with self.lock:
            self.created.append(request.stream_name)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return Export(f"exp_{request.stream_name}", "SCHEDULED", None)

    def close(self) -> None:
        """The poller's close: nothing is polled here."""

    def abandon(self, export_id: str) -> None:
        """The poller's abandon: waits here end on their own."""

    def wait(self, export: Export, request: ExportRequest) -> Export:
        time.sleep(0.02)
        if request.stream_name in self.fail:
            raise ExportFailedError(f"{export.id} ended in ERROR")
        return Export(export.id, "DONE", {"url": "u"})

    def delete_export(self, export_id: str, *, quiet: bool = False) -> DeleteOutcome:
        self.deleted.append(export_id)
        if self.unreachable:
            return DeleteOutcome.UNREACHABLE
        if export_id in self.failing:
            return DeleteOutcome.FAILED
        return DeleteOutcome.GONE if export_id in self.gone else DeleteOutcome.DELETED

    def interrupt_waits(self) -> None:
        """Nothing waits for a rate limit here."""

    def downloaded(self) -> None:
        with self.lock:
            self.in_flight -= 1


def requests_(*names: str) -> list[ExportRequest]:
    return [ExportRequest(name, TABLES["voucher"], ("id",)) for name in names]


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_never_more_jobs_in_flight_than_max_concurrent_exports(limit):
    api = FakeAPI()
    pipeline = ExportPipeline(api, api, limit, delete_exports=False)
    planned = requests_("a", "b", "c", "d", "e")
    pipeline.plan(planned)
    for request in planned:
        export = pipeline.export_for(request)
        assert export.id == f"exp_{request.stream_name}"
        time.sleep(0.03)  # "downloading"
        api.downloaded()
        pipeline.done_downloading(export)
    pipeline.close()
    assert api.created == ["a", "b", "c", "d", "e"]
    assert api.max_in_flight == limit


def test_later_jobs_are_created_while_the_first_downloads():
    api = FakeAPI()
    pipeline = ExportPipeline(api, api, 3, delete_exports=False)
    planned = requests_("a", "b", "c")
    pipeline.plan(planned)
    pipeline.export_for(planned[0])
    time.sleep(0.05)
    assert api.created == ["a", "b", "c"]
    pipeline.close()


def test_an_unplanned_request_runs_at_once():
    api = FakeAPI()
    pipeline = ExportPipeline(api, api, 2, delete_exports=False)
    assert pipeline.export_for(requests_("split-half")[0]).status == "DONE"
    pipeline.close()


def test_a_failed_job_raises_for_the_stream_that_asks_for_it():
    api = FakeAPI(fail={"b"})
    pipeline = ExportPipeline(api, api, 3, delete_exports=False)
    planned = requests_("a", "b")
    pipeline.plan(planned)
    pipeline.done_downloading(pipeline.export_for(planned[0]))
    with pytest.raises(ExportFailedError):
        pipeline.export_for(planned[1])
    pipeline.close()


def test_close_deletes_jobs_nobody_downloaded_when_delete_exports_is_on():
    api = FakeAPI()
    pipeline = ExportPipeline(api, api, 3, delete_exports=True)
    planned = requests_("a", "b", "c")
    pipeline.plan(planned)
    pipeline.done_downloading(pipeline.export_for(planned[0]))
    time.sleep(0.05)
    pipeline.close()
    assert sorted(api.deleted) == ["exp_a", "exp_b", "exp_c"]


def test_close_stops_deleting_once_voucherify_cannot_be_reached(caplog):
    """Each delete of an unreachable host waits out the client's retries: one is enough."""
    api = FakeAPI()
    pipeline = ExportPipeline(api, api, 3, delete_exports=True)
    pipeline.plan(requests_("a", "b", "c"))
    pipeline.export_for(requests_("a")[0])
    time.sleep(0.05)
    api.unreachable = True
    pipeline.close()
    assert api.deleted == ["exp_a"]
    assert "not trying to delete the 2 other exports left on it: exp_b, exp_c" in caplog.text


def test_an_export_whose_delete_was_interrupted_is_deleted_at_close():
    """Ctrl-C during the DELETE after an export's last row: `close` deletes it again."""
    api = FakeAPI()
    pipeline = ExportPipeline(api, api, 1, delete_exports=True)
    export = pipeline.export_for(requests_("a")[0])
    original = api.delete_export

    def interrupted(export_id: str, *, quiet: bool = False) -> DeleteOutcome:
        api.delete_export = original  # type: ignore[method-assign]
        raise KeyboardInterrupt

    api.delete_export = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        pipeline.done_downloading(export)
    pipeline.close()
    assert api.deleted == ["exp_a"]


def test_every_export_is_in_the_ledger_from_its_creation_until_it_is_deleted():
    api = FakeAPI()
    listed_at_creation: list[list[str]] = []
    ledger = ExportLedger()
    ledger.on_add = lambda: listed_at_creation.append(ledger.ids())
    pipeline = ExportPipeline(api, api, 1, delete_exports=True, ledger=ledger)
    planned = requests_("a", "b")
    pipeline.plan(planned)
    first = pipeline.export_for(planned[0])
    assert "exp_a" in ledger
    pipeline.done_downloading(first)
    assert "exp_a" not in ledger
    pipeline.done_downloading(pipeline.export_for(planned[1]))
    pipeline.close()
    assert listed_at_creation == [["exp_a"], ["exp_b"]]
    assert ledger.ids() == []


def test_an_export_whose_delete_failed_stays_in_the_ledger_for_the_next_run():
    api = FakeAPI()
    api.failing = {"exp_a"}
    pipeline = ExportPipeline(api, api, 1, delete_exports=True)
    pipeline.done_downloading(pipeline.export_for(requests_("a")[0]))
    pipeline.close()
    assert pipeline.ledger.ids() == ["exp_a"]


def test_exports_kept_by_delete_exports_false_leave_the_ledger_once_named(caplog):
    api = FakeAPI()
    pipeline = ExportPipeline(api, api, 1, delete_exports=False)
    pipeline.done_downloading(pipeline.export_for(requests_("a")[0]))
    assert pipeline.ledger.ids() == ["exp_a"]
    pipeline.close()
    assert "1 exports left on Voucherify because delete_exports is false: exp_a" in caplog.text
    assert pipeline.ledger.ids() == []


def test_exports_an_earlier_run_left_are_deleted_in_one_line_404_counting_as_deleted(caplog):
    api = FakeAPI()
    api.gone = {"exp_old2"}
    ledger = ExportLedger(["exp_old1", "exp_old2"])
    pipeline = ExportPipeline(api, api, 1, delete_exports=True, ledger=ledger)
    pipeline.delete_left_exports(["exp_old1", "exp_old2"])
    pipeline.close()
    assert api.deleted == ["exp_old1", "exp_old2"]
    assert ledger.ids() == []
    lines = [r.getMessage() for r in caplog.records if "earlier run" in r.getMessage()]
    assert lines == ["Deleted 2 exports an earlier run left on Voucherify: exp_old1, exp_old2"]


def test_left_exports_that_could_not_be_deleted_stay_in_the_ledger(caplog):
    api = FakeAPI()
    api.failing = {"exp_old1"}
    ledger = ExportLedger(["exp_old1", "exp_old2"])
    pipeline = ExportPipeline(api, api, 1, delete_exports=True, ledger=ledger)
    pipeline.delete_left_exports(["exp_old1", "exp_old2"])
    assert ledger.ids() == ["exp_old1"]
    assert "Deleted 1 exports an earlier run left on Voucherify: exp_old2" in caplog.text
    assert "Could not delete 1 exports an earlier run left on Voucherify" in caplog.text
    pipeline.close()


def test_left_exports_are_named_once_and_kept_when_delete_exports_is_false(caplog):
    api = FakeAPI()
    ledger = ExportLedger(["exp_old1"])
    pipeline = ExportPipeline(api, api, 1, delete_exports=False, ledger=ledger)
    pipeline.delete_left_exports(["exp_old1"])
    pipeline.close()
    assert api.deleted == []
    assert ledger.ids() == []
    assert (
        "1 exports an earlier run left on Voucherify are kept because delete_exports is false: "
        "exp_old1" in caplog.text
    )


def test_an_export_whose_state_could_not_be_written_is_still_deleted_at_close():
    """The target went away: writing the STATE that lists a new export fails on its thread."""
    api = FakeAPI()
    ledger = ExportLedger()

    def broken_pipe() -> None:
        raise BrokenPipeError

    ledger.on_add = broken_pipe
    pipeline = ExportPipeline(api, api, 2, delete_exports=True, ledger=ledger)
    pipeline.plan(requests_("a"))
    with pytest.raises(BrokenPipeError):
        pipeline.export_for(requests_("a")[0])
    pipeline.close()
    assert api.deleted == ["exp_a"]


def test_withdrawn_requests_are_not_created_and_those_created_ahead_are_deleted():
    api = FakeAPI()
    ledger = ExportLedger()
    pipeline = ExportPipeline(api, api, 3, delete_exports=True, ledger=ledger)
    planned = requests_("a", "b", "c", "d", "e")
    pipeline.plan(planned)
    export = pipeline.export_for(planned[0])  # b and c are created ahead meanwhile
    pipeline.withdraw(lambda request: request.stream_name in {"b", "c", "d"})
    api.downloaded()
    pipeline.done_downloading(export)
    assert pipeline.export_for(planned[4]).id == "exp_e", "the next one still planned ahead"
    pipeline.close()
    assert "d" not in api.created, "a withdrawn request not started yet is never created"
    assert set(api.deleted) == {f"exp_{name}" for name in api.created}
    assert ledger.ids() == []
