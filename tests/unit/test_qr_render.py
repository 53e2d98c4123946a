from __future__ import annotations

import io
import re
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Literal

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from qr import (
    DecodeError,
    DigitalLinkError,
    RenderError,
    decode,
    make_sheet,
    parse,
    parse_serial_range,
    recover_signer,
    render_label_png,
    render_labels,
    render_png,
    render_svg,
    unit_uri,
)
from qr.render import QUIET_ZONE, qr_matrix

GTIN = "09506000134352"
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
DOMAIN = "https://trace.example.com"
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def _read(image: Image.Image) -> zxingcpp.Barcode:
    result = zxingcpp.read_barcode(image.convert("L"), formats=QR_ONLY)
    assert result is not None
    return result


def _logo(size: tuple[int, int] = (300, 200)) -> Image.Image:
    w, h = size
    logo = Image.new("RGBA", size, (200, 30, 30, 255))
    ImageDraw.Draw(logo).ellipse((w // 8, h // 10, w - w // 8, h - h // 10), fill=(20, 20, 120, 255))
    return logo


@pytest.mark.parametrize(("lot", "serial"), [("ABC123", "S0001"), ("L/2024%1", "A+B&C?"), ("x" * 20, "9" * 20)])
def test_label_round_trip(lot: str, serial: str) -> None:
    uri = unit_uri(GTIN, lot, serial, domain=DOMAIN)
    link = parse(decode(render_label_png(uri)))
    assert (link.gtin, link.lot, link.serial, link.domain) == (GTIN, lot, serial, DOMAIN)


def test_label_is_a_1_bit_png_at_level_h() -> None:
    uri = unit_uri(GTIN, "L1", "S1", domain=DOMAIN)
    png = render_label_png(uri, scale=3)
    image = Image.open(io.BytesIO(png))
    n, _ = qr_matrix(uri)
    assert (image.format, image.mode, image.size) == ("PNG", "1", ((n + 2 * QUIET_ZONE) * 3,) * 2)
    # The quiet zone is white all round.
    assert image.getpixel((0, 0)) and image.getpixel((image.width - 1, image.height - 1))
    assert _read(image).ec_level == "H"


def test_render_labels_matches_single_labels_in_order() -> None:
    uris = [unit_uri(GTIN, "L1", f"S{i}", domain=DOMAIN) for i in range(5)]
    assert render_labels(iter(uris)) == [render_label_png(u) for u in uris]


def test_render_labels_in_worker_processes() -> None:
    uris = [unit_uri(GTIN, "L1", f"S{i}", domain=DOMAIN) for i in range(1000)]
    labels = render_labels(uris, processes=2)
    assert len(labels) == 1000
    assert labels[999] == render_label_png(uris[999])
    assert decode(labels[500]) == uris[500]


def test_render_png_round_trip_to_path_and_file(tmp_path: Path) -> None:
    uri = unit_uri(GTIN, "L1", "S1", domain=DOMAIN)
    render_png(uri, tmp_path / "a.png", box_size=6)
    buffer = io.BytesIO()
    render_png(uri, buffer)
    assert decode(tmp_path / "a.png") == decode(str(tmp_path / "a.png")) == decode(buffer.getvalue()) == uri
    assert _read(Image.open(buffer)).ec_level == "H"


@pytest.mark.parametrize("size", [(300, 200), (200, 200), (100, 300)])
@pytest.mark.parametrize("chars", [20, 45, 60, 100, 200])  # versions 3 to 15
def test_logo_is_drawn_and_the_code_still_decodes(tmp_path: Path, size: tuple[int, int], chars: int) -> None:
    uri = "https://t.example/" + "a" * (chars - 18)
    logo_file = tmp_path / "logo.png"
    _logo(size).save(logo_file)
    out = tmp_path / "with_logo.png"
    render_png(uri, out, logo=logo_file)
    image = Image.open(out).convert("RGB")
    centre = image.getpixel((image.width // 2, image.height // 2))
    assert centre == pytest.approx((20, 20, 120), abs=8)  # the logo is really there
    # Decoded independently of render_png's own check, from a copy scaled down as a camera would see it.
    assert decode(image.resize((image.width // 3, image.height // 3), Image.Resampling.BILINEAR)) == uri


def test_logo_too_large_for_a_small_code_is_refused() -> None:
    with pytest.raises(RenderError, match=r"unreadable at logo_scale=0\.2"):
        render_png("https://t.example/a", io.BytesIO(), logo=_logo((200, 200)), logo_scale=0.2)


def test_logo_can_be_given_as_image_or_bytes() -> None:
    uri = unit_uri(GTIN, "L1", "S1", domain=DOMAIN)
    raw = io.BytesIO()
    _logo().save(raw, format="PNG")
    for logo in (_logo(), raw.getvalue()):
        buffer = io.BytesIO()
        render_png(uri, buffer, logo=logo)
        assert decode(buffer.getvalue()) == uri


def test_bad_render_options_raise() -> None:
    uri = unit_uri(GTIN, "L1", "S1", domain=DOMAIN)
    with pytest.raises(RenderError, match="logo_scale must be in"):
        render_png(uri, io.BytesIO(), logo=_logo(), logo_scale=0.21)
    with pytest.raises(RenderError, match="cannot read logo"):
        render_png(uri, io.BytesIO(), logo=b"not an image")
    with pytest.raises(RenderError, match="scale"):
        render_label_png(uri, scale=0)
    with pytest.raises(RenderError, match="cannot encode"):
        render_label_png("https://x.example/" + "a" * 3000)
    with pytest.raises(RenderError, match="cannot encode"):
        render_png("https://x.example/" + "a" * 3000, io.BytesIO())


def _rasterise_svg(svg: str, px: int = 4) -> Image.Image:
    side = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))  # type: ignore[union-attr]
    image = Image.new("L", (side * px, side * px), 255)
    draw = ImageDraw.Draw(image)
    for x, y, k in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", svg):
        x0, y0 = int(x) * px, int(y) * px
        draw.rectangle((x0, y0, x0 + int(k) * px - 1, y0 + px - 1), fill=0)
    return image


def test_svg_round_trip() -> None:
    uri = unit_uri(GTIN, "L/1", "S1", domain=DOMAIN)
    svg = render_svg(uri, size="30mm")
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ')
    assert 'width="30mm" height="30mm"' in svg
    assert decode(_rasterise_svg(svg)) == uri
    assert "width=" not in render_svg(uri).split(">")[0]
    with pytest.raises(RenderError, match="CSS length"):
        render_svg(uri, size='1" onload="x')


def test_decode_errors() -> None:
    with pytest.raises(DecodeError, match="no QR code"):
        decode(Image.new("L", (200, 200), 255))
    with pytest.raises(DecodeError, match="cannot read image"):
        decode(b"not an image")
    with pytest.raises(DecodeError, match="cannot read image"):
        decode("/nonexistent/label.png")


def test_parse_serial_range() -> None:
    serials = parse_serial_range("1-1000")
    assert (len(serials), serials[0], serials[-1]) == (1000, "1", "1000")
    assert parse_serial_range("A1,A2,5-9") == ["A1", "A2", "5", "6", "7", "8", "9"]
    assert parse_serial_range(" 001-003 , S08-S10, AB-1") == ["001", "002", "003", "S08", "S09", "S10", "AB-1"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("9-5", "end is before start"),
        ("", "empty item"),
        ("1,,2", "empty item"),
        ("1-3,2", "'2' appears more than once"),
        ("1-200001", "too many serials"),
        ("A B", "character ' '"),
    ],
)
def test_bad_serial_range(spec: str, message: str) -> None:
    with pytest.raises(DigitalLinkError, match=message):
        parse_serial_range(spec)


def _pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", data))


def _check_xref(data: bytes) -> None:
    start = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    head, body = data[start:].split(b"\n", 2)[1:3]
    count = int(head.split()[1])
    for num in range(1, count):
        offset = int(body[num * 20 : num * 20 + 10])
        assert data[offset:].startswith(b"%d 0 obj" % num)


@pytest.mark.parametrize(("count", "pages"), [(1, 1), (24, 1), (25, 2), (30, 2)])
def test_pdf_sheet_has_one_page_per_24_labels(tmp_path: Path, count: int, pages: int) -> None:
    out = make_sheet(GTIN, "L/1", [f"S{i}" for i in range(count)], tmp_path / "sheets" / "x.pdf", domain=DOMAIN)
    data = out.read_bytes()
    assert data.startswith(b"%PDF-1.4") and data.endswith(b"%%EOF\n")
    assert _pdf_pages(data) == pages
    assert b"/Count %d" % pages in data
    _check_xref(data)
    assert [p.name for p in out.parent.iterdir()] == ["x.pdf"]  # no temporary file left behind


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils (make sysdeps)")
def test_pdf_sheet_codes_decode_when_printed(tmp_path: Path) -> None:
    out = make_sheet(GTIN, "L(1)", parse_serial_range("1-30"), tmp_path / "x.pdf", domain=DOMAIN, sign_key=KEY)
    subprocess.run(["pdftoppm", "-r", "300", "-png", str(out), str(tmp_path / "page")], check=True)
    texts = []
    for page in sorted(tmp_path.glob("page*.png")):
        texts += [r.text for r in zxingcpp.read_barcodes(Image.open(page), formats=QR_ONLY)]
    assert sorted(str(parse(t).serial) for t in texts) == sorted(parse_serial_range("1-30"))
    assert {recover_signer(t)[1] for t in texts} == {ADDRESS}


@pytest.mark.parametrize("image_format", ["png", "svg"])
def test_folder_sheet_has_one_file_per_serial(tmp_path: Path, image_format: Literal["png", "svg"]) -> None:
    serials = ["S1", "S/2", "S%3", *(f"T{i}" for i in range(7))]
    out = make_sheet(GTIN, "L1", serials, tmp_path / "labels", domain=DOMAIN, fmt="dir", image_format=image_format)
    files = sorted(out.iterdir())
    assert len(files) == 10
    assert {f.name for f in files} >= {f"S1.{image_format}", f"S%2F2.{image_format}", f"S%253.{image_format}"}
    if image_format == "png":
        assert parse(decode(out / "S%2F2.png")).serial == "S/2"


def test_sheet_takes_a_serial_range_spec(tmp_path: Path) -> None:
    out = make_sheet(GTIN, "L1", "A1,5-7", tmp_path / "labels", domain=DOMAIN, fmt="dir", image_format="svg")
    assert sorted(f.name for f in out.iterdir()) == ["5.svg", "6.svg", "7.svg", "A1.svg"]


def test_signed_folder_sheet(tmp_path: Path) -> None:
    out = make_sheet(GTIN, "L1", ["A", "B"], tmp_path / "labels", domain=DOMAIN, sign_key=KEY, fmt="dir")
    plain, signer = recover_signer(decode(out / "B.png"))
    assert (plain, signer) == (unit_uri(GTIN, "L1", "B", domain=DOMAIN), ADDRESS)


def test_sheet_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(DigitalLinkError, match="no serials"):
        make_sheet(GTIN, "L1", [], tmp_path / "x.pdf", domain=DOMAIN)
    with pytest.raises(DigitalLinkError, match="appears more than once"):
        make_sheet(GTIN, "L1", ["A", "A"], tmp_path / "x.pdf", domain=DOMAIN)
    with pytest.raises(DigitalLinkError, match="invalid check digit"):
        make_sheet("09506000134353", "L1", ["A"], tmp_path / "x.pdf", domain=DOMAIN)
    with pytest.raises(RenderError, match="fmt"):
        make_sheet(GTIN, "L1", ["A"], tmp_path / "x.pdf", domain=DOMAIN, fmt="zip")  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


def test_pdf_sheet_prints_escaped_captions(tmp_path: Path) -> None:
    out = make_sheet(GTIN, "L(1", ["S)1"], tmp_path / "x.pdf", domain=DOMAIN)
    streams = re.findall(rb"stream\n(.*?)\nendstream", out.read_bytes(), re.DOTALL)
    content = b"".join(zlib.decompress(s) for s in streams)
    assert b"(GTIN 09506000134352) Tj" in content
    assert b"(LOT L\\(1) Tj" in content
    assert b"(SN S\\)1) Tj" in content
