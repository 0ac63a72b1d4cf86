"""Schemathesis against the work-order routes of the served hub: whatever a party sends
that fits (or nearly fits) the schema, the hub answers without a server error, and the
order's history stays a valid loop."""

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
from schemathesis.schemas import APIOperation

from contracts import WorkOrder
from tests.work.conftest import PURPOSE, Loop

PREFIX = "/v1/work-orders"
MAX_EXAMPLES = 15


def _ours(context: HookContext) -> bool:
    return context.operation is not None and context.operation.path.startswith(PREFIX)


@pytest.mark.slow
def test_no_input_to_the_work_order_routes_makes_the_hub_fail(loop: Loop) -> None:
    placed = loop.dispatch()
    refs = [placed["id"], loop.ref("grid", placed["order_id"])]
    schema = schemathesis.openapi.from_url(f"{str(loop.http.base_url).rstrip('/')}/openapi.json")

    @schema.hook
    def flatmap_query(context: HookContext, query: dict[str, Any] | None) -> Any:
        if not _ours(context):
            return st.just(query)
        purposes = st.sampled_from([*set(PURPOSE.values()), None])
        return purposes.map(lambda p: query if p is None else {**(query or {}), "purpose": p})

    @schema.hook
    def flatmap_path_parameters(context: HookContext, path: dict[str, Any] | None) -> Any:
        if not _ours(context) or not path or "order_id" not in path:
            return st.just(path)
        return st.sampled_from([*refs, None]).map(
            lambda ref: path if ref is None else {**path, "order_id": ref}
        )

    failures: list[str] = []
    seen: Counter[int] = Counter()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok)
        operation = result.ok()
        if not operation.path.startswith(PREFIX):
            continue
        for who in ("police", "grid"):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _fuzz(operation, mode, loop.token(who), seen)
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE
                except (Exception, BaseExceptionGroup) as exc:
                    failures.append(f"{operation.label} ({who}, {mode}):\n{exc}")
    assert not failures, "\n\n".join(failures)
    assert seen[200] > 0
    assert seen[400] > 0
    [stored] = loop.stored(placed["order_id"])
    assert WorkOrder.parse(stored.record.model_dump())  # still a valid loop


def _fuzz(
    operation: APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    token: str,
    seen: Counter[int],
) -> None:
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
