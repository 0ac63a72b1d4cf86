"""The audit log's transparency endpoints, for witnesses: the newest checkpoint, proofs
that one tree extends another, and cosignatures sent back. Checkpoints hold tree sizes and
root hashes, no personal data, so these need no token: a witness proves who it is by the
key that signs its cosignature."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from hub.api.deps import services
from hub.api.problems import Problem
from hub.audit import AuditError, NoteError
from hub.audit.errors import UnknownWitness
from hub.audit.witnesses import accept_cosignature

router = APIRouter(prefix="/v1/audit", tags=["audit transparency"])
NOTE = "text/plain; charset=utf-8"


class Consistency(BaseModel):
    size1: int = Field(serialization_alias="from")
    size2: int = Field(serialization_alias="to")
    proof: list[str]
    """RFC 9162 consistency proof, standard base64 hashes."""


class Cosignature(BaseModel):
    size: int = Field(ge=1)
    cosignature: str = Field(min_length=10, max_length=512)
    """One C2SP tlog-cosignature line: ``— <witness> <base64>``."""


class KeyChangeOut(BaseModel):
    size: int
    key: str
    """The verifier key that signs the checkpoints from ``size`` on."""
    checkpoint: str
    """The hand-over checkpoint: signed by the key before and by ``key``, naming it."""


class KeyChain(BaseModel):
    origin: str
    changes: list[KeyChangeOut]


class Cosigned(BaseModel):
    size: int
    witness: str
    timestamp: int


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="The newest checkpoint: a C2SP signed note, with witnesses' cosignatures",
)
def checkpoint(request: Request) -> PlainTextResponse:
    latest = services(request).audit.latest()
    if latest is None:
        raise Problem(404, "the audit log is empty", code="not_found")
    return PlainTextResponse(latest.note, media_type=NOTE)


@router.get("/keys", summary="The log's audit key changes, oldest first, for witnesses")
def keys(request: Request) -> KeyChain:
    log = services(request).audit
    changes = [KeyChangeOut(size=c.size, key=c.vkey, checkpoint=c.note) for c in log.key_changes()]
    return KeyChain(origin=log.first_verifier.name, changes=changes)


@router.get("/consistency", summary="Proof that the tree of size `from` is a prefix of `to`'s")
def consistency(
    request: Request,
    size1: Annotated[int, Query(alias="from", ge=0, le=2**62)],
    size2: Annotated[int, Query(alias="to", ge=0, le=2**62)],
) -> Consistency:
    try:
        proof = services(request).audit.consistency(size1, size2)
    except AuditError as exc:
        raise Problem(400, str(exc), code="bad_sizes") from None
    return Consistency(
        size1=size1, size2=size2, proof=[base64.b64encode(h).decode() for h in proof]
    )


@router.post(
    "/checkpoint/cosignature",
    status_code=201,
    summary="A witness's cosignature of the checkpoint of one size",
)
def cosignature(request: Request, body: Cosignature) -> Cosigned:
    try:
        name, stamp = accept_cosignature(services(request).audit, body.size, body.cosignature)
    except UnknownWitness:
        raise Problem(
            403, "no witness of that name is registered", code="unknown_witness"
        ) from None
    except NoteError as exc:
        why = f"the cosignature does not hold: {exc.reason}"
        raise Problem(400, why, code="bad_cosignature") from None
    except AuditError as exc:
        raise Problem(404, str(exc), code="not_found") from None
    return Cosigned(size=body.size, witness=name, timestamp=stamp)
