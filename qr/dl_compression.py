"""Decompress GS1 Digital Link URIs (GS1 Digital Link: Compression)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qr.errors import DigitalLinkError

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Expanded:
    path_segments: list[str]
    query: list[tuple[str, str]] = field(default_factory=list)


def looks_compressed(segment: str) -> bool:
    return bool(_BASE64URL.fullmatch(segment))


def decompress(segment: str) -> Expanded:
    raise DigitalLinkError("compressed Digital Link URIs are not supported yet")
