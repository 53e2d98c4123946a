"""Languages of the consumer page and the resolver's HTML errors: English and Simplified Chinese.

Strings are marked `_("…")` in templates and code and translated through gettext catalogues (Babel), kept as `.po`
files under `locales/` and compiled in memory at start-up, so no build step and no binary files in the tree. The
language comes from `?lang=` (the page's visible switch), else the browser's `Accept-Language`; dates and numbers
are formatted for it (CLDR, through Babel).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from dataclasses import dataclass
from decimal import Decimal
from gettext import NullTranslations
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LOCALES_DIR = Path(__file__).with_name("locales")
DEFAULT = "en"
# Language tag (as in ?lang= and hreflang) -> the catalogue's folder under locales/ (None: the msgids themselves).
LANGUAGES: dict[str, str | None] = {"en": None, "zh-CN": "zh_Hans_CN"}
NAMES = {"en": "English", "zh-CN": "简体中文"}


@functools.cache
def translations(tag: str) -> NullTranslations:
    folder = LANGUAGES.get(tag)
    if folder is None:
        return NullTranslations()
    with open(LOCALES_DIR / folder / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalog = read_po(fh, locale=folder)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


def _accept_language(header: str) -> list[tuple[str, float]]:
    """Accept-Language as (tag, q) pairs, best first; malformed parts are skipped."""
    ranges = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and 0 < q <= 1:
            ranges.append((tag.strip(), q))
    return sorted(ranges, key=lambda r: -r[1])


def negotiate(query_lang: str | None, accept_language: str | None) -> str:
    """The page's language tag: an explicit ?lang= we have, else the first Accept-Language range we can serve
    (any zh-Hans or zh-CN/SG form is Simplified Chinese; zh-TW/HK/Hant is not ours), else English."""
    if query_lang in LANGUAGES:
        return query_lang
    for tag, _q in _accept_language(accept_language or ""):
        lower = tag.lower()
        if lower == "*" or lower.split("-")[0] == "en":
            return "en"
        if lower.startswith("zh") and not any(x in lower for x in ("hant", "-tw", "-hk", "-mo")):
            return "zh-CN"
    return DEFAULT


@dataclass(frozen=True)
class Lang:
    """What a template needs for one language: gettext, and dates and numbers in its forms."""

    tag: str

    @property
    def locale(self) -> Locale:
        return Locale.parse(LANGUAGES[self.tag] or self.tag)

    def gettext(self, message: str) -> str:
        return translations(self.tag).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translations(self.tag).ngettext(singular, plural, n)

    def when(self, value: str | dt.datetime | None) -> str:
        """An EPCIS eventTime as people of this language read it, in UTC."""
        if not value:
            return ""
        if isinstance(value, str):
            try:
                when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return value
        else:
            when = value
        return format_datetime(when.astimezone(dt.UTC), "medium", tzinfo=dt.UTC, locale=self.locale) + " UTC"

    def number(self, value: float | int | Decimal | str) -> str:
        return format_decimal(Decimal(str(value)), locale=self.locale)

    def country(self, code: str) -> str:
        return str(self.locale.territories.get(code, code))
