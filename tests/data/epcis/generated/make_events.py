"""Random EPCIS 2.0 events in the shapes the event hash must handle.

Run ``python make_events.py [seed] [count] > generated_events.json`` (defaults: seed 2024, 300 events); the output
is ``{"context": <document @context>, "events": [...]}``. Each event is hashed on its own, as if it were the only
event of a document with that ``@context`` (see README.md for the expected hashes).
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"example": "http://ns.example.com/epcis/"},
    {"ext2": "http://ns.example.org/v2#"},  # a namespace ending in '#': not a nested user extension for 1.9.3
]
STEPS = ["shipping", "receiving", "commissioning", "inspecting", "packing", "storing", "retail_selling", "arriving",
         "departing", "sensor_reporting", "holding", "destroying", "other", "transporting"]  # fmt: skip
DISPOSITIONS = ["in_transit", "in_progress", "active", "sellable_accessible", "destroyed", "recalled", "damaged"]
EXTENSION_VALUES: list[Any] = [
    "x", "shipping", "in_transit", "  padded  ", "", "2020-01-01T10:00:00+01:00",
    "urn:epc:id:sgtin:4012345.011111.9876",
    "gs1:Temperature", "example:ref", "42", "4.20", True, 3, 2.5, None, "Temperature", "po",
    "urn:epcglobal:cbv:bizstep:shipping", "https://ref.gs1.org/cbv/Disp-active", "active",
]  # fmt: skip


class Generator:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def digits(self, n: int) -> str:
        return "".join(self.r.choice("0123456789") for _ in range(n))

    def timestamp(self) -> str:
        fraction = self.r.choice(["", ".0", ".5", ".123", ".1234", ".0005", ".0015", ".9994", ".123456", ".1234567"])
        offset = self.r.choice(["Z", "+00:00", "+01:00", "-06:00", "+05:30", "+14:00", "-12:00"])
        day = f"20{self.digits(2)}-0{self.r.randint(1, 9)}-1{self.r.randint(0, 9)}"
        return f"{day}T{self.r.randint(10, 23)}:{self.r.randint(10, 59)}:{self.r.randint(10, 59)}{fraction}{offset}"

    def epc(self) -> str:
        k = self.r.random()
        if k < 0.5:
            prefix = self.r.choice([6, 7, 9, 12])
            serial = self.r.choice([self.digits(self.r.randint(1, 8)), "A" + self.digits(3), "x!y", "AB-12"])
            return f"urn:epc:id:sgtin:{self.digits(prefix)}.{self.digits(13 - prefix)}.{serial}"
        if k < 0.6:
            return f"urn:epc:id:sscc:{self.digits(7)}.{self.digits(10)}"
        if k < 0.7:
            return f"https://id.gs1.org/01/{self.digits(14)}/21/{self.digits(5)}"
        if k < 0.8:
            return f"https://example.com/01/{self.digits(13)}/10/L{self.digits(2)}/21/{self.digits(4)}?17=201231"
        if k < 0.9:
            return f"urn:epc:id:giai:{self.digits(7)}.{self.digits(5)}"
        return f"urn:uuid:{self.digits(8)}-aaaa-bbbb"

    def epc_class(self) -> str:
        k = self.r.random()
        if k < 0.5:
            lot = self.r.choice(["LOT1", self.digits(6), "2020-01-01"])
            return f"urn:epc:class:lgtin:{self.digits(7)}.{self.digits(6)}.{lot}"
        if k < 0.7:
            return f"urn:epc:idpat:sgtin:{self.digits(7)}.{self.digits(6)}.*"
        return f"https://id.gs1.org/01/{self.digits(14)}/10/{self.digits(4)}"

    def number(self) -> Any:
        return self.r.choice([10, 10.0, 0.5, 200.5, 1e3, 12.10, -3, 0, "7", "007", "1.50", 26.000001])

    def extension_value(self, depth: int = 0) -> Any:
        k = self.r.random()
        if depth < 2 and k < 0.15:
            keys = [f"example:{self.r.choice('abc')}" for _ in range(self.r.randint(1, 3))]
            return {key: self.extension_value(depth + 1) for key in keys}
        if depth < 2 and k < 0.25:
            return [self.extension_value(depth + 1) for _ in range(self.r.randint(0, 3))]
        return self.r.choice(EXTENSION_VALUES)

    def extensions(self) -> dict[str, Any]:
        names = ["f1", "f2", "myField", "transactionRef", "actionCode"]  # "action" inside a name is a 1.9.3 quirk
        keys = [f"{self.r.choice(['example', 'ext2'])}:{self.r.choice(names)}" for _ in range(self.r.randint(0, 3))]
        return {key: self.extension_value() for key in keys}

    def cbv(self, names: list[str], kind: str) -> str:
        k, name = self.r.random(), self.r.choice(names)
        if k < 0.6:
            return name
        if k < 0.75:
            return f"https://ref.gs1.org/cbv/{kind}-{name}"
        if k < 0.9:
            return f"urn:epcglobal:cbv:{kind.lower()}:{name}"
        return f"cbv:{kind}-{name}"

    def sensor_report(self) -> dict[str, Any]:
        kinds = [
            "Temperature",
            "AbsoluteHumidity",
            "gs1:Speed",
            "Illuminance",
            "https://gs1.org/voc/Mass",
            "Dimensionless",
        ]
        report: dict[str, Any] = {"type": self.r.choice(kinds)}
        if self.chance(0.8):
            report["value"] = self.r.choice([26, 26.0, 12.1, -3.5, 0, 1e-5])
        for key in ["minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"]:
            if self.chance(0.15):
                report[key] = self.number()
        if self.chance(0.8):
            report["uom"] = self.r.choice(["CEL", "KGM", "A93", "KMH"])
        optional: dict[str, Any] = {
            "time": self.timestamp(),
            "exception": self.r.choice(["ALARM_CONDITION", "ERROR_CONDITION"]),
            "component": self.r.choice(["x", "latitude", "cbv:Comp-y"]),
            "booleanValue": self.r.choice([True, False]),
            "stringValue": "abc",
            "hexBinaryValue": "f0f0",
            "uriValue": "https://example.com/x",
            "deviceID": "urn:epc:id:giai:4000001.222",
            "microorganism": "https://www.ncbi.nlm.nih.gov/taxonomy/1126011",
            "chemicalSubstance": "https://identifiers.org/inchikey:CZMRCDWAGMRECN-UGDNZRGBSA-N",
            "coordinateReferenceSystem": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        }
        report.update({key: value for key, value in optional.items() if self.chance(0.1)})
        if self.chance(0.2):
            report.update(self.extensions())
        return report

    def sensor_element(self) -> dict[str, Any]:
        element: dict[str, Any] = {}
        if self.chance(0.7):
            metadata: dict[str, Any] = {
                key: self.timestamp() for key in ["time", "startTime", "endTime"] if self.chance(0.4)
            }
            devices = ["urn:epc:id:giai:4000001.111", "https://id.gs1.org/8004/4000001111", "https://example.org/raw/1"]
            for key in ["deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules"]:
                if self.chance(0.3):
                    metadata[key] = self.r.choice(devices)
            if self.chance(0.3):
                metadata.update(self.extensions())
            element["sensorMetadata"] = metadata
        element["sensorReport"] = [self.sensor_report() for _ in range(self.r.randint(1, 4))]
        if self.chance(0.2):
            element.update(self.extensions())
        return element

    def quantities(self, n: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(n):
            element: dict[str, Any] = {"epcClass": self.epc_class()}
            if self.chance(0.8):
                element["quantity"] = self.number()
            if self.chance(0.5):
                element["uom"] = "KGM"
            out.append(element)
        return out

    def parties(self, key: str) -> list[dict[str, Any]]:
        ids = [
            f"urn:epc:id:pgln:{self.digits(7)}.{self.digits(5)}",
            f"urn:epc:id:sgln:{self.digits(7)}.{self.digits(5)}.0",
        ]
        kinds = ["owning_party", "possessing_party", "location"]
        return [{"type": self.r.choice(kinds), key: self.r.choice(ids)} for _ in range(self.r.randint(1, 3))]

    def transactions(self) -> list[dict[str, Any]]:
        kinds = ["po", "desadv", "inv", "urn:epcglobal:cbv:btt:po", "https://ref.gs1.org/cbv/BTT-bol"]
        ids = [
            f"urn:epcglobal:cbv:bt:{self.digits(13)}:{self.digits(4)}",
            f"urn:epc:id:gdti:{self.digits(7)}.{self.digits(5)}.{self.digits(3)}",
            "http://transaction.acme.com/po/1",
        ]
        return [
            {"type": self.r.choice(kinds), "bizTransaction": self.r.choice(ids)} for _ in range(self.r.randint(1, 3))
        ]

    def what(self, kind: str, event: dict[str, Any]) -> None:
        if kind in ("ObjectEvent", "TransactionEvent"):
            if self.chance(0.8):
                event["epcList"] = [self.epc() for _ in range(self.r.randint(0, 4))]
            if self.chance(0.4):
                event["quantityList"] = self.quantities(self.r.randint(1, 3))
        if kind in ("AggregationEvent", "AssociationEvent", "TransactionEvent") and self.chance(0.8):
            parents = [f"urn:epc:id:sscc:{self.digits(7)}.{self.digits(10)}",
                       f"urn:epc:id:grai:{self.digits(7)}.{self.digits(5)}.{self.digits(3)}"]  # fmt: skip
            event["parentID"] = self.r.choice(parents)
        if kind in ("AggregationEvent", "AssociationEvent"):
            if self.chance(0.8):
                event["childEPCs"] = [self.epc() for _ in range(self.r.randint(1, 4))]
            if self.chance(0.4):
                event["childQuantityList"] = [{"epcClass": self.epc_class(), "quantity": self.number(), "uom": "KGM"}]
        if kind == "TransformationEvent":
            for key in ["inputEPCList", "outputEPCList"]:
                if self.chance(0.7):
                    event[key] = [self.epc() for _ in range(self.r.randint(1, 3))]
            for key in ["inputQuantityList", "outputQuantityList"]:
                if self.chance(0.5):
                    event[key] = [{"epcClass": self.epc_class(), "quantity": self.number()}]
            if self.chance(0.5):
                event["transformationID"] = f"urn:epc:id:gdti:{self.digits(7)}.{self.digits(5)}.{self.digits(3)}"

    def event(self) -> dict[str, Any]:
        kinds = ["ObjectEvent", "ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent",
                 "AssociationEvent"]  # fmt: skip
        kind = self.r.choice(kinds)
        offset = self.r.choice(["+01:00", "-06:00", "+00:00", "+05:30"])
        event: dict[str, Any] = {"type": kind, "eventTime": self.timestamp(), "eventTimeZoneOffset": offset}
        if self.chance(0.3):
            event["recordTime"] = self.timestamp()
        if self.chance(0.3):
            event["eventID"] = f"urn:uuid:{self.digits(8)}"
        if kind != "TransformationEvent":
            event["action"] = self.r.choice(["ADD", "OBSERVE", "DELETE"])
        self.what(kind, event)
        if self.chance(0.9):
            event["bizStep"] = self.cbv(STEPS, "BizStep") if self.chance(0.9) else "https://example.com/steps/custom"
        if self.chance(0.7):
            event["disposition"] = self.cbv(DISPOSITIONS, "Disp")
        if self.chance(0.2):
            keys = self.r.sample(["set", "unset"], self.r.randint(1, 2))
            event["persistentDisposition"] = {key: [self.r.choice(DISPOSITIONS)] for key in keys}
        if self.chance(0.8):
            read_points = [f"urn:epc:id:sgln:{self.digits(7)}.{self.digits(5)}.{self.r.choice(['0', self.digits(3)])}",
                           "geo:47.5,11.1", f"https://id.gs1.org/414/{self.digits(13)}"]  # fmt: skip
            event["readPoint"] = {"id": self.r.choice(read_points)}
            if self.chance(0.2):
                event["readPoint"].update(self.extensions())
        if self.chance(0.5):
            event["bizLocation"] = {"id": f"urn:epc:id:sgln:{self.digits(7)}.{self.digits(5)}.0"}
        if kind == "TransactionEvent" or self.chance(0.4):
            event["bizTransactionList"] = self.transactions()
        for key, member in [("sourceList", "source"), ("destinationList", "destination")]:
            if self.chance(0.4):
                event[key] = self.parties(member)
        if self.chance(0.3):
            event["sensorElementList"] = [self.sensor_element() for _ in range(self.r.randint(1, 2))]
        if self.chance(0.15):
            event["certificationInfo"] = self.r.choice(["https://example.org/certificate/ABC1",
                                                        ["https://a.example/1", "https://b.example/2"]])  # fmt: skip
        if kind in ("ObjectEvent", "TransformationEvent") and self.chance(0.3):
            lot = self.r.choice(["007", "LOT-1"])
            event["ilmd"] = {"example:bestBeforeDate": "2024-01-01", "cbvmda:countryOfOrigin": "DE", "example:lot": lot}
        if self.chance(0.1):
            event["errorDeclaration"] = {"declarationTime": self.timestamp(), "reason": "incorrect_data"}
        event.update(self.extensions())
        keys = list(event)
        self.r.shuffle(keys)  # key order must not matter
        return {key: event[key] for key in keys}


def main() -> None:
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 2024
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    generator = Generator(seed)
    lines = ",\n".join(json.dumps(generator.event()) for _ in range(count))
    sys.stdout.write(f'{{"context": {json.dumps(CONTEXT)},\n"events": [\n{lines}\n]}}\n')


if __name__ == "__main__":
    main()
