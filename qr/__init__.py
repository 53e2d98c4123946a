"""GS1 Digital Link QR codes: build and parse URIs, sign them, render labels and sheets, decode images.

This package imports nothing from the rest of the repository; its errors derive from :class:`QRError`.
"""

from __future__ import annotations

from qr.decode import decode
from qr.digital_link import DigitalLink, batch_id, batch_uri, canonical, key_path, normalize_gtin, parse, unit_uri
from qr.errors import DecodeError, DigitalLinkError, QRError, RenderError, SignatureError
from qr.render import render_label_png, render_labels, render_png, render_svg
from qr.sheet import make_sheet, parse_serial_range
from qr.signing import recover_address, recover_signer, sign_uri, verify_uri

__all__ = [
    "DecodeError",
    "DigitalLink",
    "DigitalLinkError",
    "QRError",
    "RenderError",
    "SignatureError",
    "batch_id",
    "batch_uri",
    "canonical",
    "decode",
    "key_path",
    "make_sheet",
    "normalize_gtin",
    "parse",
    "parse_serial_range",
    "recover_address",
    "recover_signer",
    "render_label_png",
    "render_labels",
    "render_png",
    "render_svg",
    "sign_uri",
    "unit_uri",
    "verify_uri",
]
