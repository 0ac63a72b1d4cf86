"""Retries with exponential backoff for transient errors, through tenacity."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from connectors.sdk.errors import TransientError

T = TypeVar("T")


def retrying(
    attempts: int = 6, initial: float = 0.2, maximum: float = 5.0, deadline: float = 60.0
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Retry on ``TransientError``; after the last attempt the error propagates as is."""
    return retry(
        retry=retry_if_exception_type(TransientError),
        wait=wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial),
        stop=stop_after_attempt(attempts) | stop_after_delay(deadline),
        reraise=True,
    )
