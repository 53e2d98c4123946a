"""What the scan page checks from the browser: a Digital Link signature (``POST /verify/signature``, sent in the
body, never the URL) and the bytes of a public document an event cites (``GET /documents/{sha256}``), whose
SHA-256 the page computes itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field

from qr import digital_link
from qr.errors import DigitalLinkError
from trace_api.errors import ForbiddenError, NotFoundError
from trace_api.http.deps import CtxDep, rate_limit
from trace_api.http.problems import problem, problem_responses
from trace_api.services import documents, resolver

router = APIRouter(tags=["resolver"], dependencies=[Depends(rate_limit)])


class SignatureCheck(BaseModel):
    uri: str = Field(max_length=2048)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


@router.options(
    "/verify/signature",
    status_code=204,
    summary="CORS preflight for the signature check",
    responses={204: {"description": "No content"}},
)
def verify_signature_options() -> Response:
    return Response(status_code=204, headers={"Allow": "POST, OPTIONS"})


@router.post(
    "/verify/signature",
    summary="Check a Digital Link signature (sent in the body, never the URL)",
    response_model=resolver.SignatureVerdict,
    responses=problem_responses(400),
)
def verify_signature(body: SignatureCheck, ctx: CtxDep) -> resolver.SignatureVerdict | Response:
    try:
        digital_link.parse(body.uri)
    except DigitalLinkError as exc:
        return problem(400, "BadDigitalLink", str(exc))
    return resolver.check_signature(ctx, uri=body.uri, signature=body.signature)


# Served as they were attached, but never as something a browser would run: only these types keep their own.
INERT_TYPES = frozenset({"application/pdf", "text/plain", "image/png", "image/jpeg", "image/webp"})
Sha256 = Annotated[str, PathParam(pattern=r"^0x[0-9a-f]{64}$", description="The document's SHA-256, as cited")]


DOCUMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The document's bytes, as an attachment",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in sorted({*INERT_TYPES, "application/octet-stream"})
        },
    },
    **problem_responses(403, 404),
}


@router.get(
    "/documents/{sha256}",
    summary="A public document cited by an event (its SHA-256 is under the event's hash on chain)",
    response_class=Response,
    responses=DOCUMENT_RESPONSES,
)
def document(sha256: Sha256, ctx: CtxDep) -> Response:
    """The scan page downloads a certificate here and checks its SHA-256 in the browser. Private documents are
    for their counterparties only (403): they read them through the authenticated API."""
    try:
        media_type, body = documents.read(ctx, sha256, reader=None)
    except ForbiddenError as exc:
        return problem(403, "ForbiddenError", str(exc))
    except NotFoundError as exc:
        return problem(404, "NotFoundError", str(exc))
    return Response(
        body,
        media_type=media_type if media_type in INERT_TYPES else "application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{sha256[2:18]}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )
