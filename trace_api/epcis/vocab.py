"""GS1 CBV 2.0 vocabulary: business steps, dispositions and the other enumerated types, and the contract steps.

The bare names are the JSON-LD terms of the EPCIS 2.0 context (``epcis-context.jsonld``); each one stands for a
CBV web URI such as ``https://ref.gs1.org/cbv/BizStep-shipping``. Only the business steps in :data:`STEP_CODES`
have a step on chain (``ITraceRegistry.Step``); any other valid step is anchored under a Merkle root only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from trace_api.chain.artifacts import load_enums

__all__ = [
    "BIZ_STEPS",
    "BIZ_TRANSACTION_TYPES",
    "CBV_URI",
    "CONTEXT_PREFIXES",
    "DISPOSITIONS",
    "ERROR_REASONS",
    "GS1_VOC_URI",
    "MEASUREMENT_TYPES",
    "SENSOR_COMPONENTS",
    "SENSOR_EXCEPTIONS",
    "SOURCE_DESTINATION_TYPES",
    "STEP_CODES",
    "biz_step_name",
    "disposition_name",
    "step_code",
]

CBV_URI = "https://ref.gs1.org/cbv/"
GS1_VOC_URI = "https://gs1.org/voc/"

BIZ_STEPS: frozenset[str] = frozenset(
    [
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "sampling",
        "sensor_reporting",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
    ]
)

DISPOSITIONS: frozenset[str] = frozenset(
    [
        "active",
        "available",
        "completeness_verified",
        "completeness_inferred",
        "conformant",
        "container_closed",
        "container_open",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "mismatch_instance",
        "mismatch_class",
        "mismatch_quantity",
        "needs_replacement",
        "no_pedigree_match",
        "non_conformant",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unavailable",
        "unknown",
    ]
)

BIZ_TRANSACTION_TYPES: frozenset[str] = frozenset(
    [
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    ]
)
SOURCE_DESTINATION_TYPES: frozenset[str] = frozenset({"owning_party", "possessing_party", "location"})
ERROR_REASONS: frozenset[str] = frozenset({"did_not_occur", "incorrect_data"})

# Sensor vocabularies live in the GS1 web vocabulary (https://gs1.org/voc/), not in the CBV.
MEASUREMENT_TYPES: frozenset[str] = frozenset(
    [
        "AbsoluteHumidity",
        "AbsorbedDose",
        "AbsorbedDoseRate",
        "Acceleration",
        "Radioactivity",
        "Altitude",
        "AmountOfSubstance",
        "AmountOfSubstancePerUnitVolume",
        "Angle",
        "AngularAcceleration",
        "AngularMomentum",
        "AngularVelocity",
        "Area",
        "Capacitance",
        "Conductance",
        "Conductivity",
        "Count",
        "Density",
        "Dimensionless",
        "DoseEquivalent",
        "DoseEquivalentRate",
        "DynamicViscosity",
        "ElectricCharge",
        "ElectricCurrent",
        "ElectricCurrentDensity",
        "ElectricFieldStrength",
        "Energy",
        "Exposure",
        "Force",
        "Frequency",
        "Illuminance",
        "Inductance",
        "Irradiance",
        "KinematicViscosity",
        "Length",
        "LinearMomentum",
        "Luminance",
        "LuminousFlux",
        "LuminousIntensity",
        "MagneticFlux",
        "MagneticFluxDensity",
        "MagneticVectorPotential",
        "Mass",
        "MassConcentration",
        "MassFlowRate",
        "MassPerAreaTime",
        "MemoryCapacity",
        "MolalityOfSolute",
        "MolarEnergy",
        "MolarMass",
        "MolarVolume",
        "Power",
        "Pressure",
        "RadiantFlux",
        "RadiantIntensity",
        "RelativeHumidity",
        "Resistance",
        "Resistivity",
        "SolidAngle",
        "SpecificVolume",
        "Speed",
        "SurfaceDensity",
        "SurfaceTension",
        "Temperature",
        "Time",
        "Torque",
        "Voltage",
        "Volume",
        "VolumeFlowRate",
        "VolumeFraction",
        "VolumetricFlux",
        "Wavenumber",
    ]
)
SENSOR_EXCEPTIONS: frozenset[str] = frozenset({"ALARM_CONDITION", "ERROR_CONDITION"})
SENSOR_COMPONENTS: frozenset[str] = frozenset(
    [
        "x",
        "y",
        "z",
        "axial_distance",
        "azimuth",
        "height",
        "spherical_radius",
        "polar_angle",
        "elevation_angle",
        "easting",
        "northing",
        "latitude",
        "longitude",
        "altitude",
    ]
)


def _snake(member: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", member).lower()


STEP_CODES: Mapping[str, int] = MappingProxyType(
    {_snake(member): code for code, member in enumerate(load_enums()["ITraceRegistry.Step"])}
)
"""bizStep name -> ``ITraceRegistry.Step`` (uint8), read from the compiled contract's enum (``RetailSelling`` is
``retail_selling``). ``transforming`` is this project's name for the step of a
TransformationEvent; it is not a CBV 2.0 term, so it is only accepted where a step is looked up, never as bizStep."""

_BIZ_STEP_FORMS = ("cbv:BizStep-", CBV_URI + "BizStep-", "urn:epcglobal:cbv:bizstep:")
_DISPOSITION_FORMS = ("cbv:Disp-", CBV_URI + "Disp-", "urn:epcglobal:cbv:disp:")


def _cbv_name(value: str, forms: tuple[str, ...], names: frozenset[str]) -> str | None:
    for prefix in forms:
        if value.startswith(prefix):
            name = value[len(prefix) :]
            return name if name in names else None
    return value if value in names else None


def biz_step_name(value: str) -> str | None:
    """The CBV name of a bizStep given as ``shipping``, ``cbv:BizStep-shipping``, its web URI or its URN.

    None for anything else, e.g. a company's own step URI, which EPCIS allows.
    """
    return _cbv_name(value, _BIZ_STEP_FORMS, BIZ_STEPS)


def disposition_name(value: str) -> str | None:
    """The CBV name of a disposition in any of its forms (see :func:`biz_step_name`), or None."""
    return _cbv_name(value, _DISPOSITION_FORMS, DISPOSITIONS)


def step_code(bizstep: str) -> int | None:
    """The contract's ``Step`` for a bizStep in any accepted form, or None when it has no on-chain step."""
    name = biz_step_name(bizstep)
    if name is None and bizstep in STEP_CODES:
        name = bizstep
    return STEP_CODES.get(name) if name is not None else None


# The prefixes GS1's EPCIS 2.0 JSON-LD context declares, which an event may use without declaring them itself.
CONTEXT_PREFIXES: Mapping[str, str] = MappingProxyType(
    {
        "epcis": "https://ref.gs1.org/epcis/",
        "cbv": CBV_URI,
        "cbvmda": "urn:epcglobal:cbv:mda:",
        "gs1": GS1_VOC_URI,
        "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
        "owl": "http://www.w3.org/2002/07/owl#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "dcterms": "http://purl.org/dc/terms/",
    }
)
