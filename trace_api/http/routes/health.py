from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from trace_api.http.deps import ChainDep

router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    status: str
    chain_id: int
    block: int


@router.get("/health", response_model=HealthPublic, responses={503: {"description": "chain unavailable"}})
def health(chain: ChainDep) -> HealthPublic:
    return HealthPublic(status="ok", chain_id=chain.chain_id, block=chain.block_number())
