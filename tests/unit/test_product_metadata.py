"""The one rule for the product facts a batch's metadata carries, used by `trace batch register` and POST /batches."""

from __future__ import annotations

import pytest

from trace_api.errors import ValidationError
from trace_api.services.product import MAX_TEXT, product_metadata


def test_given_facts_are_kept_and_empty_ones_left_out() -> None:
    assert product_metadata(product="Coffee", origin="Finca A, CO") == {"product": "Coffee", "origin": "Finca A, CO"}
    assert product_metadata(product="Coffee", origin="") == {"product": "Coffee"}
    assert product_metadata(product=None, origin=None) == {}
    assert product_metadata() == {}


def test_a_fact_over_the_limit_is_refused() -> None:
    assert product_metadata(origin="x" * MAX_TEXT) == {"origin": "x" * MAX_TEXT}
    with pytest.raises(ValidationError, match="origin is 201 characters"):
        product_metadata(product="Coffee", origin="x" * (MAX_TEXT + 1))
