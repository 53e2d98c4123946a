"""Service results are closed, frozen models whose JSON is what the CLI's --json and the HTTP API show."""

from __future__ import annotations

import pydantic
import pytest

from trace_api.services.anchoring import AnchorReport
from trace_api.services.batch_models import BatchRegistered
from trace_api.services.devchain import ChainClock
from trace_api.services.importer import ImportReport
from trace_api.services.units import UnitsCommissioned
from trace_api.services.wallets import TokenBalance


def test_the_chain_clock_carries_its_time_in_json() -> None:
    clock = ChainClock(block=7, timestamp=1_800_000_000)
    assert clock.model_dump(mode="json") == {"block": 7, "timestamp": 1_800_000_000, "time": "2027-01-15T08:00:00Z"}


def test_token_units_beyond_a_json_number_travel_as_decimal_strings() -> None:
    wei = 2**70  # 1180.59... ETH in wei: beyond 2**53, where JSON readers lose digits
    found = TokenBalance(account="0x1", name=None, token="ETH", token_address="0x0", amount="1180.59", units=wei)
    assert found.units == wei  # still a number for Python callers (balance checks compare it)
    assert found.model_dump(mode="json")["units"] == str(wei)


def test_results_refuse_unknown_fields_and_changes() -> None:
    fields = {"batch_id": "0x01", "gtin": "09506000134352", "lot": "L1", "tx_hash": "0x02", "block": 1, "gas_used": 2}
    made = BatchRegistered(**fields)
    with pytest.raises(pydantic.ValidationError):
        BatchRegistered(**fields, note="x")
    with pytest.raises(pydantic.ValidationError):
        made.block = 3  # type: ignore[misc]


def test_report_shapes_stay_as_users_know_them() -> None:
    report = ImportReport(rows=3, new_events=3, anchored_roots=1, direct_events=0, batches=1, dry_run=False)
    assert report.model_dump() == {
        "rows": 3, "new_events": 3, "anchored_roots": 1, "direct_events": 0, "batches": 1, "dry_run": False,
    }  # fmt: skip
    units = UnitsCommissioned(batch_id="0x01", serials=3, **report.model_dump())
    assert set(units.model_dump()) == {"batch_id", "serials", *report.model_dump()}
    anchored = AnchorReport(captures_resumed=0, direct_events=1, roots_built=1, roots_anchored=["0x03"])
    assert anchored.model_dump(mode="json")["roots_anchored"] == ["0x03"]
