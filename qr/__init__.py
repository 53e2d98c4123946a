"""GS1 Digital Link QR codes: build and parse URIs, sign them, render labels and sheets, decode images.

This package imports nothing from the rest of the repository; its errors derive from :class:`QRError`.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names are imported on first use (PEP 562), so `import qr.errors` or a Digital Link parse does not load the QR
# renderer, the decoder and eth-account.
_SOURCES = {
    "decode": "qr.decode",
    **dict.fromkeys(
        ("DigitalLink", "batch_id", "batch_uri", "canonical", "key_path", "normalize_gtin", "parse", "unit_uri"),
        "qr.digital_link",
    ),
    **dict.fromkeys(("DecodeError", "DigitalLinkError", "QRError", "RenderError", "SignatureError"), "qr.errors"),
    **dict.fromkeys(("render_label_png", "render_labels", "render_png", "render_svg"), "qr.render"),
    **dict.fromkeys(("make_sheet", "parse_serial_range"), "qr.sheet"),
    **dict.fromkeys(("recover_address", "recover_signer", "sign_uri", "verify_uri"), "qr.signing"),
}


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module 'qr' has no attribute {name!r}")
    value = getattr(importlib.import_module(_SOURCES[name]), name)
    globals()[name] = value
    return value


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
