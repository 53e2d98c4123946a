"""Render Digital Link URIs as QR codes: styled PNG labels, SVG, and a fast bulk PNG path.

Every code uses error correction level H (30 % of codewords recoverable), which leaves room for a logo and for
scuffed packaging. Two encoders are used on purpose:

- ``render_png`` uses the pure-Python ``qrcode`` library (about 40 codes/s): it is the styled path, with a logo.
- ``render_svg``, ``render_label_png`` and ``render_labels`` take the module matrix from zxing-cpp's C++ encoder and
  draw it themselves: the matrix is drawn once at one pixel per module as a 1-bit image, scaled with NEAREST and
  written as a 1-bit PNG at zlib level 1. That keeps a label under a millisecond.
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import BinaryIO

import qrcode
import qrcode.constants
import qrcode.exceptions
import zxingcpp
from PIL import Image

from qr.errors import RenderError

__all__ = [
    "QUIET_ZONE",
    "dark_runs",
    "qr_matrix",
    "render_label_png",
    "render_labels",
    "render_png",
    "render_svg",
]

QUIET_ZONE = 4  # modules of white around a QR code (ISO/IEC 18004)
# Measured: a logo over 0.15 of the symbol's area already breaks some small (version 3-6) codes at level H.
_MAX_LOGO_SCALE = 0.2
_DARK_RUN = re.compile(rb"\x00+")
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
_SVG_LENGTH = re.compile(r"\d+(\.\d+)?(px|mm|cm|in|pt|%)?")
# A pool pays for its start-up only on long runs.
_MIN_ITEMS_PER_PROCESS = 500

PathOrFile = str | os.PathLike[str] | BinaryIO
LogoSource = str | os.PathLike[str] | bytes | Image.Image


def qr_matrix(uri: str) -> tuple[int, bytes]:
    """Encode ``uri`` at error correction level H and return ``(size, modules)``.

    ``modules`` holds ``size * size`` bytes, row by row from the top, one per module: 0 is dark, 255 is light. The
    quiet zone is not included.

    Raises:
        RenderError: if ``uri`` does not fit in a QR code.
    """
    try:
        barcode = zxingcpp.create_barcode(uri, zxingcpp.BarcodeFormat.QRCode, ec_level="H")
    except Exception as exc:  # zxing-cpp raises a bare RuntimeError/ValueError depending on the cause
        raise RenderError(f"cannot encode a QR code of {len(uri)} characters: {exc}") from exc
    image = barcode.to_image(scale=1, add_quiet_zones=False)
    size = image.shape[0]
    # zxingcpp.Image has the buffer protocol; its stub does not declare it.
    return size, bytes(memoryview(image))  # type: ignore[arg-type]


def dark_runs(size: int, modules: bytes) -> Iterator[tuple[int, int, int]]:
    """Yield ``(row, column, length)`` for every horizontal run of dark modules of a :func:`qr_matrix` result."""
    for row in range(size):
        line = modules[row * size : (row + 1) * size]
        for match in _DARK_RUN.finditer(line):
            yield row, match.start(), match.end() - match.start()


def render_png(
    uri: str,
    out: PathOrFile,
    *,
    logo: LogoSource | None = None,
    box_size: int = 10,
    border: int = QUIET_ZONE,
    logo_scale: float = 0.15,
) -> None:
    """Write ``uri`` as a QR code PNG to a path or binary file, optionally with a brand logo in the centre.

    ``box_size`` is pixels per module. The logo, on a white pad one module wide, covers at most ``logo_scale`` of
    the symbol's area (0.15 by default, 0.2 at most). A code with a logo is decoded before it is written, and
    refused if it no longer reads back.

    Raises:
        RenderError: on invalid sizes, an unreadable logo file, a logo that makes the code unreadable, or a URI too
            long for a QR code.
    """
    if box_size < 1 or border < 0:
        raise RenderError(f"box_size must be >= 1 and border >= 0, got {box_size} and {border}")
    if not 0 < logo_scale <= _MAX_LOGO_SCALE:
        raise RenderError(f"logo_scale must be in (0, {_MAX_LOGO_SCALE}], got {logo_scale}")
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_H, box_size=box_size, border=border)
    try:
        code.add_data(uri)
        code.make(fit=True)
    except (qrcode.exceptions.DataOverflowError, ValueError) as exc:  # over version 40 it is a ValueError
        raise RenderError(f"cannot encode a QR code of {len(uri)} characters: {exc}") from exc
    image: Image.Image = code.make_image().get_image()
    if logo is not None:
        image = _with_logo(
            image, _open_logo(logo), symbol_px=code.modules_count * box_size, pad=box_size, scale=logo_scale
        )
        read = zxingcpp.read_barcode(image.convert("L"), formats=_QR_ONLY)
        if read is None or read.text != uri:
            raise RenderError(f"the logo makes this code unreadable at logo_scale={logo_scale}; use a smaller one")
    image.save(out, format="PNG")


def render_svg(uri: str, *, border: int = QUIET_ZONE, size: str | None = None) -> str:
    """Return ``uri`` as a standalone QR code SVG (also fit to inline in HTML).

    The drawing is in module units with a ``viewBox``, so it scales to its container; pass ``size`` (e.g. "30mm")
    to fix its width and height.

    Raises:
        RenderError: on a negative ``border``, a ``size`` that is not a length, or a URI too long for a QR code.
    """
    if border < 0:
        raise RenderError(f"border must be >= 0, got {border}")
    if size is not None and not _SVG_LENGTH.fullmatch(size):
        raise RenderError(f"size must be a CSS length such as '30mm', got {size!r}")
    n, modules = qr_matrix(uri)
    side = n + 2 * border
    path = "".join(f"M{c + border} {r + border}h{k}v1h-{k}z" for r, c, k in dark_runs(n, modules))
    dims = f' width="{size}" height="{size}"' if size else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}"{dims} shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="#fff"/><path fill="#000" d="{path}"/></svg>'
    )


def render_label_png(uri: str, *, scale: int = 4, border: int = QUIET_ZONE) -> bytes:
    """Return ``uri`` as a bare 1-bit QR code PNG with ``scale`` pixels per module: the fast bulk path.

    Raises:
        RenderError: on invalid sizes or a URI too long for a QR code.
    """
    if scale < 1 or border < 0:
        raise RenderError(f"scale must be >= 1 and border >= 0, got {scale} and {border}")
    return _label_png(uri, scale=scale, border=border)


def render_labels(uris: Iterable[str], *, scale: int = 4, border: int = QUIET_ZONE, processes: int = 1) -> list[bytes]:
    """Return :func:`render_label_png` of every URI, in order.

    With ``processes`` > 1 and at least 500 URIs per process, the work is spread over fresh ("spawn") processes,
    which is safe to start from a threaded server too. The caller's main module must be importable (a script or a
    console entry point, not code piped to ``python -``).

    Raises:
        RenderError: on invalid sizes, a URI too long for a QR code, or a worker process that died.
    """
    if scale < 1 or border < 0 or processes < 1:
        raise RenderError(f"scale and processes must be >= 1 and border >= 0, got {scale}, {processes}, {border}")
    items: Sequence[str] = uris if isinstance(uris, Sequence) else list(uris)
    workers = min(processes, len(items) // _MIN_ITEMS_PER_PROCESS)
    if workers <= 1:
        return [_label_png(uri, scale=scale, border=border) for uri in items]
    job = partial(_label_png, scale=scale, border=border)
    # An executor, unlike multiprocessing.Pool, fails fast instead of respawning workers that die on start-up.
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(job, items, chunksize=max(1, len(items) // (workers * 4))))
    except BrokenProcessPool as exc:
        raise RenderError(f"a label worker process died: {exc}") from exc


def _label_png(uri: str, *, scale: int, border: int) -> bytes:
    n, modules = qr_matrix(uri)
    symbol = Image.frombytes("L", (n, n), modules).convert("1", dither=Image.Dither.NONE)
    side = n + 2 * border
    image = Image.new("1", (side, side), 1)
    image.paste(symbol, (border, border))
    if scale > 1:
        image = image.resize((side * scale, side * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    # Level 1 is several times faster than the default 6 and the files are about the same size.
    image.save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()


def _open_logo(logo: LogoSource) -> Image.Image:
    if isinstance(logo, Image.Image):
        return logo
    try:
        image = Image.open(io.BytesIO(logo) if isinstance(logo, bytes) else logo)
        image.load()
    except (OSError, ValueError) as exc:
        raise RenderError(f"cannot read logo: {exc}") from exc
    return image


def _with_logo(code: Image.Image, logo: Image.Image, *, symbol_px: int, pad: int, scale: float) -> Image.Image:
    # The pad counts toward the covered area. A wide logo is also held to half the symbol's width so that it stays
    # clear of the timing patterns, which run along row and column 6.
    if logo.width < 1 or logo.height < 1:
        raise RenderError("logo is empty")
    area = scale * symbol_px * symbol_px
    box_w = min(math.sqrt(area * logo.width / logo.height), symbol_px / 2)
    box_h = min(math.sqrt(area * logo.height / logo.width), symbol_px / 2)
    fit = min((box_w - 2 * pad) / logo.width, (box_h - 2 * pad) / logo.height)
    w, h = int(logo.width * fit), int(logo.height * fit)
    if w < 1 or h < 1:
        raise RenderError("logo would be smaller than a pixel at this size; raise box_size or logo_scale")
    resized = logo.convert("RGBA").resize((w, h), Image.Resampling.LANCZOS)
    out = code.convert("RGB")
    left, top = (out.width - w) // 2, (out.height - h) // 2
    out.paste((255, 255, 255), (left - pad, top - pad, left + w + pad, top + h + pad))
    out.paste(resized, (left, top), resized)
    return out
