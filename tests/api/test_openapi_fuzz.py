"""Schemathesis against the running hub's own ``/openapi.json``: whatever a client sends
that fits (or nearly fits) the schema, the hub answers without a server error.

Calls carry the police client's token, so the data endpoints get past authentication;
``purpose`` and the record ``kind`` are mostly drawn from the policies and contracts,
so the fuzzing reaches the sharing flow rather than stopping at the first refusal.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.hooks import HookContext
from schemathesis.schemas import APIOperation, BaseSchema

from contracts import CONTRACTS
from policies import load_policies
from tests.api.conftest import EXAMPLES, Hub

PURPOSES = sorted({p for policy in load_policies(EXAMPLES).values() for p in policy.purposes})
KINDS = sorted(CONTRACTS)
DATA_PATHS = ("/v1/records", "/v1/profiles")
MAX_EXAMPLES = 30


def _reaches_data(context: HookContext) -> bool:
    return context.operation is not None and context.operation.path.startswith(DATA_PATHS)


@pytest.fixture(scope="module")
def police_token(hub: Hub) -> str:
    return hub.token("police")


@pytest.fixture(scope="module")
def hub_schema(hub: Hub) -> BaseSchema:
    schema = schemathesis.openapi.from_url(f"{str(hub.http.base_url).rstrip('/')}/openapi.json")

    @schema.hook
    def flatmap_query(context: HookContext, query: dict[str, Any] | None) -> Any:
        """Mostly a purpose some policy grants; sometimes what was generated."""
        if not _reaches_data(context):
            return st.just(query)
        purposes = st.sampled_from([*PURPOSES, None])
        return purposes.map(lambda p: query if p is None else {**(query or {}), "purpose": p})

    @schema.hook
    def flatmap_path_parameters(context: HookContext, path: dict[str, Any] | None) -> Any:
        """Mostly a real record kind; sometimes what was generated."""
        if not _reaches_data(context) or not path or "kind" not in path:
            return st.just(path)
        if context.operation is not None and context.operation.path.startswith("/v1/profiles"):
            return st.just(path)  # the schema already says person or house
        kinds = st.sampled_from([*KINDS, None])
        return kinds.map(lambda k: path if k is None else {**path, "kind": k})

    return schema


Operation = APIOperation[Any, Any, Any, Any]


def _fuzz(operation: Operation, mode: GenerationMode, token: str, seen: Counter[int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case[Any]) -> None:
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
        )
        seen[response.status_code] += 1

    run()


@pytest.mark.slow
def test_no_input_makes_the_hub_fail(hub_schema: BaseSchema, police_token: str) -> None:
    """Every operation, with data that fits its schema and data that does not.

    (``schemathesis.pytest.from_fixture`` would give one pytest item per operation, but
    schemathesis 4.32 reads ``Node._nodeid``, which pytest 9.2 no longer has; the
    documented ``as_strategy`` route runs the same generation and checks.)"""
    failures: list[str] = []
    statuses: dict[str, Counter[int]] = {}
    for result in hub_schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"the schema is not valid: {result.err()}")
            continue
        operation = result.ok()
        seen = statuses.setdefault(operation.label, Counter())
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, police_token, seen)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters
            except (Exception, BaseExceptionGroup) as exc:  # all operations tried, all reported
                failures.append(f"{operation.label} ({mode}):\n{exc}")
    assert len(statuses) >= 7
    # The token and the purposes got the fuzzing past the gate into the sharing flow.
    assert statuses["GET /v1/records/{kind}"][200] > 0, statuses
    assert not failures, "\n\n".join(failures)
