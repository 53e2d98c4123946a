"""Exceptions raised by the ``qr`` package.

Every error derives from :class:`QRError`, and each subclass also derives from a builtin, so a caller can catch
either ``QRError`` or ``ValueError``. The package knows nothing of HTTP statuses or exit codes: the application maps
these classes to its own errors in one place.
"""

from __future__ import annotations

__all__ = ["DecodeError", "DigitalLinkError", "QRError", "RenderError", "SignatureError"]


class QRError(Exception):
    """Base class of every error raised by the ``qr`` package."""


class DigitalLinkError(QRError, ValueError):
    """A GTIN, lot, serial, serial range or GS1 Digital Link URI is invalid."""


class SignatureError(QRError, ValueError):
    """A signature is missing, malformed, or does not come from the expected signer."""


class DecodeError(QRError, ValueError):
    """An image could not be read, or holds no QR code."""


class RenderError(QRError, ValueError):
    """Rendering options are invalid (logo, sizes, output format)."""
