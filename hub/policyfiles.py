"""The hub's policies: the policy folder (``$HUB_HOME/policies``) holds the ones in force,
the database keeps every version that ever was, and each change is in the audit log.

A running hub re-reads the folder when it changes (``PolicyRegistry``, checked at most
every second), so an installed policy is in force within seconds, in every worker. The
choice over refusing an install while a server runs: partners must not have to wait for
a restart for a narrowed policy to bite, and the old version stays readable for audit.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.audit import AuditEvent, AuditLog
from hub.errors import HubError
from hub.files import private_dir, write_private
from hub.store import Store, Transaction
from hub.store.tables import policy_versions
from policies import Policy, PolicyInvalid, load_policies, load_policy, parse_policy

POLICIES_DIR = "policies"
log = logging.getLogger(__name__)


class PolicyConflict(HubError):
    """A document that reuses a version number for another content, or goes back a version."""


def recorded(store: Store, policy_id: str, version: int) -> Policy | None:
    """A version of a policy as it was in force, from the database."""
    query = select(policy_versions.c.document).where(
        policy_versions.c.policy_id == policy_id, policy_versions.c.version == version
    )
    with store.engine.connect() as conn:
        document = conn.execute(query).scalar_one_or_none()
    return None if document is None else parse_policy(document, f"{policy_id}@{version}")


def versions(store: Store, policy_id: str) -> list[tuple[int, str, dt.datetime]]:
    """(version, digest, recorded at) of every recorded version of a policy, oldest first."""
    t = policy_versions
    query = (
        select(t.c.version, t.c.digest, t.c.recorded_at)
        .where(t.c.policy_id == policy_id)
        .order_by(t.c.version)
    )
    with store.engine.connect() as conn:
        return [(row.version, row.digest, row.recorded_at) for row in conn.execute(query)]


def _record(tx: Transaction, policy: Policy) -> None:
    tx.conn.execute(
        policy_versions.insert().values(
            policy_id=policy.id,
            version=policy.version,
            digest=policy.digest,
            document=policy.as_dict(),
            recorded_at=dt.datetime.now(dt.UTC),
        )
    )


def _changed(policy: Policy, detail: Mapping[str, object]) -> AuditEvent:
    return AuditEvent(
        action="policy.changed",
        outcome="allowed",
        policy_id=policy.id,
        policy_version=policy.version,
        detail={"digest": policy.digest, **detail},
    )


def _store(audit: AuditLog) -> Store:
    if audit.store is None:
        raise HubError("policies are recorded through an audit log opened on the store")
    return audit.store


def _check_against(store: Store, policy: Policy) -> bool:
    """True if the database already holds this very version; PolicyConflict if it holds
    the same version with another content."""
    held = recorded(store, policy.id, policy.version)
    if held is None:
        return False
    if held.digest != policy.digest:
        raise PolicyConflict(
            f"{policy.ref} was recorded with digest {held.digest}; this document has "
            f"{policy.digest}: give the new document a higher version"
        )
    return True


def install_policy(policy: Policy, source: Path, folder: Path, audit: AuditLog) -> Path:
    """Record the policy, audit the change (one transaction), then put the document into
    ``folder`` as ``<id>.yaml``, where running hubs pick it up.

    The same document is left in place (no change); a higher version replaces the one
    there; a different document under the same id and version, or an older version, is
    refused: a version number names one content, forever.
    """
    private_dir(folder)
    target = folder / f"{policy.id}.yaml"
    replaced: Policy | None = None
    for path in sorted(folder.glob("*.yaml")):
        try:
            held = load_policy(path)
        except PolicyInvalid:
            continue
        if held.id != policy.id:
            continue
        if held.version == policy.version and held.digest == policy.digest:
            _ensure_recorded(audit, policy, path)
            return path
        if held.version >= policy.version:
            raise PolicyConflict(
                f"{path} already holds {held.ref} (digest {held.digest}); {source} is "
                f"{policy.ref} (digest {policy.digest}): give the new document a higher version"
            )
        target, replaced = path, held
    store = _store(audit)
    if not _check_against(store, policy):
        with store.begin() as tx:
            _record(tx, policy)
            detail = {"file": str(target), "replaced": replaced.ref if replaced else None}
            audit.append(_changed(policy, detail), tx)
    write_private(target, source.read_bytes())
    return target


def _ensure_recorded(audit: AuditLog, policy: Policy, path: Path) -> None:
    store = _store(audit)
    if not _check_against(store, policy):
        try:
            with store.begin() as tx:
                _record(tx, policy)
                audit.append(_changed(policy, {"file": str(path), "found": "in the folder"}), tx)
        except IntegrityError:
            pass  # another process recorded it first, with its audit entry


class PolicyRegistry:
    """The policies in force for a running hub: the folder's, re-read when a file in it
    changes (looked at no more often than every ``interval`` seconds). A version found in
    the folder but never recorded (a file copied in by hand) is recorded and audited; a
    document that reuses a recorded version number for another content is not taken (the
    version in force stays) and the refusal is audited."""

    def __init__(
        self,
        audit: AuditLog,
        folder: Path,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.audit = audit
        self.folder = folder
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._checked = float("-inf")
        self._policies: dict[str, Policy] = {}
        self.refresh()

    def get(self, policy_id: str) -> Policy | None:
        if self._clock() - self._checked >= self.interval:
            self.refresh()
        return self._policies.get(policy_id)

    def ids(self) -> list[str]:
        """The ids of the policies in force."""
        return sorted(self._policies)

    def refresh(self) -> None:
        with self._lock:
            self._checked = self._clock()
            signature = self._folder_signature()
            if signature == self._signature:
                return
            self._signature = signature
            try:
                found = load_policies(self.folder) if self.folder.is_dir() else {}
            except PolicyInvalid as exc:
                log.error("policies not reloaded, the ones in force stay: %s", exc)
                return
            policies = {}
            for policy_id, policy in found.items():
                try:
                    _ensure_recorded(self.audit, policy, self.folder / f"{policy_id}.yaml")
                except PolicyConflict as exc:
                    log.error("%s", exc)
                    self._refused(policy, str(exc))
                    if policy_id in self._policies:
                        policies[policy_id] = self._policies[policy_id]
                    continue
                policies[policy_id] = policy
            self._policies = policies

    def _refused(self, policy: Policy, why: str) -> None:
        self.audit.append(
            AuditEvent(
                action="policy.refused",
                outcome="denied",
                policy_id=policy.id,
                policy_version=policy.version,
                detail={"digest": policy.digest, "reason": why},
            )
        )

    def _folder_signature(self) -> tuple[tuple[str, int, int], ...]:
        if not self.folder.is_dir():
            return ()
        entries = []
        for path in self.folder.glob("*.yaml"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            entries.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(sorted(entries))
