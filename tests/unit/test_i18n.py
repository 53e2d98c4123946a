"""Languages of the page: negotiation, catalogues compiled from .po, dates and numbers per locale."""

from __future__ import annotations

import datetime as dt

import pytest

from trace_api.http.i18n import Lang, negotiate, translations


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        (None, "zh-Hans-SG", "zh-CN"),
        (None, "zh-TW", "en"),  # Traditional Chinese is not ours: English, not the wrong script
        (None, "zh-Hant-HK,en;q=0.5", "en"),
        (None, "zh-TW,zh;q=0.9", "zh-CN"),  # ...unless any Chinese will do
        (None, "fr-FR,en;q=0.5,zh;q=0.4", "en"),
        (None, "en-GB;q=0.3,zh-CN;q=0.9", "zh-CN"),
        (None, "", "en"),
        (None, "garbage;q=x,,;", "en"),
        ("zh-CN", "en", "zh-CN"),  # the visible switch wins over the browser
        ("de", "zh-CN", "zh-CN"),  # a language we do not have is ignored
    ],
)
def test_negotiation(query: str | None, header: str, expected: str) -> None:
    assert negotiate(query, header) == expected


def test_catalogue_translates_and_falls_back() -> None:
    assert translations("zh-CN").gettext("Verified on chain") == "已在区块链上验证"
    assert translations("en").gettext("Verified on chain") == "Verified on chain"
    assert translations("zh-CN").gettext("not in the catalogue") == "not in the catalogue"


def test_dates_and_numbers_per_locale() -> None:
    moment = dt.datetime(2026, 11, 20, 17, 7, tzinfo=dt.UTC)
    assert Lang("en").when(moment) == "Nov 20, 2026, 5:07:00\u202fPM UTC"
    assert Lang("zh-CN").when("2026-11-20T17:07:00Z").startswith("2026年11月20日")
    assert Lang("en").number("12500.5") == "12,500.5"
    assert Lang("zh-CN").country("NL") == "荷兰" and Lang("en").country("NL") == "Netherlands"
