"""EPCIS 2.0 REST bindings (GS1's OpenAPI document): event resources, top-level resources and named queries.

Every response carries ``GS1-EPCIS-Version`` and ``GS1-CBV-Version``. Results are EPCIS query documents whose
events each carry an ``eventID`` (the event's own, or its CBV 2.0 Event Hash ID). Paging: ``perPage`` and the
``nextPageToken`` that the ``Link: <…>; rel="next"`` header gives.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, Field

from trace_api.epcis import EPCIS_CONTEXT, EVENT_TYPES
from trace_api.errors import NotFoundError, ValidationError
from trace_api.http.deps import CallerDep, CtxDep, RateLimited
from trace_api.services import epcis_query

EPCIS_VERSION = "2.0.0"
CBV_VERSION = "2.0.0"
MAX_PER_PAGE = 1000


def _versions(response: Response) -> None:
    response.headers["GS1-EPCIS-Version"] = EPCIS_VERSION
    response.headers["GS1-CBV-Version"] = CBV_VERSION


router = APIRouter(tags=["epcis-rest"], dependencies=[Depends(_versions), RateLimited])
PerPage = Annotated[int, Query(alias="perPage", ge=1, le=MAX_PER_PAGE)]
PageToken = Annotated[str | None, Query(alias="nextPageToken", pattern=r"^\d{1,9}$")]


class QueryDefinition(BaseModel):
    name: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.~-]+$")
    query: dict[str, Any]


def _page(ctx: Any, request: Request, response: Response, query: dict[str, Any], per_page: int, token: str | None,
          name: str | None = None) -> dict[str, Any]:  # fmt: skip
    offset = int(token or 0)
    events, more = epcis_query.run_query(ctx.engine, query, limit=per_page, offset=offset)
    if more:
        nxt = request.url.include_query_params(nextPageToken=str(offset + per_page), perPage=str(per_page))
        response.headers["Link"] = f'<{nxt}>; rel="next"'
    return epcis_query.query_document(events, name=name)


@router.get("/eventTypes")
def event_types() -> dict[str, Any]:
    """The EPCIS event types this repository captures and queries."""
    return {"@context": [EPCIS_CONTEXT], "type": "Collection", "member": list(EVENT_TYPES)}


@router.get("/events/{event_id:path}")
def event_by_id(event_id: str, ctx: CtxDep, request: Request, response: Response) -> dict[str, Any]:
    """One event by its eventID: the ID it was captured with, its Event Hash ID, or its 0x hash."""
    document = _page(ctx, request, response, {"EQ_eventID": [event_id]}, 1, None)
    if not document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]:
        raise NotFoundError(f"no event {event_id}")
    return document


@router.get("/eventTypes/{event_type}/events")
def events_of_type(event_type: str, ctx: CtxDep, request: Request, response: Response, per_page: PerPage = 30,
                   token: PageToken = None) -> dict[str, Any]:  # fmt: skip
    return _page(ctx, request, response, {"eventType": [event_type]}, per_page, token)


@router.get("/epcs/{epc:path}/events")
def events_of_epc(epc: str, ctx: CtxDep, request: Request, response: Response, per_page: PerPage = 30,
                  token: PageToken = None) -> dict[str, Any]:  # fmt: skip
    """Events naming this EPC or class in any form (EPC URN or Digital Link)."""
    return _page(ctx, request, response, {"MATCH_epc": [epc]}, per_page, token)


@router.get("/bizSteps/{biz_step}/events")
def events_of_biz_step(biz_step: str, ctx: CtxDep, request: Request, response: Response, per_page: PerPage = 30,
                       token: PageToken = None) -> dict[str, Any]:  # fmt: skip
    return _page(ctx, request, response, {"EQ_bizStep": [biz_step]}, per_page, token)


@router.get("/bizLocations/{location:path}/events")
def events_at_biz_location(location: str, ctx: CtxDep, request: Request, response: Response,
                           per_page: PerPage = 30, token: PageToken = None) -> dict[str, Any]:  # fmt: skip
    return _page(ctx, request, response, {"EQ_bizLocation": [location]}, per_page, token)


@router.get("/readPoints/{read_point:path}/events")
def events_at_read_point(read_point: str, ctx: CtxDep, request: Request, response: Response,
                         per_page: PerPage = 30, token: PageToken = None) -> dict[str, Any]:  # fmt: skip
    return _page(ctx, request, response, {"EQ_readPoint": [read_point]}, per_page, token)


@router.get("/dispositions/{disposition}/events")
def events_of_disposition(disposition: str, ctx: CtxDep, request: Request, response: Response,
                          per_page: PerPage = 30, token: PageToken = None) -> dict[str, Any]:  # fmt: skip
    return _page(ctx, request, response, {"EQ_disposition": [disposition]}, per_page, token)


@router.post("/queries", status_code=status.HTTP_201_CREATED, response_model=epcis_query.NamedQuery)
def create_query(
    definition: QueryDefinition, ctx: CtxDep, caller: CallerDep, response: Response
) -> epcis_query.NamedQuery:
    """Store a named query (its parameters are checked first); 409 when the name is taken."""
    stored = epcis_query.create_named_query(
        ctx.engine, name=definition.name, query=definition.query, organisation=caller.organisation
    )
    response.headers["Location"] = f"/queries/{quote(stored.name)}"
    return stored


@router.get("/queries", response_model=list[epcis_query.NamedQuery])
def list_queries(ctx: CtxDep) -> list[epcis_query.NamedQuery]:
    return epcis_query.named_queries(ctx.engine)


@router.get("/queries/{name}", response_model=epcis_query.NamedQuery)
def get_query(name: str, ctx: CtxDep) -> epcis_query.NamedQuery:
    return epcis_query.named_query(ctx.engine, name)


@router.delete("/queries/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_query(name: str, ctx: CtxDep, caller: CallerDep) -> None:
    epcis_query.delete_named_query(ctx.engine, name)


@router.get("/queries/{name}/events")
def run_named_query(name: str, ctx: CtxDep, request: Request, response: Response, per_page: PerPage = 30,
                    token: PageToken = None) -> dict[str, Any]:  # fmt: skip
    return _page(ctx, request, response, epcis_query.named_query(ctx.engine, name).query, per_page, token, name=name)


def capture_error_behaviour(request: Request) -> None:
    """``GS1-Capture-Error-Behaviour``: captures here are all or nothing (``rollback``, the default)."""
    value = request.headers.get("GS1-Capture-Error-Behaviour", "rollback").strip().lower()
    if value != "rollback":
        raise ValidationError(
            f"GS1-Capture-Error-Behaviour {value!r} is not supported: a capture here is all or "
            "nothing (rollback); send the valid events in a document of their own"
        )
