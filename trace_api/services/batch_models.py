"""What the batch writes return: one frozen model per write, the same fields the HTTP API and `--json` show."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BatchRegistered(_Result):
    """A batch registered on chain."""

    batch_id: str = Field(description="The batch's on-chain id: keccak256 of GTIN and lot, hex")
    gtin: str
    lot: str
    tx_hash: str
    block: int
    gas_used: int


class BatchDerived(_Result):
    """A batch made from parent batches, with the transformation event that says so."""

    batch_id: str
    gtin: str
    lot: str
    parents: list[str] = Field(description="The parents' batch ids")
    tx_hash: str
    block: int
    event_hash: str | None = Field(description="CBV 2.0 hash of the TransformationEvent")
    anchored_root: str | None = Field(description="The Merkle root the event went under; null until confirmed")


class EventRecorded(_Result):
    """A lifecycle step recorded on chain."""

    batch_id: str
    step: str
    event_hash: str = Field(description="CBV 2.0 hash of the EPCIS event, as recorded on chain")
    tx_hash: str
    block: int
    gas_used: int


class BatchRecalled(_Result):
    """A batch recalled; everything made from it reads as recalled too."""

    batch_id: str
    recalled: bool
    reason_hash: str = Field(description="SHA-256 of the reason, as recorded on chain")
    tx_hash: str
    anchored_root: str | None


class RoleChanged(_Result):
    """A registry role granted or revoked."""

    role: str
    account: str
    granted: bool
    tx_hash: str
