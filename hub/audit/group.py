"""Group commit: the audit entries of concurrent callers appended in one transaction.

Appending is serialised (one head, one lock), so under load each request would wait for
every other request's transaction and checkpoint signature in turn. ``GroupCommit`` lets
the callers that arrive while a transaction is under way share the next one: each caller
queues its events and waits for the commit lock; whoever takes it appends *everything*
queued so far in one transaction (one checkpoint covers the lot) and hands every caller
the sequence numbers of its own entries, or the exception that stopped them.

No caller returns before the transaction holding its entries has committed: a request's
answer still waits for its own durable entry, exactly as with one transaction each. If a
shared transaction fails, each caller's events are tried once more in a transaction of
their own, so one event the database refuses costs only its own request; a caller whose
entries could not be written gets the exception, never sequence numbers.

There is no thread of its own to start or stop: the committing is done by the callers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hub.audit.entry import AuditEvent

Append = Callable[[Sequence[AuditEvent]], list[int]]
"""Appends events in one transaction and returns their sequence numbers once committed."""


@dataclass(eq=False)
class _Pending:
    events: Sequence[AuditEvent]
    seqs: list[int] | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class GroupCommit:
    append: Append
    max_batch: int = 256
    """At most this many callers' events in one transaction."""
    _queue: list[_Pending] = field(default_factory=list)
    _queue_lock: threading.Lock = field(default_factory=threading.Lock)
    _commit_lock: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, events: Sequence[AuditEvent]) -> list[int]:
        """Append ``events`` (in order, in one transaction, possibly with other callers'
        events) and return their sequence numbers once that transaction has committed."""
        mine = _Pending(events)
        with self._queue_lock:
            self._queue.append(mine)
        while True:
            with self._commit_lock:
                if not mine.done:
                    self._commit(self._take())
            if mine.done:
                break
        if mine.error is not None:
            raise mine.error
        return mine.seqs or []

    def _take(self) -> list[_Pending]:
        with self._queue_lock:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        return batch

    def _commit(self, batch: list[_Pending]) -> None:
        if not batch:
            return
        try:
            seqs = self.append([event for item in batch for event in item.events])
        except BaseException as exc:
            if len(batch) == 1:
                batch[0].error, batch[0].done = exc, True
                return
            for item in batch:
                self._alone(item)
            return
        start = 0
        for item in batch:
            item.seqs = seqs[start : start + len(item.events)]
            start += len(item.events)
            item.done = True

    def _alone(self, item: _Pending) -> None:
        """Append one caller's events in a transaction of their own."""
        try:
            item.seqs = self.append(item.events)
        except BaseException as exc:
            item.error = exc
        item.done = True
