"""Who is who: organisations behind accounts (read by anyone, vouched for by a registry admin's key) and token
balances."""

from __future__ import annotations

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from trace_api.http.deps import CallerDep, CtxDep, RateLimited
from trace_api.services import orgs, wallets

router = APIRouter(tags=["parties"])

ACCOUNT = Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="An account address")


class OrgCreate(BaseModel):
    account: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="The organisation's account")
    profile: orgs.OrgProfile


@router.get("/orgs", dependencies=[RateLimited], response_model=list[orgs.Organisation])
def list_orgs(ctx: CtxDep) -> list[orgs.Organisation]:
    """Every organisation profile this service holds, each checked against the chain (`verified`)."""
    return orgs.list_all(ctx)


@router.get("/orgs/{account}", dependencies=[RateLimited], response_model=orgs.Organisation)
def show_org(ctx: CtxDep, account: str = ACCOUNT) -> orgs.Organisation:
    """An account's organisation, and whether the chain holds exactly its profile's hash."""
    return orgs.show(ctx, account=account)


@router.post("/orgs", status_code=status.HTTP_201_CREATED, response_model=orgs.Organisation)
def register_org(body: OrgCreate, ctx: CtxDep, caller: CallerDep) -> orgs.Organisation:
    """Vouch for an organisation profile (the key's account must be a registry admin; 409 otherwise)."""
    return orgs.register(ctx, signer=caller.account, account=body.account, profile=body.profile)


@router.get("/tokens/{token}/balances/{account}", dependencies=[RateLimited], response_model=wallets.TokenBalance)
def token_balance(
    ctx: CtxDep,
    token: str = Path(max_length=42, description="USDC, EURC (deployment symbols), a token address, or ETH"),
    account: str = ACCOUNT,
) -> wallets.TokenBalance:
    """An account's balance of one token, in token units."""
    return wallets.balance(ctx, account=account, token=token)
