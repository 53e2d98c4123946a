from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from trace_api.http.deps import ChainDep

router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    """The service is up and its chain answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    status: str = Field(examples=["ok"])
    chain_id: int
    block: int = Field(description="The chain's latest block number")


@router.get("/health", response_model=HealthPublic, responses={503: {"description": "chain unavailable"}})
def health(chain: ChainDep) -> HealthPublic:
    return HealthPublic(status="ok", chain_id=chain.chain_id, block=chain.block_number())
