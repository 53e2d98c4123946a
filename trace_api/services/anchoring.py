"""`trace anchor`: finish everything an account left pending, in the order that makes each step's input ready.

Above both the capture pipeline and the event writer, which it drives."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trace_api.services import events as ev
from trace_api.services.captures import resume
from trace_api.services.context import TraceContext

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount


def anchor(ctx: TraceContext, *, account: LocalAccount, batch_size: int | None = None) -> dict[str, Any]:
    """`trace anchor`: finish what ``account`` left pending: captures a dead server accepted, lifecycle events,
    events whose transaction is now indexed, roots to build, roots to send."""
    resumed = resume(ctx, account=account)
    direct = ev.send_direct(ctx, account=account)
    ev.resolve_awaiting(ctx)
    built = ev.build_pending_roots(
        ctx, account=account.address, batch_size=batch_size or ctx.settings.anchor_batch_size
    )
    sent = ev.send_roots(ctx, account=account)
    ctx.sync()
    return {"captures_resumed": resumed, "direct_events": direct, "roots_built": built, "roots_anchored": sent}
