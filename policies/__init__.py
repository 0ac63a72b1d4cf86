"""Sharing policies: the model, the loader and checks, the evaluator, ``explain``.

Imports only ``contracts``: the hub compiles a decision's row scope into its queries.
"""

from policies.errors import AccessDenied, PolicyError, PolicyInvalid, Problem
from policies.evaluate import Claims, Decision, Match, RowScope, admits, decide
from policies.explain import FieldGrant, explain
from policies.loader import (
    REVIEW_ROW_CLASSES,
    check_policy,
    load_policies,
    load_policy,
    parse_policy,
)
from policies.model import (
    Condition,
    Jurisdiction,
    KindGrant,
    Policy,
    Rows,
    Treatment,
    WorkOrderGrant,
)
from policies.transform import mask, pseudonym, treat

__all__ = [
    "REVIEW_ROW_CLASSES",
    "AccessDenied",
    "Claims",
    "Condition",
    "Decision",
    "FieldGrant",
    "Jurisdiction",
    "KindGrant",
    "Match",
    "Policy",
    "PolicyError",
    "PolicyInvalid",
    "Problem",
    "RowScope",
    "Rows",
    "Treatment",
    "WorkOrderGrant",
    "admits",
    "check_policy",
    "decide",
    "explain",
    "load_policies",
    "load_policy",
    "mask",
    "parse_policy",
    "pseudonym",
    "treat",
]
