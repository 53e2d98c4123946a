"""The GS1-conformant resolver: any Digital Link URI (compressed too), linksets, redirects, the verify page, CORS."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from qr import digital_link
from qr.errors import DigitalLinkError
from trace_api.epcis import export_document
from trace_api.errors import NotFoundError, ValidationError
from trace_api.http import cache as http_cache
from trace_api.http import cors, i18n, page
from trace_api.http.deps import CtxDep, client_host, rate_limit
from trace_api.http.jsonio import FiniteJSONResponse as JSONResponse  # stored NaN answers null, not 500
from trace_api.http.privacy import Viewer, get_viewer, hide_private_documents, shown
from trace_api.http.problems import PROBLEM_JSON, PROBLEM_REF, problem, problem_responses
from trace_api.services import history, linksets, resolver
from trace_api.services.context import TraceContext
from trace_api.services.scans import ScanFacts

# Public routes, each request spends one of the client's tokens (429 when they run out).
router = APIRouter(tags=["resolver"], dependencies=[Depends(rate_limit)])
# Compressed Digital Link URIs are one path segment: the app includes this router last, after every other route.
compressed_router = APIRouter(tags=["resolver"], dependencies=[Depends(rate_limit)])
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))


LINKSET = "application/linkset+json"
JSONLD = "application/ld+json"
JSON = "application/json"
HTML = "text/html"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _wanted(request: Request) -> str | None:
    """The representation asked for: the first of ours named in Accept (no q-value games); None for ``*/*``."""
    accept = request.headers.get("accept", "")
    for media in (part.split(";")[0].strip() for part in accept.split(",")):
        if media in (LINKSET, JSONLD, JSON, HTML):
            return media
    return None


def _lang(request: Request) -> i18n.Lang:
    return i18n.Lang(i18n.negotiate(request.query_params.get("lang"), request.headers.get("accept-language")))


def _render(request: Request, name: str, context: dict[str, Any], status: int) -> HTMLResponse:
    """A page in the reader's language, with the switch to the other one (the same URL with ?lang=)."""
    lang = _lang(request)
    switch = [
        {"tag": tag, "name": i18n.NAMES[tag], "href": f"{request.url.path}?{urlencode({'lang': tag})}"}
        for tag in i18n.LANGUAGES
        if tag != lang.tag
    ]
    response = templates.TemplateResponse(
        request, name, {**context, **page.helpers(lang), "languages": switch}, status_code=status
    )
    response.headers["Content-Language"] = lang.tag
    response.headers["Vary"] = "Accept, Accept-Language"
    return response


def _page(request: Request, ctx: TraceContext, data: dict[str, Any], status: int) -> HTMLResponse:
    record = ctx.chain.deployment()
    gtin, lot = data["gtin"], data["lot"]
    context = {
        "found": data.get("registered", False) and "journey" in data,
        "chain_id": ctx.chain.chain_id,
        "registry": record.address("TraceRegistry"),
        "data": data,
        "json_href": f"/batches/{gtin}/{quote(lot, safe='')}/history",
        "epcis_href": f"/events?gtin={gtin}&lot={quote(lot, safe='')}",
    }
    return _render(request, "verify.html", context, status)


def html_error(request: Request, status: int, detail: str) -> HTMLResponse:
    """The resolver's error for a person (a browser asked for text/html): what happened, in their language."""
    return _render(request, "error.html", {"status": status, "detail": detail}, status)


def _content(
    request: Request,
    ctx: TraceContext,
    link: digital_link.DigitalLink,
    wanted: str,
    scanned: list[tuple[str, str]],
    place: str,
) -> Response:
    """What the resolver serves itself for a batch or unit: the verify page, the JSON summary, or the EPCIS events.
    A unit's page or summary is a scan of it: appended to ``scanned``, to be counted on every answer."""
    key, serial = resolver.parse_key(link.gtin or "", link.lot or "", link.serial)
    if wanted == JSONLD:
        document = shown(ctx.settings, get_viewer(request), key.id_hex, export_document(history.events_of(ctx, key)))
        return JSONResponse(document, media_type=JSONLD)
    try:
        answer = resolver.summary(ctx, gtin=key.gtin, lot=key.lot, serial=serial, place=place)
        if serial is not None:
            scanned.append((key.id_hex, serial))
    except NotFoundError:
        if wanted != HTML:
            raise
        answer = resolver.counterfeit(
            key.gtin,
            key.lot,
            serial,
            registered=False,
            product=None,
            detail="No producer registered this code on chain.",
        )
    data = {**answer.as_json(), "canonical_uri": f"{digital_link.CANONICAL_DOMAIN}{link.path}"}
    status = 404 if answer.verdict.level == "counterfeit" else 200
    if wanted == HTML:  # the public page: private documents hidden, whoever opens it
        return _page(request, ctx, hide_private_documents(data), status)
    return JSONResponse(_for_viewer(ctx, get_viewer(request), key.id_hex, data), status_code=status)


def _for_viewer(ctx: TraceContext, viewer: Viewer, batch_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as ``viewer`` may see it: the journey's upstream batches each by their own parties, so handling a
    product never reveals the private documents of what it was made from. Builds new dicts: ``data`` may be
    shared (cached) and is never changed."""
    data = shown(ctx.settings, viewer, batch_id, data)
    trip = data.get("journey")
    if not trip:
        return data
    groups = [g if g["depth"] == 0 else shown(ctx.settings, viewer, g["batch_id"], g) for g in trip["groups"]]
    return {**data, "journey": {**trip, "groups": groups}}


def _error(request: Request, status: int, kind: str, detail: str) -> Response:
    """problem+json, or the page of the error in the reader's language when a browser asked for HTML."""
    return html_error(request, status, detail) if _wanted(request) == HTML else problem(status, kind, detail)


@functools.lru_cache(maxsize=4096)
def _parse(uri: str) -> digital_link.DigitalLink:
    """``digital_link.parse``, remembered: parsing costs more than serving a kept answer (a rush repeats URIs).
    A DigitalLink is frozen; its query dict is only read here."""
    return digital_link.parse(uri)


def _request_uri(request: Request, *, strip: str = "") -> str:
    """The request URI as sent, path still percent-encoded (``/`` inside a lot stays ``%2F``)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1").split("?", 1)[0].removeprefix(strip)
    query = request.url.query
    return f"{request.url.scheme}://{request.url.netloc}{path}" + (f"?{query}" if query else "")


def _passed_on(href: str, request: Request, link: digital_link.DigitalLink, compressed: bool) -> str:
    """``href`` with the request's query string appended: every key=value pair is passed on when redirecting."""
    query = urlencode(list(link.query.items()), quote_via=quote) if compressed else request.url.query
    if not query:
        return href
    target, _, fragment = href.partition("#")
    return f"{target}{'&' if '?' in target else '?'}{query}" + (f"#{fragment}" if fragment else "")


Build = Callable[[Request, list[tuple[str, str]], str], Response]


async def _cached(
    request: Request, ctx: TraceContext, link: digital_link.DigitalLink, kind: str, build: Build
) -> Response:
    """A GET or HEAD answer of the resolver through ``http.cache``, in the thread pool (building may block). Once
    kept, ``http.cache.FrontCache`` sends it again before routing, as long as it stays current."""
    return await run_in_threadpool(_answer, request, ctx, link, kind, build)


def _remember(request: Request, kind: str, unit: tuple[str, str] | None, key: Hashable | None) -> None:
    """Tell the front cache how to serve this request's answer again without routing it."""
    request.app.state.front_routes.remember(request, http_cache.Route((kind, _wanted(request)), unit, key))


def _unit_of(link: digital_link.DigitalLink) -> tuple[str, str] | None:
    """(batch id, serial) of a unit's Digital Link, None for anything else (or a malformed one)."""
    if link.serial is None or link.gtin is None or link.lot is None:
        return None
    try:
        key, serial = resolver.parse_key(link.gtin, link.lot, link.serial)
    except ValidationError:
        return None
    return key.id_hex, serial or ""


def _variant(request: Request, kind: str, place: str, facts: ScanFacts | None) -> Hashable | None:
    # a unit's page shows its scans, this one included: part of its variant
    scans = tuple(resolver.scan_report(facts, place).model_dump().items()) if facts is not None else None
    return http_cache.variant(request, kind, _wanted(request), scans)


def _answer(request: Request, ctx: TraceContext, link: digital_link.DigitalLink, kind: str, build: Build) -> Response:
    """The index brought up to the chain (in the background when the server polls), the answer reused for its
    variant and index version, and, when it is a unit's page or summary, the scan queued for the background
    writer."""
    request.app.state.index_poller.poke(ctx.sync)
    place = resolver.place_of(client_host(request, ctx.settings))
    unit = _unit_of(link)

    def built() -> tuple[Response, tuple[str, str] | None]:
        scanned: list[tuple[str, str]] = []
        return build(http_cache.as_get(request), scanned, place), (scanned[0] if scanned else None)

    store = http_cache.pages(request, ctx.engine)
    facts = ctx.scans.facts(*unit) if unit is not None else None
    key = _variant(request, kind, place, facts)
    answer, scanned = http_cache.answer(request, built, store=store, version=store.version(), key=key)
    if scanned is not None:
        ctx.scans.record(scanned[0], scanned[1], place)
    _remember(request, kind, unit, key)
    return answer


async def _dl(request: Request, ctx: TraceContext, *, single_segment: bool = False) -> Response:
    """Resolve any GS1 Digital Link request (GET, HEAD, OPTIONS) as the GS1-Conformant Resolver standard says."""
    try:
        link = _parse(_request_uri(request))
    except DigitalLinkError as exc:
        if single_segment:  # a one-segment path that does not decompress was not meant for the resolver
            return cors.finish(request, _error(request, 404, "NotFoundError", f"{request.url.path} not found"))
        return cors.finish(request, _error(request, 400, "BadDigitalLink", str(exc)))
    if request.method == "OPTIONS":
        headers = cors.link_header(same_as=f"{_base(request)}{link.path}" if single_segment else None)
        return cors.finish(request, Response(status_code=204), headers)
    return await _cached(
        request, ctx, link, "dl", lambda get, scanned, place: _resolved(get, ctx, link, single_segment, scanned, place)
    )


def _resolved(
    request: Request,
    ctx: TraceContext,
    link: digital_link.DigitalLink,
    compressed: bool,
    scanned: list[tuple[str, str]],
    place: str,
) -> Response:
    """The whole GET answer for a Digital Link: linkset, redirect, or the item's own content."""
    base = _base(request)
    headers = cors.link_header(same_as=f"{base}{link.path}" if compressed else None)
    try:
        resolution: linksets.Resolution | None = linksets.resolve(ctx, base, link)
        missing = ""
    except NotFoundError as exc:
        resolution, missing = None, str(exc)
    if resolution is not None:
        headers = cors.link_header(
            linkset=f"{resolution.anchor}?linkType=linkset", same_as=f"{base}{link.path}" if compressed else None
        )
    link_type = link.query.get("linkType")
    wanted = _wanted(request)
    try:
        if link_type in ("linkset", "all") or (wanted == LINKSET and not link_type):
            if resolution is None:
                raise NotFoundError(missing)
            body = linksets.linkset(resolution)
            return cors.finish(request, JSONResponse(body, media_type=LINKSET), headers)
        if link_type:
            if resolution is None:
                raise NotFoundError(missing)
            target = linksets.link_target(resolution, link_type, request.headers.get("accept-language"))
            return cors.finish(request, RedirectResponse(_passed_on(target, request, link, compressed), 307), headers)
        if wanted is not None and wanted != LINKSET and link.gtin is not None and link.lot is not None:
            return cors.finish(request, _content(request, ctx, link, wanted, scanned, place), headers)
        if resolution is None:
            raise NotFoundError(missing)
        default = linksets.choose(resolution.links[f"{linksets.GS1_VOC}pip"], request.headers.get("accept-language"))
        return cors.finish(
            request, RedirectResponse(_passed_on(default["href"], request, link, compressed), 307), headers
        )
    except NotFoundError as exc:
        return cors.finish(request, _error(request, 404, "NotFoundError", str(exc)), headers)
    except ValidationError as exc:
        return cors.finish(request, _error(request, 400, "BadDigitalLink", str(exc)), headers)


_OBJECT = {"schema": {"type": "object"}}
_HTML = {"schema": {"type": "string"}}
RESOLVE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Served directly: the verify page (text/html), the JSON summary (application/json), the "
        "EPCIS events (application/ld+json), or the linkset (application/linkset+json or "
        "linkType=linkset)",
        "content": {HTML: _HTML, JSON: _OBJECT, JSONLD: _OBJECT, LINKSET: _OBJECT},
    },
    307: {
        "description": "Redirect to the link of the requested linkType, or to the default link; the query "
        "string is passed on",
        "headers": {"Location": {"schema": {"type": "string"}}, "Link": {"schema": {"type": "string"}}},
    },
    **problem_responses(400),
    404: {
        "description": "No links: an unknown GTIN, a serial never issued, a link type the item lacks; the "
        "possible-counterfeit page or JSON verdict for a batch or unit",
        "content": {HTML: _HTML, JSON: _OBJECT, PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    },
}
PrimaryKey = Annotated[str, PathParam(pattern=f"^{cors.PRIMARY_KEY}$", description="A GS1 primary key AI, e.g. 01")]
Compressed = Annotated[str, PathParam(pattern=f"^{cors.COMPRESSED}$", description="A compressed Digital Link URI path")]
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **problem_responses(400),
    404: {
        "description": "Not registered, or a serial never issued: the possible-counterfeit page; problem+json "
        "without a lot",
        "content": {HTML: _HTML, PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    },
}


@cors.also_head_and_options(router, "/{primary:gs1key}/{rest:path}", RESOLVE_RESPONSES)
@router.get("/{primary:gs1key}/{rest:path}", summary="Resolve a GS1 Digital Link URI", responses=RESOLVE_RESPONSES)
async def resolve_link(primary: PrimaryKey, rest: str, request: Request, ctx: CtxDep) -> Response:
    """Any GS1 Digital Link URI (all primary keys parse; links exist for GTINs, their lots and serials).

    `linkType` (query): `linkset`, or a GS1 link type such as `gs1:pip`, `gs1:traceability`, `gs1:epcis`."""
    return await _dl(request, ctx)


@cors.also_head_and_options(compressed_router, "/{blob:gs1compressed}", RESOLVE_RESPONSES)
@compressed_router.get(
    "/{blob:gs1compressed}", responses=RESOLVE_RESPONSES, summary="Resolve a compressed GS1 Digital Link URI"
)
async def resolve_compressed(blob: Compressed, request: Request, ctx: CtxDep) -> Response:
    return await _dl(request, ctx, single_segment=True)


@cors.also_head_and_options(router, "/verify/{primary:gs1key}/{rest:path}", PAGE_RESPONSES)
@router.get(
    "/verify/{primary:gs1key}/{rest:path}",
    response_class=HTMLResponse,
    summary="The verify page of a batch or unit (the default link of its Digital Link URI)",
    responses=PAGE_RESPONSES,
)
async def verify_page(primary: PrimaryKey, rest: str, request: Request, ctx: CtxDep) -> Response:
    try:
        link = _parse(_request_uri(request, strip="/verify"))
    except DigitalLinkError as exc:
        return cors.finish(request, _error(request, 400, "BadDigitalLink", str(exc)))
    if request.method == "OPTIONS":
        return cors.finish(request, Response(status_code=204))
    if link.gtin is None or link.lot is None:
        return cors.finish(request, _error(request, 404, "NotFoundError", "a verify page needs a GTIN and a lot"))

    def respond(get: Request, scanned: list[tuple[str, str]], place: str) -> Response:
        try:
            return cors.finish(get, _content(get, ctx, link, HTML, scanned, place))
        except ValidationError as exc:
            return cors.finish(get, _error(get, 400, "BadDigitalLink", str(exc)))

    return await _cached(request, ctx, link, "verify", respond)


@cors.also_head_and_options(router, "/products/{gtin}", problem_responses(400, 404))
@router.get("/products/{gtin}", summary="A GTIN's batches registered on chain", responses=problem_responses(400, 404))
def product(gtin: str, request: Request, ctx: CtxDep) -> Response:
    if request.method == "OPTIONS":
        return cors.finish(request, Response(status_code=204))
    request.app.state.index_poller.poke(ctx.sync)
    try:
        return cors.finish(request, JSONResponse(linksets.product(ctx, _base(request), gtin)))
    except ValidationError as exc:
        return cors.finish(request, problem(400, "ValidationError", str(exc)))
    except NotFoundError as exc:
        return cors.finish(request, problem(404, "NotFoundError", str(exc)))


@cors.also_head_and_options(router, "/.well-known/gs1resolver")
@router.get("/.well-known/gs1resolver", summary="GS1-Conformant Resolver description file")
def well_known(request: Request) -> Response:
    if request.method == "OPTIONS":
        return cors.finish(request, Response(status_code=204))
    return cors.finish(request, JSONResponse(linksets.resolver_description(_base(request))))
