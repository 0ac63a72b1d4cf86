"""Canonical record contracts of the hub (一标三实 and the police-grid closed loop).

Imports nothing else of the project: policies, connectors and the hub build on it.
"""

from contracts.errors import ContractError, Failure, RecordInvalid, UnknownKind
from contracts.flat import header_names, unflatten
from contracts.kinds.address import Address
from contracts.kinds.house import House, HouseUse
from contracts.kinds.incident import Channel, Incident, IncidentStatus, IncidentType, RiskLevel
from contracts.kinds.person import HouseholdType, Person
from contracts.kinds.unit import Unit, UnitType
from contracts.kinds.visit import (
    VERIFIED_KINDS,
    VerifiedKind,
    Visit,
    VisitorSide,
    VisitResult,
)
from contracts.kinds.work_order import (
    NEXT_STATUSES,
    STEP_TO,
    STEPS,
    OrderStatus,
    OrderType,
    Priority,
    RelatedKind,
    StatusChange,
    Step,
    StepRule,
    WorkOrder,
    next_deadline,
    step_refusal,
)
from contracts.meta import FieldSpec, Sensitivity, field, field_specs
from contracts.record import Record
from contracts.registry import CONTRACTS, contract, json_schema
from contracts.relations import RELATIONS, Relation
from contracts.types import bare, is_structured, is_text, untyped

__all__ = [
    "CONTRACTS",
    "NEXT_STATUSES",
    "RELATIONS",
    "STEPS",
    "STEP_TO",
    "VERIFIED_KINDS",
    "Address",
    "Channel",
    "ContractError",
    "Failure",
    "FieldSpec",
    "House",
    "HouseUse",
    "HouseholdType",
    "Incident",
    "IncidentStatus",
    "IncidentType",
    "OrderStatus",
    "OrderType",
    "Person",
    "Priority",
    "Record",
    "RecordInvalid",
    "RelatedKind",
    "Relation",
    "RiskLevel",
    "Sensitivity",
    "StatusChange",
    "Step",
    "StepRule",
    "Unit",
    "UnitType",
    "UnknownKind",
    "VerifiedKind",
    "Visit",
    "VisitResult",
    "VisitorSide",
    "WorkOrder",
    "bare",
    "contract",
    "field",
    "field_specs",
    "header_names",
    "is_structured",
    "is_text",
    "json_schema",
    "next_deadline",
    "step_refusal",
    "unflatten",
    "untyped",
]
