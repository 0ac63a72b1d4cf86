"""Reading a contract field's annotation: the one walker the store, policies and flat rows use.

Contracts annotate fields with wrappers (``Annotated`` checks, ``X | None``, ``list[X]``);
these functions answer what the field holds underneath, so every caller reads a field the
same way.
"""

from __future__ import annotations

import functools
import operator
import types
import typing
from typing import Any

from pydantic import BaseModel


def bare(annotation: Any) -> Any:
    """The annotation without ``Annotated`` and ``Optional`` wrappers (``list[X]`` and a
    union of several types stay as they are)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def untyped(annotation: Any) -> Any:
    """The type with every ``Annotated`` validator and constraint removed, nested ones too:
    values read back (or used in queries) are re-typed, not re-judged."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return untyped(args[0])
    if origin in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, (untyped(a) for a in args))
    if origin is list:
        return list[untyped(args[0])]  # type: ignore[misc]
    return annotation


def is_structured(annotation: Any) -> bool:
    """Whether the field holds a list, a dict or a model (kept as JSON, not a scalar)."""
    annotation = bare(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(is_structured(arg) for arg in typing.get_args(annotation))
    return origin in (list, dict) or (
        isinstance(annotation, type) and issubclass(annotation, BaseModel)
    )


def is_text(annotation: Any) -> bool:
    """Whether the field holds text (an enum of strings too) or a list of text."""
    annotation = bare(annotation)
    if typing.get_origin(annotation) is list:
        return is_text(typing.get_args(annotation)[0])
    return isinstance(annotation, type) and issubclass(annotation, str)
