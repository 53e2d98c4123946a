"""Read the text of a QR code from an image, with zxing-cpp."""

from __future__ import annotations

import io
import os

import zxingcpp
from PIL import Image

from qr.errors import DecodeError

__all__ = ["decode"]

ImageSource = str | os.PathLike[str] | bytes | Image.Image
# Modes zxing-cpp reads directly; anything else (1-bit, palette, CMYK...) is converted to grayscale first.
_READABLE_MODES = frozenset({"L", "RGB", "RGBA"})
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def decode(image: ImageSource) -> str:
    """Return the text of the first QR code found in ``image`` (a path, encoded image bytes, or a PIL image).

    Raises:
        DecodeError: if the image cannot be read or holds no readable QR code.
    """
    picture = _load(image)
    if picture.mode not in _READABLE_MODES:
        picture = picture.convert("L")
    result = zxingcpp.read_barcode(picture, formats=_QR_ONLY)
    if result is None or not result.valid:
        raise DecodeError("no QR code found in the image")
    return result.text


def _load(image: ImageSource) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    try:
        picture = Image.open(io.BytesIO(image) if isinstance(image, bytes) else image)
        picture.load()
    except (OSError, ValueError) as exc:  # missing file, not an image, truncated data
        raise DecodeError(f"cannot read image: {exc}") from exc
    return picture
