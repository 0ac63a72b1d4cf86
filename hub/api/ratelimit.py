"""Per-client request rates: a token bucket per client id, in this process (the same
bucket the token endpoint keeps per peer address)."""

from hub.auth.throttle import RateLimiter, retry_after

__all__ = ["RateLimiter", "retry_after"]
