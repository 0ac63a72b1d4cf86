"""What a system admin looks at (运维): each source's streams with their last sync, lag
and error; each client with its policy, scopes and last token; work orders open and
overdue per grid.

None of it is personal data: the streams' state, the client registry, and counts and
cycle times of work orders (``hub.work.stats``, the figures ``/v1/work-orders/stats``
gives a partner, here over every order), so reading it decrypts nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from connectors.sdk.errors import ConnectorError
from hub.audit import AuditLog
from hub.auth.clients import Client, ClientRegistry
from hub.ingest.sources import load_sources
from hub.policyfiles import PolicyRegistry
from hub.sharing.service import EVERY_ROW
from hub.store import Store
from hub.store.query import select_rows
from hub.store.tables import sync_claims
from hub.work.reads import KIND, STATS_FIELDS
from hub.work.stats import OrderStats, order_stats

TOKEN_ISSUED = "token.issued"  # noqa: S105 (an audit action, not a secret)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class StreamState:
    source: str
    stream: str
    configured: bool | None
    """Named in ``sources.yaml`` today (a stream that ran once may have been removed);
    None when there is no ``sources.yaml`` that loads."""
    last_run_at: dt.datetime | None
    last_success_at: dt.datetime | None
    lag_seconds: float | None
    """Since the start of the last successful run; None: never succeeded."""
    runs: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ClientState:
    client: Client
    policy: str
    """``id@vN`` of the policy in force, or the id alone when it is not loaded."""
    last_token_at: dt.datetime | None


class Operations:
    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        policies: PolicyRegistry,
        home: Path,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.store = store
        self.audit = audit
        self.policies = policies
        self.home = home
        self.clock = clock

    def streams(self) -> list[StreamState]:
        """Every stream the worker or ``hub sync`` has state for, and every configured
        source that has none yet (never run), by source and stream."""
        c = sync_claims.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(
                    c.source_system,
                    c.stream,
                    c.last_run_at,
                    c.last_success_at,
                    c.runs,
                    c.last_error,
                )
            ).all()
        configured: set[str] | None
        try:
            configured = {spec.id for spec in load_sources(self.home)}
        except ConnectorError:  # no sources.yaml yet, or one that does not load
            configured = None
        now = self.clock()
        found = [
            StreamState(
                r.source_system,
                r.stream,
                None if configured is None else r.source_system in configured,
                r.last_run_at,
                r.last_success_at,
                None
                if r.last_success_at is None
                else max(0.0, (now - r.last_success_at).total_seconds()),
                r.runs,
                r.last_error,
            )
            for r in rows
        ]
        known = {s.source for s in found}
        found += [
            StreamState(source, "", True, None, None, None, 0, None)
            for source in sorted((configured or set()) - known)
        ]
        return sorted(found, key=lambda s: (s.source, s.stream))

    def clients(self) -> list[ClientState]:
        """Every registered client, revoked ones last, with the time of its last token."""
        states = []
        for client in ClientRegistry(self.store).list():
            policy = self.policies.get(client.policy_id)
            last = self.audit.search(
                action=TOKEN_ISSUED, client_id=client.client_id, newest_first=True, limit=1
            )
            states.append(
                ClientState(
                    client,
                    policy.ref if policy else client.policy_id,
                    last[0].at if last else None,
                )
            )
        return sorted(states, key=lambda s: (s.client.revoked, s.client.name))

    def work_orders(self) -> OrderStats:
        """Open and overdue orders and cycle times per grid and receiving org, overdue
        judged now."""
        orders = []
        after: int | None = None
        while True:
            found = select_rows(
                self.store, KIND, EVERY_ROW, list(STATS_FIELDS), after_id=after, limit=1000
            )
            orders += [row.values for row in found]
            if len(found) < 1000:
                break
            after = found[-1].id
        return order_stats(orders, self.clock())
