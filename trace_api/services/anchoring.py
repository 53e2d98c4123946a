"""`trace anchor`: finish everything an account left pending, in the order that makes each step's input ready.

Above both the capture pipeline and the event writer, which it drives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from trace_api.services import events as ev
from trace_api.services import roots
from trace_api.services.captures import resume
from trace_api.services.context import TraceContext

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount


class AnchorReport(BaseModel):
    """What `trace anchor` finished."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    captures_resumed: int = Field(description="EPCIS captures a stopped server had accepted, now imported")
    direct_events: int = Field(description="Lifecycle events recorded on chain")
    roots_built: int = Field(description="Merkle roots built over pending events")
    roots_anchored: list[str] = Field(description="Merkle roots anchored on chain")


def anchor(ctx: TraceContext, *, account: LocalAccount, batch_size: int | None = None) -> AnchorReport:
    """`trace anchor`: finish what ``account`` left pending: captures a dead server accepted, lifecycle events,
    events whose transaction is now indexed, roots to build, roots to send."""
    resumed = resume(ctx, account=account)
    direct = ev.send_direct(ctx, account=account)
    ev.resolve_awaiting(ctx)
    built = roots.build_pending_roots(
        ctx, account=account.address, batch_size=batch_size or ctx.settings.anchor_batch_size
    )
    sent = roots.send_roots(ctx, account=account)
    ctx.sync()
    return AnchorReport(captures_resumed=resumed, direct_events=direct, roots_built=built, roots_anchored=sent)
