"""What a producer tells consumers about a batch (its product name, its origin), as it goes into the batch's
metadata: hashed on chain with the batch key, shown on the scan page. One rule for both front-ends."""

from __future__ import annotations

from trace_api.errors import ValidationError

__all__ = ["MAX_TEXT", "product_metadata"]

MAX_TEXT = 200  # characters of a product name or an origin


def product_metadata(*, product: str | None = None, origin: str | None = None) -> dict[str, str]:
    """The metadata entries for the facts given: empty or missing ones are left out (so the metadata hash does not
    change with them); ValidationError for one over ``MAX_TEXT`` characters."""
    facts = {"product": product, "origin": origin}
    for name, value in facts.items():
        if value is not None and len(value) > MAX_TEXT:
            raise ValidationError(f"{name} is {len(value)} characters; at most {MAX_TEXT}")
    return {name: value for name, value in facts.items() if value}
