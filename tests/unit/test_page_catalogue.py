"""Every word of the scan page and the resolver's HTML errors is translated: no literal text in the templates, and
every msgid they (and trace_api.http.page) use has a Simplified Chinese translation with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from trace_api.http import page
from trace_api.http.i18n import LANGUAGES, LOCALES_DIR

TEMPLATES = Path(page.__file__).with_name("templates")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _msgids() -> dict[str | tuple[str, str], str]:
    found: dict[str | tuple[str, str], str] = {}
    for template in sorted(TEMPLATES.glob("*.html")):
        with open(template, "rb") as fh:
            for line, func, message, _ in babel_extract(fh, ("_", "gettext", "ngettext"), [], {}):
                key = (
                    (message[0], message[1])
                    if func == "ngettext"
                    else (message[0] if isinstance(message, tuple) else message)
                )
                found.setdefault(key, f"{template.name}:{line}")
    with open(page.__file__, "rb") as fh:
        for line, _, message, _ in extract_python(fh, ["gettext"], [], {}):
            if message:
                found.setdefault(message[0] if isinstance(message, tuple) else message, f"page.py:{line}")
    for word in page.WORDS:
        found.setdefault(word, "page.WORDS")
    return found


def test_templates_hold_no_literal_text() -> None:
    for template in sorted(TEMPLATES.glob("*.html")):
        source = template.read_text()
        code = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", source, flags=re.S)
        for name, value in re.findall(
            r'\b(title|aria-label|alt|placeholder|data-(?:ok|bad|failed|bad-title|bad-detail))="([^"]*)"', code
        ):
            assert not re.search(r"[A-Za-z]{3,}", value), f"{template.name}: {name}={value!r} is not translated"
        text = re.sub(r"<[^>]*>|&\w+;", " ", code)
        words = re.findall(r"[A-Za-z]{2,}", text)
        assert words == [], f"{template.name}: literal text {words[:10]} is not translated"


@pytest.mark.parametrize("tag", [t for t, folder in LANGUAGES.items() if folder])
def test_every_msgid_is_translated(tag: str) -> None:
    with open(LOCALES_DIR / str(LANGUAGES[tag]) / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalogue = read_po(fh)
    msgids = _msgids()
    assert len(msgids) > 100
    for msgid, where in msgids.items():
        entry = catalogue.get(msgid[0] if isinstance(msgid, tuple) else msgid)
        assert entry is not None and entry.string, f"{where}: {msgid!r} has no {tag} translation"
        translated = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert all(translated), f"{where}: {msgid!r} has an empty {tag} plural form"
        wanted = set(PLACEHOLDER.findall(msgid[-1] if isinstance(msgid, tuple) else msgid)) - {"num"}
        for form in translated:
            assert wanted <= set(PLACEHOLDER.findall(form)), f"{where}: {tag} {form!r} drops a placeholder"
            assert set(PLACEHOLDER.findall(form)) <= wanted | {"num"}, f"{where}: {tag} {form!r} adds a placeholder"
