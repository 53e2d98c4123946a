"""GS1 Digital Link resolver: /01/{gtin}/10/{lot}[/21/{serial}] by Accept header, link sets, description file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from qr import digital_link
from trace_api.epcis import export_document
from trace_api.errors import NotFoundError, ValidationError
from trace_api.http.deps import CtxDep, client_host, rate_limit
from trace_api.http.jsonio import FiniteJSONResponse as JSONResponse  # stored NaN answers null, not 500
from trace_api.http.privacy import get_viewer, hide_private_documents, shown
from trace_api.http.problems import PROBLEM_JSON, PROBLEM_REF, problem, problem_responses
from trace_api.services import history, resolver
from trace_api.services.context import TraceContext

# Public routes, each request spends one of the client's tokens (429 when they run out).
router = APIRouter(tags=["resolver"], dependencies=[Depends(rate_limit)])
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))


def _when(value: str | None) -> str:
    """An EPCIS eventTime as people read it: 20 Nov 2026, 17:07 UTC."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)
    except ValueError:
        return value
    return moment.strftime("%-d %b %Y, %H:%M UTC")


templates.env.filters["when"] = _when

LINKSET = "application/linkset+json"
JSONLD = "application/ld+json"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _wanted(request: Request) -> str:
    """The representation asked for: the first of ours named in Accept (no q-value games), HTML by default."""
    if request.query_params.get("linkType") == "all":
        return LINKSET
    accept = request.headers.get("accept", "")
    for media in (part.split(";")[0].strip() for part in accept.split(",")):
        if media in (LINKSET, JSONLD, "application/json", "text/html"):
            return media
    return "text/html"


def _page(request: Request, ctx: TraceContext, data: dict[str, Any], status: int) -> HTMLResponse:
    names = data.get("names", {})
    places = data.get("metadata", {}).get("places", {})

    def who(address: str | None) -> str:
        if not address:
            return "unknown"
        name = names.get(address.lower())
        return f"{name} ({address[:6]}…{address[-4:]})" if name else f"{address[:6]}…{address[-4:]}"

    def place(where: str) -> str:
        gln = where.rsplit("/", 1)[-1]
        return f"{places[gln]} (GLN {gln})" if gln in places else f"GLN {gln}"

    record = ctx.chain.deployment()
    context = {
        "title": f"{data.get('metadata', {}).get('product', 'Product')} — {data['verdict']['title']}",
        "found": data.get("registered", False), "who": who, "place": place, "js_note": True,
        "chain_id": ctx.chain.chain_id, "registry": record.address("TraceRegistry"),
        "canonical_uri": data["canonical_uri"], **data,
    }
    return templates.TemplateResponse(request, "verify.html", context, status_code=status)


def _not_found(gtin: str, lot: str, serial: str | None) -> dict[str, Any]:
    return {
        "registered": False, "gtin": gtin, "lot": lot, "serial": serial, "metadata": {}, "timeline": [],
        "steps": [], "sensors": None, "verified_events": 0,
        "hash_chain": None, "verdict": {"level": "counterfeit", "title": "Could not verify — possible counterfeit",
                                        "detail": "No producer registered this code on chain."},
    }


def _resolve(request: Request, ctx: TraceContext, gtin: str, lot: str, serial: str | None) -> Response:
    wanted = _wanted(request)
    link_type = request.query_params.get("linkType")
    if wanted == LINKSET:
        body = resolver.linkset(_base(request), gtin=gtin, lot=lot, serial=serial)
        return JSONResponse(body, media_type=LINKSET)
    if link_type and link_type != "all":
        return RedirectResponse(resolver.link_target(_base(request), link_type, gtin=gtin, lot=lot, serial=serial),
                                status_code=307)
    key, serial = resolver.parse_key(gtin, lot, serial)
    canonical = f"https://id.gs1.org{digital_link.key_path(key.gtin, key.lot)}" + (f"/21/{serial}" if serial else "")
    if wanted == JSONLD:
        document = shown(ctx.settings, get_viewer(request), key.id_hex, export_document(history.events_of(ctx, key)))
        return JSONResponse(document, media_type=JSONLD)
    try:
        data = resolver.summary(ctx, gtin=key.gtin, lot=key.lot, serial=serial,
                                place=resolver.place_of(client_host(request, ctx.settings)))
    except NotFoundError:
        if wanted != "text/html":
            raise
        data = _not_found(key.gtin, key.lot, serial)
    data["canonical_uri"] = canonical
    counterfeit = data["verdict"]["level"] == "counterfeit"
    status = 404 if counterfeit else 200
    if wanted == "text/html":  # the public page: private documents hidden, whoever opens it
        return _page(request, ctx, hide_private_documents(data), status)
    data.pop("names", None)
    return JSONResponse(shown(ctx.settings, get_viewer(request), key.id_hex, data), status_code=status)


def _checked(request: Request, ctx: TraceContext, gtin: str, lot: str, serial: str | None) -> Response:
    """A malformed Digital Link (bad check digit, bad lot) is a bad request, 400, not a missing product."""
    try:
        resolver.parse_key(gtin, lot, serial)
    except ValidationError as exc:
        return problem(400, "BadDigitalLink", str(exc))
    return _resolve(request, ctx, gtin, lot, serial)


_OBJECT = {"schema": {"type": "object"}}
_HTML = {"schema": {"type": "string"}}
RESOLVE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The verified story: an HTML page (default), a JSON summary, the EPCIS events "
                         "(JSON-LD) or the link set, by Accept header (or linkType=all)",
          "content": {"text/html": _HTML, "application/json": _OBJECT, JSONLD: _OBJECT, LINKSET: _OBJECT}},
    307: {"description": "Redirect to the link of the requested linkType",
          "headers": {"Location": {"schema": {"type": "string"}}}},
    **problem_responses(400),
    404: {"description": "Not registered, or a serial never issued: the possible-counterfeit page or JSON "
                         "verdict; problem+json for the other representations",
          "content": {"text/html": _HTML, "application/json": _OBJECT,
                      PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}},
}
LinkType = Annotated[str | None, Query(alias="linkType", max_length=64,
                                       description="A GS1 link type (gs1:pip, gs1:traceability, ...) or `all`")]


@router.get("/01/{gtin}/10/{lot}", summary="Resolve a batch", responses=RESOLVE_RESPONSES)
def resolve_batch(gtin: str, lot: str, request: Request, ctx: CtxDep, link_type: LinkType = None) -> Response:
    return _checked(request, ctx, gtin, lot, None)


@router.get("/01/{gtin}/10/{lot}/21/{serial}", summary="Resolve a unit", responses=RESOLVE_RESPONSES)
def resolve_unit(gtin: str, lot: str, serial: str, request: Request, ctx: CtxDep,
                 link_type: LinkType = None) -> Response:
    return _checked(request, ctx, gtin, lot, serial)


@router.get("/.well-known/gs1resolver", summary="GS1-Conformant Resolver description file")
def well_known(request: Request) -> dict[str, Any]:
    return resolver.resolver_description(_base(request))


class SignatureCheck(BaseModel):
    uri: str = Field(max_length=2048)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


class SignaturePublic(BaseModel):
    signer: str
    producer: bool
    trusted: bool
    registrant: bool
    detail: str


@router.post("/verify/signature", summary="Check a Digital Link signature (sent in the body, never the URL)",
             response_model=SignaturePublic)
def verify_signature(body: SignatureCheck, ctx: CtxDep) -> dict[str, Any]:
    return resolver.check_signature(ctx, uri=body.uri, signature=body.signature)
