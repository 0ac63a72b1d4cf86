"""Loading policy documents and checking them against the contracts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contracts import CONTRACTS, FieldSpec, Sensitivity, Visit, bare, is_text
from policies.errors import PolicyInvalid, Problem
from policies.model import KindGrant, Policy, Treatment


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
    row rules on fields the store keeps sealed (they could not be compiled into SQL)."""
    problems = []
    for kind, grant in policy.kinds.items():
        model = CONTRACTS.get(kind)
        if model is None:
            problems.append(Problem(f"kinds.{kind}", f"no record kind {kind!r}"))
            continue
        specs = {spec.name: spec for spec in model.specs()}
        for where, name in [
            *((f"kinds.{kind}.rows.jurisdiction", j.field) for j in grant.rows.jurisdiction),
            *((f"kinds.{kind}.rows.where", c.field) for c in grant.rows.where),
        ]:
            spec = specs.get(name)
            if spec is None:
                problems.append(Problem(where, f"{kind} has no field {name!r}"))
            elif spec.sensitivity.encrypted_at_rest:
                problems.append(Problem(where, f"{kind}.{name} is sealed at rest: no row rule"))
        problems += _write_problems(policy, kind, grant, specs)
        for name, treatment in grant.fields.items():
            where = f"kinds.{kind}.fields.{name}"
            spec = specs.get(name)
            if spec is None:
                problems.append(Problem(where, f"{kind} has no field {name!r}"))
                continue
            problem = _misfit(spec, treatment, police=policy.police)
            if problem:
                problems.append(Problem(where, problem))
    return problems


def _write_problems(
    policy: Policy, kind: str, grant: KindGrant, specs: dict[str, FieldSpec]
) -> list[Problem]:
    where = f"kinds.{kind}.write"
    if "write" not in grant.actions:
        return (
            [Problem(where, "write lists fields, but write is not an action")]
            if grant.write
            else []
        )
    if not grant.write:
        return [Problem(where, "write is an action: list the fields it may write")]
    problems = []
    for name in grant.write:
        spec = specs.get(name)
        if spec is None:
            problems.append(Problem(where, f"{kind} has no field {name!r}"))
        elif spec.sensitivity is Sensitivity.POLICE_ONLY and not policy.police:
            problems.append(
                Problem(where, f"{name} is police_only: only a police policy writes it")
            )
        elif kind == Visit.kind and name not in Visit.STATED:
            stated = ", ".join(sorted(Visit.STATED))
            problems.append(Problem(where, f"the hub fills {name}; a visitor states {stated}"))
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
