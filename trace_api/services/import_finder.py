"""Which registered batches an imported event is about: the batches it names, and those its serialised items and
SSCCs belong to when the index knows them from earlier events."""

from __future__ import annotations

import json
from typing import Any

from trace_api.domain import BatchKey, batch_key
from trace_api.epcis.identifiers import subjects
from trace_api.errors import ValidationError
from trace_api.index import queries_imports as qi
from trace_api.services.context import TraceContext


class BatchFinder:
    """The batches an event is about: the batches it names (LGTIN, lot-level Digital Link), and the batches its
    serialised items (SGTIN) and SSCCs belong to, when the index knows them from earlier events. One finder serves
    both passes of an import, so both see the same answer."""

    def __init__(self, ctx: TraceContext | None) -> None:
        self.ctx = ctx
        self._found: dict[tuple[str, str], list[BatchKey]] = {}

    def keys(self, event: dict[str, Any]) -> list[BatchKey]:
        named = subjects(event)
        found: dict[str, BatchKey] = {}
        for gtin, lot in named.batches:
            try:
                key = batch_key(gtin, lot)
            except ValidationError:
                continue  # a valid EPC whose GTIN or lot this registry cannot hold: anchored, not tracked
            found[key.id_hex] = key
        for gtin, serial in named.items:
            found.update((k.id_hex, k) for k in self._lookup("item", gtin + "/" + serial))
        for sscc in named.ssccs:
            found.update((k.id_hex, k) for k in self._lookup("sscc", sscc))
        return list(found.values())

    def _lookup(self, kind: str, ref: str) -> list[BatchKey]:
        cached = self._found.get((kind, ref))
        if cached is None:
            cached = self._found[(kind, ref)] = self._query(kind, ref) if self.ctx is not None else []
        return cached

    def _query(self, kind: str, ref: str) -> list[BatchKey]:
        assert self.ctx is not None
        with self.ctx.engine.connect() as conn:
            if kind == "item":  # an event about the batch that named this serial: its commissioning, as a rule
                gtin, serial = ref.split("/", 1)
                rows = qi.item_candidates(conn, gtin, serial)
            else:  # an aggregation that packed the batch into this SSCC; the last serial digits stand together in
                # every form of the SSCC (URN or Digital Link)
                rows = qi.sscc_candidates(conn, ref[-5:-1])
        keys: dict[str, BatchKey] = {}
        for gtin, lot, body in rows:
            named = subjects(json.loads(body))
            hit = (
                tuple(ref.split("/", 1)) in named.items
                if kind == "item"
                else (ref in named.ssccs and _parent_sscc(json.loads(body)) == ref)
            )
            if hit:
                key = batch_key(gtin, lot)
                keys[key.id_hex] = key
        return list(keys.values())


def _parent_sscc(event: dict[str, Any]) -> str | None:
    parent = event.get("parentID")
    return (
        subjects({"parentID": parent}).ssccs[0]
        if isinstance(parent, str) and subjects({"parentID": parent}).ssccs
        else None
    )


def batch_names(keys: list[BatchKey]) -> str:
    """Batches as people know them: ``GTIN 09520123456788 lot L1``."""
    return ", ".join(f"GTIN {k.gtin} lot {k.lot}" for k in keys)
