"""The hub's policy folder (``$HUB_HOME/policies``): installing a document there is a
policy change, and every policy change is in the audit log."""

from __future__ import annotations

import shutil
from pathlib import Path

from hub.audit import AuditEvent, AuditLog
from hub.errors import HubError
from policies import Policy, PolicyInvalid, load_policy

POLICIES_DIR = "policies"


class PolicyConflict(HubError):
    pass


def install_policy(policy: Policy, source: Path, folder: Path, audit: AuditLog) -> Path:
    """Copy the policy into ``folder`` as ``<id>.yaml`` and audit the change.

    The same document is left in place (no change); a higher version replaces the one
    there; a different document under the same id and version, or an older version, is
    refused: a version number names one content, forever.
    """
    folder.mkdir(parents=True, exist_ok=True)
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
            return path
        if held.version >= policy.version:
            raise PolicyConflict(
                f"{path} already holds {held.ref} (digest {held.digest}); {source} is "
                f"{policy.ref} (digest {policy.digest}): give the new document a higher version"
            )
        target, replaced = path, held
    shutil.copyfile(source, target)
    audit.append(
        AuditEvent(
            action="policy.changed",
            outcome="allowed",
            policy_id=policy.id,
            policy_version=policy.version,
            detail={
                "digest": policy.digest,
                "file": str(target),
                "replaced": replaced.ref if replaced else None,
            },
        )
    )
    return target
