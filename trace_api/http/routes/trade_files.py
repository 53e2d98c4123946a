"""A trade's files and statement: trade documents (attach with an API key), downloads for the trade's buyer,
seller and arbiter only, and the statement of every movement of its money (CSV or PDF)."""

from __future__ import annotations

import base64
import binascii
import re
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from trace_api.errors import ValidationError
from trace_api.http.deps import CallerDep, CtxDep, RateLimited
from trace_api.services.escrow import files as trade_files
from trace_api.services.escrow import statements

router = APIRouter(prefix="/escrow", tags=["escrow"])

TradeId = Annotated[int, Path(ge=1, description="Trade id")]
FileRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=66,
        pattern=r"^(0x)?[0-9a-fA-F]+$",
        description="The file's number in the trade's `files`, or its SHA-256 (or a prefix of at least 8 hex digits)",
    ),
]
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


class DocumentCreate(BaseModel):
    kind: Literal["commercial-invoice", "packing-list", "bill-of-lading", "certificate-of-origin"]
    name: str = Field(min_length=1, max_length=200, examples=["BL-MSCU1234567.pdf"])
    content_base64: str = Field(min_length=1, description="The file, base64-encoded")


@router.post(
    "/trades/{trade_id}/documents", status_code=status.HTTP_201_CREATED, response_model=trade_files.EvidenceFiled
)
def add_document(trade_id: TradeId, body: DocumentCreate, ctx: CtxDep, caller: CallerDep) -> trade_files.EvidenceFiled:
    """Attach a trade document: its SHA-256 on chain, the file stored encrypted for the trade's parties and
    arbiter. The caller's account must be the buyer or the seller."""
    try:
        data = base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("content_base64 is not valid base64") from exc
    name = _SAFE_NAME.sub("_", FilePath(body.name).name) or "document"
    with tempfile.TemporaryDirectory() as folder:
        path = FilePath(folder) / name
        path.write_bytes(data)
        return trade_files.add_document(ctx, account=caller.account, trade_id=trade_id, kind=body.kind, path=path)


@router.get(
    "/trades/{trade_id}/files/{ref}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
def get_file(trade_id: TradeId, ref: FileRef, ctx: CtxDep, caller: CallerDep) -> Response:
    """Download a trade's file (reason, evidence or document): the caller's account must be the trade's buyer,
    seller or arbiter. The content is checked against its hash on chain (`X-Content-SHA256`)."""
    found = trade_files.read_file(ctx, trade_id=trade_id, ref=ref, reader=caller.account.address)
    name = _SAFE_NAME.sub("_", found.name)
    return Response(
        found.data,
        media_type=found.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-SHA256": found.sha256,
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/trades/{trade_id}/statement",
    dependencies=[RateLimited],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/pdf": {}}, "description": "The statement"}},
)
def get_statement(
    trade_id: TradeId,
    ctx: CtxDep,
    request: Request,
    format: Annotated[Literal["csv", "pdf"] | None, Query(description="Default: by Accept, else csv")] = None,
) -> Response:
    """Every movement of the trade's money from the chain's logs, with block, time, transaction, token amount and
    invoice-currency amount. The amounts are public on chain, so is the statement."""
    fmt = format or ("pdf" if "application/pdf" in request.headers.get("accept", "") else "csv")
    media_type, data = statements.render(statements.statement(ctx, trade_id=trade_id), fmt)
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="statement-trade-{trade_id}.{fmt}"'},
    )
