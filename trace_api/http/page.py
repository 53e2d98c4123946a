"""What the scan page's templates call: words in the reader's language, dates and numbers in its forms, parties and
places by name, the sensor chart. Every word here is a gettext msgid (the catalogue test reads them from here)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from markupsafe import Markup

from trace_api.http import charts
from trace_api.http.i18n import Lang
from trace_api.services.journey import UNIT_SYMBOLS

# What a step is called on the page, by CBV business step ("Roasted by …" comes from the transformation's process).
STEP_LABELS = {
    "commissioning": "Commissioned",
    "inspecting": "Inspected",
    "shipping": "Shipped",
    "receiving": "Received",
    "retail_selling": "On sale in the shop",
    "holding": "Held",
    "storing": "Stored",
    "packing": "Packed",
    "accepting": "Accepted",
    "departing": "Departed",
    "arriving": "Arrived",
    "loading": "Loaded",
    "unloading": "Unloaded",
    "destroying": "Destroyed",
    "decommissioning": "Decommissioned",
    "transforming": "Transformed",
    "sensor_reporting": "Sensor readings",
    "repackaging": "Repacked",
}
PROCESS_LABELS = {
    "roasting": "Roasted",
    "drying": "Dried",
    "milling": "Milled",
    "blending": "Blended",
    "packing": "Packed",
    "grinding": "Ground",
}
DISPOSITIONS = {
    "active": "active",
    "in_transit": "in transit",
    "recalled": "recalled",
    "in_progress": "in progress",
    "sellable_accessible": "on sale",
    "damaged": "damaged",
    "destroyed": "destroyed",
}
QUANTITIES = {"Temperature": "Temperature", "RelativeHumidity": "Relative humidity", "Humidity": "Humidity"}
WORDS = (*STEP_LABELS.values(), *PROCESS_LABELS.values(), *DISPOSITIONS.values(), *QUANTITIES.values())


def helpers(lang: Lang) -> dict[str, Any]:
    """The template's vocabulary for ``lang``."""

    def gettext(message: str, **values: Any) -> str:
        text = lang.gettext(message)
        return text % values if values else text

    def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
        return lang.ngettext(singular, plural, n) % {"num": lang.number(n), **values}

    def day(value: str | None) -> str:
        if not value:
            return ""
        from babel.dates import format_date

        try:
            return format_date(dt.date.fromisoformat(value[:10]), "long", locale=lang.locale)
        except ValueError:
            return value

    def step(event: dict[str, Any]) -> str:
        if event["type"] == "TransformationEvent":
            process = event.get("process")
            return (
                gettext(PROCESS_LABELS.get(str(process), "Transformed"))
                if process in PROCESS_LABELS or not process
                else f"{gettext('Transformed')} ({process})"
            )
        return gettext(STEP_LABELS.get(event.get("biz_step") or "", event.get("biz_step") or event["type"]))

    def disposition(value: str | None) -> str:
        return gettext(DISPOSITIONS[value]) if value in DISPOSITIONS else (value or "").replace("_", " ")

    def quantity(kind: str) -> str:
        return gettext(QUANTITIES[kind]) if kind in QUANTITIES else kind

    def chart(series: dict[str, Any]) -> Markup:
        readings = [
            charts.Reading(dt.datetime.fromisoformat(t.replace("Z", "+00:00")), float(v)) for t, v in series["readings"]
        ]
        labels = {
            "allowed": gettext("allowed range"),
            "summary": gettext(
                "%(count)s readings, %(min)s to %(max)s %(unit)s, %(excursions)s outside the allowed range",
                count="{count}",
                min="{min}",
                max="{max}",
                unit="{unit}",
                excursions="{excursions}",
            ),
        }
        svg = charts.sensor_chart(
            readings,
            quantity=quantity(series["type"]),
            unit=series["unit"],
            low=series["low"],
            high=series["high"],
            labels=labels,
            time_format="%m-%d %H:%M" if lang.tag != "en" else "%d %b %H:%M",
        )
        return Markup(svg)  # noqa: S704 - built by charts.sensor_chart, which escapes every text it writes

    return {
        "_": gettext,
        "ngettext": ngettext,
        "when": lang.when,
        "day": day,
        "number": lang.number,
        "country": lang.country,
        "step_label": step,
        "disposition": disposition,
        "quantity": quantity,
        "chart": chart,
        "unit": lambda code: UNIT_SYMBOLS.get(code or "", code or ""),
        "lang": lang.tag,
        "html_lang": "zh-Hans-CN" if lang.tag == "zh-CN" else lang.tag,
    }
