"""QR label rows: our bulk label path against plain ``qrcode`` PNGs, measured in the same run (about 10 s).

Rows:
- ``qr.labels_per_s``: :func:`qr.render_labels` in this process, unsigned unit URIs (target >= 1000/s).
- ``qr.labels_per_s_parallel``: the same over one spawned process per core, pool start-up included.
- ``qr.qrcode_baseline_per_s``: ``qrcode.make(uri).save(png)``, the library's defaults.
Each rate row carries the baseline and ours / baseline.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from typing import Any

import qrcode  # type: ignore[import-untyped]

from qr import render_labels, unit_uri

_GTIN = "09506000134352"
_DOMAIN = "https://trace.example.com"
_OURS_SECONDS = 1.5
_BASELINE_SECONDS = 1.5
_PARALLEL_LABELS = 3000


def _uris(count: int, offset: int = 0) -> list[str]:
    return [unit_uri(_GTIN, "LOT-2024-0001", f"S{offset + i:08d}", domain=_DOMAIN) for i in range(count)]


def _rate(step: Callable[[list[str]], object], batch: int, seconds: float) -> float:
    """Items per second of ``step`` over fresh batches of ``batch`` URIs until ``seconds`` have passed."""
    step(_uris(min(batch, 20), offset=10**7))  # warm-up: imports, first-call costs
    done, elapsed, offset = 0, 0.0, 0
    while elapsed < seconds:
        uris = _uris(batch, offset)
        started = time.perf_counter()
        step(uris)
        elapsed += time.perf_counter() - started
        done, offset = done + batch, offset + batch
    return done / elapsed


def _qrcode_pngs(uris: list[str]) -> None:
    for uri in uris:
        qrcode.make(uri).save(io.BytesIO())


def _row(metric: str, value: float, baseline: float | None) -> dict[str, Any]:
    ratio = round(value / baseline, 3) if baseline else None
    return {"metric": metric, "value": round(value, 1), "unit": "labels/s", "baseline": baseline, "ratio": ratio}


def run(env: object | None = None) -> list[dict[str, Any]]:
    """Return the QR rows. ``env`` (the shared bench environment) is accepted and not needed."""
    baseline = round(_rate(_qrcode_pngs, batch=10, seconds=_BASELINE_SECONDS), 1)
    ours = _rate(render_labels, batch=500, seconds=_OURS_SECONDS)
    processes = os.cpu_count() or 1
    uris = _uris(_PARALLEL_LABELS)
    started = time.perf_counter()
    render_labels(uris, processes=processes)
    parallel = _PARALLEL_LABELS / (time.perf_counter() - started)
    return [
        _row("qr.labels_per_s", ours, baseline),
        _row("qr.labels_per_s_parallel", parallel, baseline),
        _row("qr.qrcode_baseline_per_s", baseline, None),
    ]


if __name__ == "__main__":
    for r in run():
        print(f"{r['metric']:28} {r['value']:>10,.1f} {r['unit']}  baseline {r['baseline']}  ratio {r['ratio']}")
