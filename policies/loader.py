"""Loading policy documents and checking them against the contracts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from contracts import (
    CONTRACTS,
    FieldSpec,
    Sensitivity,
    Step,
    Visit,
    WorkOrder,
    bare,
    is_structured,
    is_text,
)
from policies.errors import PolicyInvalid, Problem
from policies.model import KindGrant, Policy, Rows, Treatment

REVIEW_ROW_CLASSES = frozenset({Sensitivity.PUBLIC, Sensitivity.INTERNAL})
"""What the review queue keeps of a submission in clear, beside its sealed record: the
values of its single-valued fields of these classes (codes, types, counts; nothing that
says who), so that reviewers' row scopes compile into SQL over the queue."""


def load_policy(path: Path) -> Policy:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyInvalid(str(path), [Problem("(file)", str(exc))]) from None
    return parse_policy(document, str(path))


def parse_policy(document: Any, source: str = "(document)") -> Policy:
    try:
        policy = Policy.model_validate(document)
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in error["loc"]) or "(policy)", error["msg"])
            for error in exc.errors(include_url=False)
        ]
        raise PolicyInvalid(source, problems) from None
    problems = check_policy(policy)
    if problems:
        raise PolicyInvalid(source, problems)
    return policy


def check_policy(policy: Policy) -> list[Problem]:
    """What in ``policy`` the contracts cannot honour: unknown kinds and fields,
    treatments that do not fit a field, police-only fields granted outside the police,
    row rules on fields the store keeps sealed (they could not be compiled into SQL),
    write and submit lists that do not match the actions, review rows the review queue
    cannot compile."""
    problems = []
    for kind, grant in policy.kinds.items():
        model = CONTRACTS.get(kind)
        if model is None:
            problems.append(Problem(f"kinds.{kind}", f"no record kind {kind!r}"))
            continue
        specs = {spec.name: spec for spec in model.specs()}
        problems += _row_problems(f"kinds.{kind}.rows", kind, grant.rows, specs)
        problems += _field_list_problems(policy, kind, grant, specs, "write")
        problems += _field_list_problems(policy, kind, grant, specs, "submit")
        problems += _review_problems(kind, grant, specs)
        problems += _aggregate_problems(kind, grant, specs)
        for name, treatment in grant.fields.items():
            where = f"kinds.{kind}.fields.{name}"
            spec = specs.get(name)
            if spec is None:
                problems.append(Problem(where, f"{kind} has no field {name!r}"))
                continue
            problem = _misfit(spec, treatment, police=policy.police)
            if problem:
                problems.append(Problem(where, problem))
    return (
        problems
        + _work_order_problems(policy)
        + _case_problems(policy)
        + _break_glass_problems(policy)
    )


def _break_glass_problems(policy: Policy) -> list[Problem]:
    glass = policy.break_glass
    if glass is None:
        return []
    problems = [
        Problem("break_glass.kinds", f"no record kind {kind!r}")
        for kind in glass.kinds
        if kind not in CONTRACTS
    ]
    if not glass.kinds and not glass.approve:
        problems.append(Problem("break_glass", "break_glass grants neither kinds nor approve"))
    return problems


def _case_problems(policy: Policy) -> list[Problem]:
    """A purpose bound to a case needs the policy to read that kind of case: whether a
    cited case is within the caller's jurisdiction is judged by those rows."""
    return [
        Problem(
            f"purposes.{purpose}",
            f"requires a {kind} case, but {policy.ref} does not grant read on {kind}",
        )
        for purpose, kind in policy.cases.items()
        if kind not in policy.kinds or "read" not in policy.kinds[kind].actions
    ]


def _row_problems(where: str, kind: str, rows: Rows, specs: dict[str, FieldSpec]) -> list[Problem]:
    problems = []
    for at, name in [
        *((f"{where}.jurisdiction", j.field) for j in rows.jurisdiction),
        *((f"{where}.where", c.field) for c in rows.where),
    ]:
        spec = specs.get(name)
        if spec is None:
            problems.append(Problem(at, f"{kind} has no field {name!r}"))
        elif spec.sensitivity.encrypted_at_rest:
            problems.append(Problem(at, f"{kind}.{name} is sealed at rest: no row rule"))
    return problems


def _work_order_problems(policy: Policy) -> list[Problem]:
    """Work orders change by steps only: ``write`` on them is refused (a write would
    replace the history), and ``work_orders`` names known steps on real fields."""
    problems = []
    grant = policy.kinds.get(WorkOrder.kind)
    if grant is not None and "write" in grant.actions:
        problems.append(
            Problem(
                f"kinds.{WorkOrder.kind}.actions",
                "work orders are kept by the hub: grant their steps under work_orders, not write",
            )
        )
    steps = policy.work_orders
    if steps is None:
        return problems
    specs = {spec.name: spec for spec in WorkOrder.specs()}
    problems += _row_problems("work_orders.rows", WorkOrder.kind, steps.rows, specs)
    known = {step.value for step in Step}
    for side, names in (("issue", steps.issue), ("receive", steps.receive)):
        problems += [
            Problem(f"work_orders.{side}", f"no work-order step {name!r}")
            for name in names
            if name not in known
        ]
    if Step.DISPATCH.value in steps.receive:
        problems.append(Problem("work_orders.receive", "派发 opens an order: only its issuer"))
    if not steps.issue and not steps.receive:
        problems.append(Problem("work_orders", "work_orders grants no step to either side"))
    return problems


