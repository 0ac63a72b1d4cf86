"""JSON bodies made with orjson, for the routes whose answers are large and hot (a page of
records): the route's ``response_model`` still documents the body in OpenAPI, but the
dicts the sharing service built are written out as they are, not validated again into
models and dumped a second time. Times are written as pydantic writes them (UTC as
``Z``), so a client sees the same text either way."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel

OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_response(content: Any, status_code: int = 200) -> Response:
    body = orjson.dumps(content, default=_default, option=OPTIONS)
    return Response(body, status_code=status_code, media_type="application/json")
