"""Sharing policies: the model, the loader and checks, the evaluator, ``explain``.

Imports only ``contracts``: the hub compiles a decision's row scope into its queries.
"""

from policies.compiled import CompiledPolicy, compiled
from policies.errors import AccessDenied, PolicyError, PolicyInvalid, Problem
from policies.evaluate import (
    Citation,
    Claims,
    Decision,
    Match,
    RowScope,
    admits,
    decide,
    decide_break_glass,
    holds,
    row_scope,
)
from policies.explain import FieldGrant, explain
from policies.loader import (
    REVIEW_ROW_CLASSES,
    check_policy,
    load_policies,
    load_policy,
    parse_policy,
)
from policies.model import (
    BreakGlassGrant,
    Condition,
    Jurisdiction,
    KindGrant,
    Policy,
    PurposeRule,
    Rows,
    Treatment,
    WorkOrderGrant,
)
from policies.transform import PseudonymKey, mask, pseudonym, treat
from policies.work_orders import Side, decide_receiving, decide_step

__all__ = [
    "REVIEW_ROW_CLASSES",
    "AccessDenied",
    "BreakGlassGrant",
    "Citation",
    "Claims",
    "CompiledPolicy",
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
    "PseudonymKey",
    "PurposeRule",
    "RowScope",
    "Rows",
    "Side",
    "Treatment",
    "WorkOrderGrant",
    "admits",
    "check_policy",
    "compiled",
    "decide",
    "decide_break_glass",
    "decide_receiving",
    "decide_step",
    "explain",
    "holds",
    "load_policies",
    "load_policy",
    "mask",
    "parse_policy",
    "pseudonym",
    "row_scope",
    "treat",
]
