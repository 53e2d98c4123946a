"""Read the events of a large EPCIS JSON document one at a time, in constant memory.

``json.JSONDecoder.raw_decode`` decodes one event at a time from a sliding text buffer; only the buffer (one
chunk, 1 MiB by default) and the current event are held, so a document of a million events is read in a few
megabytes. Top-level fields that follow ``epcisBody`` (a JSON object has no order) are found by a second pass
that skips the body without decoding it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from trace_api.errors import ValidationError

__all__ = ["DEFAULT_CHUNK", "read_header", "stream_events"]

DEFAULT_CHUNK = 1 << 20
_WS = re.compile(r"[ \t\n\r]*")
_STRUCTURE = re.compile(r'[{}\[\]"]')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
def refuse_constant(name: str) -> Any:
    """JSON has no NaN or Infinity; Python's decoder accepts them unless told not to."""
    raise ValidationError(f"EPCIS document: {name} is not a JSON number; EPCIS values must be finite")


_DECODER = json.JSONDecoder(parse_constant=refuse_constant)


class _Reader:
    def __init__(self, handle: TextIO, chunk: int) -> None:
        self._handle = handle
        self._chunk = chunk
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.consumed = 0  # characters dropped from the front of the buffer, for error positions

    def fill(self, grow: bool = False) -> None:
        if self.eof:
            raise ValidationError(f"EPCIS document ends early (at character {self.consumed + len(self.buf)})")
        size = max(self._chunk, len(self.buf)) if grow else self._chunk  # doubling keeps a big value linear
        data = self._handle.read(size)
        self.consumed += self.pos
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        self.eof = not data

    def peek(self) -> str:
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.eof:
                return ""
            self.fill()

    def expect(self, chars: str) -> str:
        found = self.peek()
        if not found or found not in chars:
            where = self.consumed + self.pos
            raise ValidationError(f"EPCIS document: expected one of {chars!r} at character {where}, found {found!r}")
        self.pos += 1
        return found

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof:
                    raise ValidationError(f"EPCIS document is not valid JSON: {exc.msg} at character "
                                          f"{self.consumed + exc.pos}") from None  # fmt: skip
                self.fill(grow=True)
                continue
            if end == len(self.buf) and not self.eof:  # a number may go on in the next chunk
                self.fill(grow=True)
                continue
            self.pos = end
            return obj

    def skip(self) -> None:
        """Skip one value without decoding it (strings are matched, brackets counted)."""
        if self.peek() not in "{[":
            self.value()
            return
        depth = 0
        while True:
            found = _STRUCTURE.search(self.buf, self.pos)
            if found is None:
                self.pos = len(self.buf)
                self.fill()
                continue
            at = found.start()
            char = self.buf[at]
            if char == '"':
                string = _STRING.match(self.buf, at)
                if string is None:  # the string goes on in the next chunk
                    self.pos = at
                    self.fill(grow=True)
                    continue
                self.pos = string.end()
                continue
            self.pos = at + 1
            depth += 1 if char in "{[" else -1
            if depth == 0:
                return

    def members(self) -> Iterator[str]:
        """The keys of the object that starts here; the caller reads or skips each value."""
        self.expect("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise ValidationError(f"EPCIS document: object key expected at character {self.consumed + self.pos}")
            self.expect(":")
            yield key
            if self.expect(",}") == "}":
                return

    def items(self) -> Iterator[Any]:
        self.expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield self.value()
            if self.expect(",]") == "]":
                return


def read_header(path: Path, chunk: int = DEFAULT_CHUNK) -> dict[str, Any]:
    """Every top-level field of the document except ``epcisBody``, which is skipped."""
    with path.open(encoding="utf-8-sig") as handle:
        reader = _Reader(handle, chunk)
        header: dict[str, Any] = {}
        for key in reader.members():
            if key == "epcisBody":
                reader.skip()
            else:
                header[key] = reader.value()
        return header


def _body_events(reader: _Reader) -> Iterator[Any]:
    for key in reader.members():
        if key == "eventList":
            yield from reader.items()
        elif key == "event":
            yield reader.value()
        elif key in ("queryResults", "resultsBody"):  # EPCISQueryDocument: queryResults.resultsBody.eventList
            yield from _body_events(reader)
        else:
            reader.skip()


def stream_events(path: Path, header: dict[str, Any] | None = None, chunk: int = DEFAULT_CHUNK) -> Iterator[Any]:
    """The events of ``epcisBody`` in order, or the top-level object itself when it is no document.

    ``header`` receives the top-level fields read before ``epcisBody`` (and, for a bare event, all of them).
    """
    header = {} if header is None else header
    with path.open(encoding="utf-8-sig") as handle:
        reader = _Reader(handle, chunk)
        body_seen = False
        for key in reader.members():
            if key == "epcisBody" and not body_seen:
                body_seen = True
                yield from _body_events(reader)
            else:
                header[key] = reader.value()
        if reader.peek():
            raise ValidationError(f"EPCIS document: unexpected data after the document at character "
                                  f"{reader.consumed + reader.pos}")  # fmt: skip
        if not body_seen:
            yield header