def _field_list_problems(
    policy: Policy,
    kind: str,
    grant: KindGrant,
    specs: dict[str, FieldSpec],
    action: Literal["write", "submit"],
) -> list[Problem]:
    """``write:`` and ``submit:`` alike: listed if and only if the action is granted, every
    name a field of the kind, no police-only field outside a police policy."""
    where = f"kinds.{kind}.{action}"
    names = grant.write if action == "write" else grant.submit
    if action not in grant.actions:
        return (
            [Problem(where, f"{action} lists fields, but {action} is not an action")]
            if names
            else []
        )
    if not names:
        return [Problem(where, f"{action} is an action: list the fields it may {action}")]
    problems = []
    for name in names:
        spec = specs.get(name)
        if spec is None:
            problems.append(Problem(where, f"{kind} has no field {name!r}"))
        elif spec.sensitivity is Sensitivity.POLICE_ONLY and not policy.police:
            problems.append(
                Problem(where, f"{name} is police_only: only a police policy {action}s it")
            )
        elif kind == Visit.kind and name not in Visit.STATED:
            stated = ", ".join(sorted(Visit.STATED))
            problems.append(Problem(where, f"the hub fills {name}; a visitor states {stated}"))
    return problems


def _review_problems(kind: str, grant: KindGrant, specs: dict[str, FieldSpec]) -> list[Problem]:
    """A reviewer's rows are compiled against what the review queue keeps in clear of a
    submission (``REVIEW_ROW_CLASSES``, scalar): a row rule on any other field could never
    admit one."""
    if "review" not in grant.actions:
        return []
    problems = []
    for name in [*(j.field for j in grant.rows.jurisdiction), *(c.field for c in grant.rows.where)]:
        spec = specs.get(name)
        if spec is not None and (
            spec.sensitivity not in REVIEW_ROW_CLASSES or is_structured(spec.info.annotation)
        ):
            problems.append(
                Problem(
                    f"kinds.{kind}.rows",
                    f"{kind}.{name} is not kept in clear in the review queue: "
                    "a review grant's rows name public or internal single-valued fields",
                )
            )
    return problems


def _aggregate_problems(kind: str, grant: KindGrant, specs: dict[str, FieldSpec]) -> list[Problem]:
    """An aggregates-only grant serves no value: it reads (counts), and its fields are the
    ones counts are grouped and filtered by, in clear, on columns the store keeps in clear
    (a filter on a sealed field, an ID number, would tell whether one person is there).
    Its ``min_cell`` is at least 2: a cell of one is a person."""
    if grant.access != "aggregate":
        return []
    where = f"kinds.{kind}"
    problems = []
    if grant.actions != ["read"]:
        problems.append(Problem(f"{where}.actions", "an aggregates-only grant reads: [read]"))
    if grant.min_cell < 2:
        problems.append(Problem(f"{where}.min_cell", "aggregates-only needs min_cell of 2 or more"))
    for name, treatment in grant.fields.items():
        spec = specs.get(name)
        if treatment not in (Treatment.ALLOW, Treatment.DENY):
            problems.append(
                Problem(
                    f"{where}.fields.{name}",
                    f"{treatment.value}: an aggregates-only grant serves no value; "
                    "allow (count by it) or deny",
                )
            )
        elif (
            treatment is Treatment.ALLOW and spec is not None and spec.sensitivity.encrypted_at_rest
        ):
            problems.append(
                Problem(
                    f"{where}.fields.{name}", f"{kind}.{name} is sealed at rest: no count by it"
                )
            )
    return problems


def _misfit(spec: FieldSpec, treatment: Treatment, *, police: bool) -> str | None:
    if treatment is Treatment.DENY:
        return None
    if spec.sensitivity is Sensitivity.POLICE_ONLY and not police:
        return f"{spec.name} is police_only: only a police policy may grant it"
    scalar = bare(spec.info.annotation)
    if treatment is Treatment.YEAR_ONLY and not (
        isinstance(scalar, type) and issubclass(scalar, dt.date)
    ):
        return f"year_only needs a date field; {spec.name} is not one"
    if treatment in (Treatment.MASK, Treatment.HASH) and not is_text(spec.info.annotation):
        return f"{treatment.value} needs a text field (or a list of text); {spec.name} is not one"
    return None


def load_policies(folder: Path) -> dict[str, Policy]:
    """Every ``*.yaml`` policy in ``folder``, by id; two files with one id are an error."""
    policies: dict[str, Policy] = {}
    for path in sorted(folder.glob("*.yaml")):
        policy = load_policy(path)
        if policy.id in policies:
            raise PolicyInvalid(str(path), [Problem("id", f"{policy.id!r} is defined twice")])
        policies[policy.id] = policy
    return policies
