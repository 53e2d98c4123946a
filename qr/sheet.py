"""Bulk labels for one batch: a printable A4 PDF, or a folder of PNG or SVG files, one per serial.

The PDF is written by hand rather than rasterised: each QR code is one vector path of whole modules, so it prints
sharp at any printer resolution, and the file is streamed page by page, so memory stays flat however many labels a
batch has. The human-readable text uses the PDF base font Courier, which needs no embedding and, being monospaced,
can be centred without font metrics.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import quote

from qr.digital_link import DEFAULT_DOMAIN, normalize_gtin, unit_uri, validate_lot, validate_serial
from qr.errors import DigitalLinkError, RenderError
from qr.render import QUIET_ZONE, dark_runs, qr_matrix, render_labels, render_svg
from qr.signing import sign_uri

__all__ = ["LABELS_PER_PAGE", "make_sheet", "parse_serial_range"]

# A4 in points (1/72 in), a 10 mm margin, and a 4 x 6 grid: cells of about 47.5 x 46 mm, codes of about 33 mm.
_PAGE_W, _PAGE_H = 595.276, 841.890
_MARGIN = 28.346
_COLS, _ROWS = 4, 6
LABELS_PER_PAGE = _COLS * _ROWS
_PAD = 6.0
_FONT_SIZE = 7.0
_LEADING = 8.4
_COURIER_ADVANCE = 0.6  # every Courier glyph is 600/1000 em wide
_TEXT_LINES = 3
_DEFAULT_LIMIT = 100_000
_RANGE = re.compile(r"(?P<prefix>.*?)(?P<start>\d+)-(?P=prefix)(?P<end>\d+)")


def parse_serial_range(spec: str, *, limit: int = _DEFAULT_LIMIT) -> list[str]:
    """Expand a comma-separated list of serials and ranges, e.g. ``"1-1000"`` or ``"A1,A2,S005-S009"``.

    A range is ``<prefix><start>-<prefix><end>`` with the same prefix on both ends; a start with a leading zero sets
    the width (``"001-010"`` gives ``"001"`` to ``"010"``). Any other item is one serial. Every serial must be a
    valid AI 21 value, and none may appear twice.

    Raises:
        DigitalLinkError: on an empty item, a reversed range, an invalid or repeated serial, or more than ``limit``
            serials in all.
    """
    serials: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            raise DigitalLinkError(f"serial range {spec!r}: empty item")
        match = _RANGE.fullmatch(item)
        if match is None:
            serials.append(validate_serial(item))
        else:
            serials.extend(_expand(item, match, room=limit - len(serials)))
        if len(serials) > limit:
            raise DigitalLinkError(f"serial range {spec!r}: more than {limit} serials")
    _check_unique(serials)
    return serials


def make_sheet(
    gtin: str,
    lot: str,
    serials: Sequence[str] | str,
    out: str | os.PathLike[str],
    *,
    domain: str = DEFAULT_DOMAIN,
    sign_key: str | bytes | None = None,
    fmt: Literal["pdf", "dir"] = "pdf",
    image_format: Literal["png", "svg"] = "png",
    processes: int = 1,
) -> Path:
    """Write one label per serial of batch (``gtin``, ``lot``) and return the path written.

    ``serials`` is a list, or a spec for :func:`parse_serial_range` such as ``"1-1000"``.

    ``fmt="pdf"`` writes an A4 PDF at ``out``: a 4 x 6 grid of codes per page, each with its GTIN, lot and serial
    underneath. ``fmt="dir"`` writes ``<serial>.png`` (or ``.svg``) files into the folder ``out``, the serial
    percent-encoded so that e.g. ``/`` cannot leave the folder. With ``sign_key`` every URI carries the producer's
    signature in its fragment (see :mod:`qr.signing`). ``processes`` is passed to :func:`qr.render.render_labels`
    for PNG folders.

    Raises:
        DigitalLinkError: on an invalid GTIN, lot, serial or domain, no serials, or a repeated serial.
        SignatureError: on an invalid signing key.
        RenderError: on an unknown ``fmt`` or ``image_format``.
    """
    if fmt not in ("pdf", "dir"):
        raise RenderError(f"fmt must be 'pdf' or 'dir', got {fmt!r}")
    if image_format not in ("png", "svg"):
        raise RenderError(f"image_format must be 'png' or 'svg', got {image_format!r}")
    if isinstance(serials, str):
        serial_list = parse_serial_range(serials)
    else:
        serial_list = [validate_serial(serial) for serial in serials]
    if not serial_list:
        raise DigitalLinkError("no serials to make labels for")
    _check_unique(serial_list)
    gtin14 = normalize_gtin(gtin)
    validate_lot(lot)
    uris = [unit_uri(gtin14, lot, serial, domain=domain) for serial in serial_list]
    if sign_key is not None:
        uris = [sign_uri(uri, sign_key) for uri in uris]

    target = Path(out)
    if fmt == "dir":
        target.mkdir(parents=True, exist_ok=True)
        names = [f"{quote(serial, safe='')}.{image_format}" for serial in serial_list]
        if image_format == "png":
            for name, png in zip(names, render_labels(uris, processes=processes), strict=True):
                (target / name).write_bytes(png)
        else:
            for name, uri in zip(names, uris, strict=True):
                (target / name).write_text(render_svg(uri, size="30mm"), encoding="ascii")
        return target

    captions = [(f"GTIN {gtin14}", f"LOT {lot}", f"SN {serial}") for serial in serial_list]
    # Write next to the target and rename, so a reader never sees half a PDF. (Not mkstemp: its 0600 mode would
    # stick to the PDF, where the umask should rule.)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        with tmp.open("xb") as fp:
            _write_pdf(fp, list(zip(uris, captions, strict=True)))
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _expand(item: str, match: re.Match[str], *, room: int) -> Iterator[str]:
    prefix, start, end = match["prefix"], match["start"], match["end"]
    first, last = int(start), int(end)
    if last < first:
        raise DigitalLinkError(f"serial range {item!r}: end is before start")
    if last - first + 1 > room:
        raise DigitalLinkError(f"serial range {item!r}: too many serials ({last - first + 1})")
    width = len(start) if start.startswith("0") else 0
    return (validate_serial(f"{prefix}{n:0{width}d}") for n in range(first, last + 1))


def _check_unique(serials: Sequence[str]) -> None:
    seen: set[str] = set()
    for serial in serials:
        if serial in seen:
            raise DigitalLinkError(f"serial {serial!r} appears more than once")
        seen.add(serial)


def _write_pdf(fp: BinaryIO, labels: Sequence[tuple[str, tuple[str, ...]]]) -> None:
    # Objects: 1 catalog, 2 page tree (written last, once its kids are known), 3 font, then per page its content
    # stream and the page itself.
    pages = math.ceil(len(labels) / LABELS_PER_PAGE)
    writer = _PdfWriter(fp)
    writer.obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    writer.obj(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>")
    kids = []
    for page in range(pages):
        content_num, page_num = 4 + 2 * page, 5 + 2 * page
        chunk = labels[page * LABELS_PER_PAGE : (page + 1) * LABELS_PER_PAGE]
        writer.stream(content_num, _page_content(chunk))
        writer.obj(
            page_num,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.3f %.3f] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % (_PAGE_W, _PAGE_H, content_num),
        )
        kids.append(b"%d 0 R" % page_num)
    writer.obj(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), pages))
    writer.close(root=1)


def _page_content(labels: Sequence[tuple[str, tuple[str, ...]]]) -> bytes:
    cell_w = (_PAGE_W - 2 * _MARGIN) / _COLS
    cell_h = (_PAGE_H - 2 * _MARGIN) / _ROWS
    code_side = min(cell_w - 2 * _PAD, cell_h - 2 * _PAD - _TEXT_LINES * _LEADING)
    ops: list[str] = []
    for index, (uri, caption) in enumerate(labels):
        row, col = divmod(index, _COLS)
        left = _MARGIN + col * cell_w
        top = _PAGE_H - _MARGIN - row * cell_h
        x, y = left + (cell_w - code_side) / 2, top - _PAD - code_side
        n, modules = qr_matrix(uri)
        side = n + 2 * QUIET_ZONE
        module = code_side / side
        # All modules form one path filled once, so viewers show no hairline seams between neighbouring rows.
        ops.append(f"q {module:.5f} 0 0 {module:.5f} {x:.3f} {y:.3f} cm 0 g")
        ops.extend(f"{c + QUIET_ZONE} {side - QUIET_ZONE - 1 - r} {k} 1 re" for r, c, k in dark_runs(n, modules))
        ops.append("f Q")
        for line, text in enumerate(caption):
            text_x = left + (cell_w - len(text) * _COURIER_ADVANCE * _FONT_SIZE) / 2
            text_y = y - (line + 1) * _LEADING
            ops.append(f"BT /F1 {_FONT_SIZE:g} Tf {text_x:.3f} {text_y:.3f} Td ({_pdf_text(text)}) Tj ET")
    return "\n".join(ops).encode("ascii")


def _pdf_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


class _PdfWriter:
    """The smallest PDF 1.4 writer that serves: numbered objects, Flate streams, a cross-reference table."""

    def __init__(self, fp: BinaryIO) -> None:
        self._fp = fp
        self._pos = 0
        self._offsets: dict[int, int] = {}
        # The binary comment tells transfer tools the file is not text.
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def obj(self, num: int, body: bytes) -> None:
        self._offsets[num] = self._pos
        self._write(b"%d 0 obj\n%s\nendobj\n" % (num, body))

    def stream(self, num: int, data: bytes) -> None:
        packed = zlib.compress(data, 6)
        self.obj(num, b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(packed), packed))

    def close(self, *, root: int) -> None:
        size = max(self._offsets) + 1
        xref_at = self._pos
        rows = [b"0000000000 65535 f \n"]
        rows += [b"%010d 00000 n \n" % self._offsets[num] for num in range(1, size)]
        self._write(b"xref\n0 %d\n%s" % (size, b"".join(rows)))
        self._write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, xref_at))

    def _write(self, data: bytes) -> None:
        self._fp.write(data)
        self._pos += len(data)
