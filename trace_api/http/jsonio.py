"""JSON responses that never fail on a non-finite float (older stored data may hold one): it is written as null."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from trace_api.finite import finite


class FiniteJSONResponse(JSONResponse):
    """A JSON response that writes a non-finite float as ``null`` instead of failing with 500."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except ValueError:  # "Out of range float values are not JSON compliant"
            return super().render(finite(content))
