"""Choosing among links of one type by the client's Accept-Language (RFC 9110 q-values, hreflang ranges)."""

from __future__ import annotations

import pytest

from trace_api.services.linksets import choose

LINKS = [
    {"href": "https://x.example/en", "title": "Product", "hreflang": ["en"]},
    {"href": "https://x.example/de", "title": "Produkt", "hreflang": ["de"]},
    {"href": "https://x.example/fr-ch", "title": "Produit", "hreflang": ["fr-CH"]},
]


@pytest.mark.parametrize(
    ("accept_language", "chosen"),
    [
        (None, "en"),  # no preference: the first link, the default
        ("", "en"),
        ("de", "de"),
        ("de-CH", "de"),  # a more specific tag falls back to its language
        ("fr", "fr-ch"),  # a language range matches its regional variants
        ("it, de;q=0.5, en;q=0.8", "en"),  # by q-value, not by position
        ("it, de;q=0.9, en;q=0.8", "de"),
        ("en;q=0, de;q=0.1", "de"),  # q=0 means "not this one"
        ("ja", "en"),  # nothing matches: the default
        ("*", "en"),
        ("de;q=abc, fr;q=0.5", "fr-ch"),  # a malformed q-value counts as 0
    ],
)
def test_choose_by_accept_language(accept_language: str | None, chosen: str) -> None:
    assert choose(LINKS, accept_language)["href"].rsplit("/", 1)[1] == chosen
