"""`trace verify`: check a scanned code against the chain itself, not through anyone's HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from qr import digital_link
from qr.errors import QRError
from qr.signing import recover_signer, split_signature
from trace_api.domain import batch_key
from trace_api.errors import ValidationError, VerificationFailed
from trace_api.services import history, resolver
from trace_api.services.context import TraceContext


class Check(BaseModel):
    """One check of a code: what was checked, whether it held, and what was found."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    check: str
    ok: bool
    detail: str


class Verdict(BaseModel):
    """Every check made of a scanned code, in order; ``genuine`` when all of them held."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    uri: str
    genuine: bool
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return self.genuine

    def raise_if_failed(self) -> None:
        failed = [c for c in self.checks if not c.ok]
        if failed:
            raise VerificationFailed(f"{failed[0].check}: {failed[0].detail}", verdict=self.model_dump(mode="json"))


class _Checks:
    """The checks made so far of one code."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.made: list[Check] = []

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.made.append(Check(check=name, ok=ok, detail=detail))

    def verdict(self) -> Verdict:
        return Verdict(uri=self.uri, genuine=all(c.ok for c in self.made), checks=self.made)


def parse_code(uri: str) -> tuple[digital_link.DigitalLink, str | None]:
    plain, signature = split_signature(uri.strip())
    try:
        link = digital_link.parse(plain)
    except QRError as exc:
        raise ValidationError(f"not a GS1 Digital Link: {exc}") from exc
    if link.gtin is None:
        raise ValidationError(
            f"the code identifies AI {link.primary} {link.key}, not a trade item (AI 01 GTIN); "
            "trace verifies GTIN + lot codes"
        )
    if link.lot is None:
        raise ValidationError("the code names no lot (AI 10); cannot find its batch")
    return link, signature


def verify_offline(uri: str, *, producer: str) -> Verdict:
    """Signature only: the code must be signed by the given producer address."""
    link, signature = parse_code(uri)
    verdict = _Checks(uri.split("#")[0])
    if signature is None:
        verdict.add("signature", False, "the code carries no signature (#sig=…)")
        return verdict.verdict()
    try:
        _, signer = recover_signer(uri)
    except QRError as exc:
        verdict.add("signature", False, str(exc))
        return verdict.verdict()
    verdict.add("signature", signer.lower() == producer.lower(), f"signed by {signer}")
    return verdict.verdict()


def verify_online(ctx: TraceContext, uri: str) -> Verdict:
    link, signature = parse_code(uri)
    key = batch_key(link.gtin, link.lot or "")
    verdict = _Checks(uri.split("#")[0])
    exists = bool(ctx.chain.view(ctx.chain.ref("TraceRegistry"), "exists", key.id))
    verdict.add("batch", exists, f"batch {key.gtin}/{key.lot} " + ("is registered" if exists else "is not on chain"))
    if not exists:
        return verdict.verdict()
    data = history.history(ctx, gtin=key.gtin, lot=key.lot)
    chain = data.hash_chain
    verdict.add(
        "hash chain",
        chain.ok,
        f"{chain.events_on_chain} events recomputed to the on-chain head"
        if chain.ok
        else "the indexed events do not recompute to the on-chain head",
    )
    bad = [e for e in data.timeline if e.status == "mismatch"]
    pending = [e for e in data.timeline if e.status == "pending"]
    merkle = [e for e in data.timeline if e.how == "merkle"]
    total = len(data.timeline)
    if bad:
        verdict.add("events", False, bad[0].reason or "mismatch")
    elif pending:
        verdict.add("events", False, f"{len(pending)} of {total} events are pending: captured, not on chain yet")
    else:
        verdict.add("events", True, f"{total} of {total} events match the chain ({len(merkle)} by Merkle proof)")
    undisclosed = data.undisclosed
    verdict.add(
        "timeline",
        not undisclosed,
        "every on-chain step has its details" if not undisclosed else history.undisclosed_note(len(undisclosed)),
    )
    verdict.add(
        "recall",
        not data.recalled,
        "not recalled" if not data.recalled else "RECALLED (the batch or a batch it was made from)",
    )
    if link.serial is not None:
        state = resolver.unit_status(ctx, key, link.serial, data)
        verdict.add(
            "unit",
            state == "known",
            f"serial {link.serial} "
            + {
                "known": "was commissioned by the batch's registrant (verified on chain)",
                "pending": "is captured, but its commissioning is not on chain yet",
            }.get(state, "was never issued"),
        )
    if signature is not None:
        try:
            checked = resolver.check_signature(ctx, uri=uri.split("#")[0], signature=signature)
            verdict.add("signature", checked.trusted, checked.detail)
        except VerificationFailed as exc:
            verdict.add("signature", False, str(exc))
    return verdict.verdict()
