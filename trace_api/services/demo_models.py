"""What `trace demo` reports: the story's batches, how many of their events verify, its label and its trades."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DemoBatch(_Result):
    gtin: str
    lot: str
    events: int = Field(description="Events of the batch's own timeline")


class DemoLabel(_Result):
    file: str = Field(description="The PNG of bag 1's QR code")
    uri: str = Field(description="The Digital Link of bag 1")
    signed_uri: str = Field(description="The same, signed by the roaster (what the QR code holds)")


class ExportTrade(_Result):
    """The Shanghai order: one trade per line, with its terms and the importer's statements."""

    trade_ids: list[int]
    incoterm: str | None
    place: str | None
    invoice: Any = Field(description="The order's invoice currency, amount and recorded rate, as escrow shows it")
    token: str = Field(description="Symbol of the settlement token")
    statements: list[str] = Field(default_factory=list, description="CSV statement files, one per trade")


class DemoSummary(_Result):
    chain_id: int
    contracts: dict[str, str] = Field(description="Deployed contracts by name")
    batches: dict[str, DemoBatch] = Field(description="The green coffee and the roasted batch")
    events_verified: int
    events_total: int
    hash_chains_ok: bool
    label: DemoLabel
    trades: list[Any] = Field(description="Trades on the chain, newest first, as escrow lists them")
    export_trade: ExportTrade | None
