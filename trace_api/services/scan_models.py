"""The typed answers of a scan (services.resolver): the verdict a consumer sees first, the unit's checks and
scans, and the whole summary the scan page and the resolver's JSON show (or, for a code that is not genuine, the
verdict alone)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from trace_api.services.history_models import BatchHistory
from trace_api.services.journey import Journey

__all__ = ["Counterfeit", "ScanReport", "ScanSummary", "ScanVerdict", "UnitFacts"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScanReport(_Frozen):
    """A unit's scans so far, and whether their pattern looks like a cloned code."""

    count: int
    places: int = Field(description="Distinct coarse places (hashed networks) it was scanned from")
    anomaly: bool
    message: str | None


class ScanVerdict(_Frozen):
    """The one-line answer a consumer sees first."""

    level: Literal["verified", "pending", "warning", "incomplete", "mismatch", "recalled", "counterfeit"]
    title: str
    detail: str


class UnitFacts(_Frozen):
    """A scanned unit: whether a verified commissioning issued its serial (``pending``: one is captured, not yet
    on chain), and its scans."""

    serial: str
    known: bool
    pending: bool
    scans: ScanReport


class ScanSummary(BatchHistory):
    """A genuine code's answer: the batch's verified history, the unit (when the code names one), the whole
    journey from farm to shelf, and the verdict."""

    serial: str | None
    unit: UnitFacts | None
    journey: Journey
    units_issued: int
    verdict: ScanVerdict


class Counterfeit(_Frozen):
    """The answer for a code that is not genuine: the verdict, nothing of any batch's story."""

    registered: bool
    gtin: str
    lot: str
    serial: str | None
    product: JsonValue
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    verdict: ScanVerdict

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
