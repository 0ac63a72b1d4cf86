"""One table per record kind, generated from its contract, plus provenance columns.

Fields of an encrypted-at-rest class become a ciphertext column; a scalar one also gets a
``<field>_bidx`` blind-index column for equality look-ups. ``link_key`` is the blind index
of the kind's natural key: rows of different sources with equal ``link_key`` describe the
same real person, house, unit or address.

The rule for blind indexes, in every table (``tests/store/test_reindex.py`` holds every
table to it): a column that holds the keyring's blind index of a value (what
``Store.blind_index``, ``link_key`` or ``seal_source_key`` give, or a copy of one) is
declared with ``info=blind_indexed(...)``; ``hub.store.reindex`` re-keys exactly the
columns so declared, and one left undeclared would keep the old key's digests after a
rotation and match nothing (the test finds undeclared ones by name: call a new one
``link_key`` or ``<field>_bidx``). Say in the declaration where its clear value is in the
same row (``clear``), or give none for a copy of an index another table holds: a copy
moves with the value it copies, so it must equal some row's index there (a record's
``link_key``); a copy of nothing (a queued record not yet stored) stops the switch, so
such a table declares ``clear`` over its own sealed copy of the record.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import AwareDatetime
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

from contracts import CONTRACTS, FieldSpec, Record, bare, is_structured


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes in UTC on every backend (SQLite keeps them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: the store keeps aware UTC times")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


BLIND_INDEX = "blind_index"
"""The ``Column.info`` key of a column holding blind indexes (``BlindIndexed``)."""

Unseal = Callable[[str, str], str]
"""(sealed value, associated data) -> the clear text: how a declaration opens its row."""
ClearValues = Callable[[Mapping[str, Any], Unseal], Iterable[str]]


@dataclass(frozen=True, slots=True)
class BlindIndexed:
    """``Column.info[BLIND_INDEX]``: every value of the column is ``prefix`` and a blind
    index of the keyring (32 hex digits); any other value is not an index and is left alone.

    ``clear`` gives the clear values the index may be of, read from the same row (sealed
    columns opened with the ``Unseal`` given): a rotation takes the first whose index under
    the old key is the one stored, so a wrong guess is never written, only reported. None:
    the column holds copies of indexes other rows hold, and is re-keyed by value.
    """

    clear: ClearValues | None = None
    prefix: str = ""


def blind_indexed(clear: ClearValues | None = None, *, prefix: str = "") -> dict[str, Any]:
    """The ``info`` of a blind-index column (see ``BlindIndexed``)."""
    return {BLIND_INDEX: BlindIndexed(clear, prefix)}


def blind_index_columns(table: Table) -> list[tuple[Column[Any], BlindIndexed]]:
    """The columns of ``table`` declared as holding blind indexes, in table order."""
    return [(c, c.info[BLIND_INDEX]) for c in table.columns if BLIND_INDEX in c.info]


SEALED = "sealed"
"""The ``Column.info`` key of a column holding values sealed with a data key: its value
gives the associated data of the row's value (``sealed``). A data-key rotation
(``hub.store.rotation``) moves exactly the columns so declared: a sealed column left
undeclared would keep its values under a key the rotation then retires, and lose them
(``tests/store/test_rotation.py`` finds every column the hub seals into)."""

SealedContext = Callable[[Mapping[str, Any]], str]
"""The row (its primary key and the columns the context names) -> its associated data."""


def sealed(context: SealedContext) -> dict[str, Any]:
    """The ``info`` of a sealed column."""
    return {SEALED: context}


def _always(context: str) -> SealedContext:
    """The context of a column whose every value is sealed with one associated data."""
    return lambda _row: context


def sealed_columns(table: Table) -> list[tuple[Column[Any], SealedContext]]:
    """The columns of ``table`` declared as sealed, in table order."""
    return [(c, c.info[SEALED]) for c in table.columns if SEALED in c.info]


SEALED_KEY_PREFIX = "~"
"""What marks a source key that is the blind index of a sealed value (``seal_source_key``)."""


@dataclass(frozen=True, slots=True)
class FieldColumn:
    spec: FieldSpec
    encrypted: bool
    indexed: bool
    structured: bool

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def index_column(self) -> str:
        return f"{self.spec.name}_bidx"


@dataclass(frozen=True, slots=True)
class KindTable:
    model: type[Record]
    table: Table
    fields: tuple[FieldColumn, ...]
    by_name: dict[str, FieldColumn] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {column.name: column for column in self.fields})

    def column(self, name: str) -> FieldColumn:
        """The field column ``name``; KeyError if the kind has no such field."""
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"{self.model.kind} has no field {name!r}") from None


metadata = MetaData()
AUDIT_INDEXED = ("client_id", "kind", "purpose", "request_id", "action", "outcome")
"""The audit event's fields that ``audit_log`` also keeps as indexed columns."""
_Id = BigInteger().with_variant(Integer, "sqlite")


def _column_type(annotation: Any) -> Any:
    if is_structured(annotation):
        return JSON()
    scalar = bare(annotation)
    if typing.get_origin(scalar) is typing.Literal:
        return Text()
    if scalar is AwareDatetime:
        return UtcDateTime()
    if isinstance(scalar, type):
        if issubclass(scalar, bool):
            return Boolean()
        if issubclass(scalar, int) and not issubclass(scalar, enum.Enum):
            return BigInteger()
        if issubclass(scalar, float):
            return Float()
        if issubclass(scalar, dt.datetime):
            return UtcDateTime()
        if issubclass(scalar, dt.date):
            return Date()
        if issubclass(scalar, str):
            return Text()
    raise TypeError(f"no column type for a field annotated {annotation!r}")


def _sealed_value(kind: str, name: str) -> ClearValues:
    """The clear value of sealed scalar field ``name``, as ``codec.encode`` indexes it."""
    context = f"{kind}.{name}"

    def clear(row: Mapping[str, Any], unseal: Unseal) -> Iterator[str]:
        if row[name] is not None:
            yield str(json.loads(unseal(row[name], context)))

    return clear


def _natural_key(model: type[Record]) -> ClearValues:
    """``Record.natural_key()`` of the row, its sealed parts opened."""
    parts = [(s.name, s.sensitivity.encrypted_at_rest) for s in model.specs() if s.natural_key]

    def clear(row: Mapping[str, Any], unseal: Unseal) -> Iterator[str]:
        values = [
            json.loads(unseal(row[name], f"{model.kind}.{name}")) if sealed else row[name]
            for name, sealed in parts
        ]
        yield "|".join(str(value) for value in values)

    return clear


def _source_key_of(model: type[Record]) -> ClearValues:
    """A source keyed by a sealed value feeds it to a field: the natural key or one of the
    sealed scalar fields, opened one by one until one matches."""
    natural = _natural_key(model)
    indexed = [
        _sealed_value(model.kind, s.name)
        for s in model.specs()
        if s.sensitivity.encrypted_at_rest and not is_structured(s.info.annotation)
    ]

    def clear(row: Mapping[str, Any], unseal: Unseal) -> Iterator[str]:
        for candidates in (natural, *indexed):
            yield from candidates(row, unseal)

    return clear


def _kind_table(model: type[Record]) -> KindTable:
    columns: list[Column[Any]] = [
        Column("id", _Id, primary_key=True, autoincrement=True),
        Column("source_system", String(64), nullable=False),
        Column(
            "source_key",
            String(256),
            nullable=False,
            info=blind_indexed(_source_key_of(model), prefix=SEALED_KEY_PREFIX),
        ),
        Column(
            "link_key",
            String(64),
            nullable=False,
            index=True,
            info=blind_indexed(_natural_key(model)),
        ),
        Column("contract_version", Integer, nullable=False),
        Column("first_seen", UtcDateTime(), nullable=False),
        Column("last_updated", UtcDateTime(), nullable=False, index=True),
        Column("content_hash", String(64), nullable=False),
        # The record's lifecycle (``hub.store.lifecycle``): inactive since when, why, by
        # which run; the stream of a full-refresh source that lists it, and the last read
        # of that stream that did.
        Column("inactive_since", UtcDateTime()),
        Column("inactive_reason", String(64)),
        Column("inactive_run", String(64)),
        Column("source_stream", String(128)),
        Column("seen_read", String(64)),
    ]
    fields = []
    # Plain code columns (grid, beat, address…) are what scopes name, and a page is read
    # by id within one: each is indexed with ``id``, or PostgreSQL sorts the whole grid for
    # every page (SQLite's rowid made the one-column index do this already).
    codes: list[str] = []
    for spec in model.specs():
        structured = is_structured(spec.info.annotation)
        encrypted = spec.sensitivity.encrypted_at_rest
        indexed = encrypted and not structured
        fields.append(FieldColumn(spec, encrypted, indexed, structured))
        nullable = not spec.required
        if encrypted:
            context = _always(f"{model.kind}.{spec.name}")
            columns.append(Column(spec.name, Text(), nullable=nullable, info=sealed(context)))
            if indexed:
                columns.append(
                    Column(
                        f"{spec.name}_bidx",
                        String(32),
                        index=True,
                        info=blind_indexed(_sealed_value(model.kind, spec.name)),
                    )
                )
        else:
            columns.append(Column(spec.name, _column_type(spec.info.annotation), nullable=nullable))
            if spec.name.endswith("_code"):
                codes.append(spec.name)
    table = Table(
        f"rec_{model.kind}",
        metadata,
        *columns,
        UniqueConstraint("source_system", "source_key", name=f"uq_rec_{model.kind}_source"),
        *(Index(f"ix_rec_{model.kind}_{name}", name, "id") for name in codes),
    )
    return KindTable(model, table, tuple(fields))


KIND_TABLES: dict[str, KindTable] = {kind: _kind_table(m) for kind, m in CONTRACTS.items()}


sync_state = Table(
    "sync_state",
    metadata,
    Column("source_system", String(64), primary_key=True),
    Column("stream", String(128), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("read_id", String(64)),
)
"""Each stream's checkpoint, written in the same transaction as the batch it follows;
``read_id`` names the full read of a full-refresh stream under way."""

record_lifecycle = Table(
    "record_lifecycle",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("record_id", _Id, nullable=False),
    Column("source_system", String(64), nullable=False),
    Column("stream", String(128), nullable=False),
    Column("change", String(16), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_record_lifecycle_record", "kind", "record_id"),
)
"""Every time a record went inactive (its source deleted it, marked it 注销 / 迁出, or no
longer lists it) or active again, with the source, stream, run and time: the history of
its lifecycle; the record's row keeps its last values."""

sync_claims = Table(
    "sync_claims",
    metadata,
    Column("source_system", String(64), primary_key=True),
    Column("stream", String(128), primary_key=True),
    Column("due_at", UtcDateTime(), nullable=False, index=True),
    Column("claimed_by", String(128)),
    Column("claimed_until", UtcDateTime()),
    Column("last_run_at", UtcDateTime()),
    Column("last_run_id", String(64)),
    Column("last_success_at", UtcDateTime()),
    Column("last_error", Text()),
    Column("runs", Integer, nullable=False, default=0),
)
"""Each stream's schedule and lease (hub/ingest/worker.py owns its use): the stream is due
at ``due_at``; ``claimed_by`` holds it until ``claimed_until``, a lease renewed in the
transaction of every batch, so a dead worker's claim lapses and a live one's never does."""


def _raw_values(row: Mapping[str, Any], unseal: Unseal) -> Iterator[str]:
    """The scalar values of a quarantined raw row: a sealed source key is one's index."""
    payload = json.loads(unseal(row["payload"], "quarantine.payload"))
    for value in payload["row"].values():
        if value is not None and not isinstance(value, dict | list):
            yield str(value)


quarantine = Table(
    "quarantine",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False, index=True),
    Column("source_system", String(64), nullable=False),
    Column("stream", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column(
        "source_key",
        String(256),
        nullable=False,
        info=blind_indexed(_raw_values, prefix=SEALED_KEY_PREFIX),
    ),
    Column("rules", JSON, nullable=False),
    Column("payload", Text(), nullable=False, info=sealed(_always("quarantine.payload"))),
    Column("status", String(16), nullable=False, index=True),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    UniqueConstraint("source_system", "stream", "source_key", name="uq_quarantine_row"),
)
"""Rows that broke a contract: the raw row and its failures sealed in ``payload`` (they
hold ID numbers in clear), the broken (field, rule) pairs in clear for reports. A sealed
source key is the blind index of one of the raw row's values."""


policy_versions = Table(
    "policy_versions",
    metadata,
    Column("policy_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("document", JSON, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
)
"""Every version of every policy that was ever in force, so that the ``policy_version`` an
audit entry names can always be read back (``hub policy show ID@VERSION``)."""

outbox = Table(
    "outbox",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("type", String(64), nullable=False, index=True),
    Column("kind", String(32)),
    Column("record_id", _Id),
    Column("data", JSON, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)
"""Events, written in the transaction of the change they tell of (``hub.events.emit``).
An event names what changed (``kind``, ``record_id``), it does not copy it: each
subscriber's payload is read at delivery, through that subscriber's policy. ``data`` holds
only what no policy guards (step names, a review's decision), never a record's fields."""

# The verification registry's tasks (hub/work/verification_tasks.py owns their use).
verification_tasks = Table(
    "verification_tasks",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("record_id", _Id, nullable=False),
    Column("link_key", String(64), nullable=False, info=blind_indexed()),
    Column("grid_code", String(64), nullable=False, index=True),
    Column("reason", String(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("done_at", UtcDateTime()),
    Column("done_by_visit", _Id),
    Index("ix_verification_tasks_open", "kind", "link_key", "done_at"),
)
"""Records someone must go and verify: a resident's self-declaration (``self_declared``,
自主申报) or an accepted grid submission (``submitted``) of ``kind/record_id``, open until a
visit of the same real thing (``link_key``) made after it is recorded (``done_by_visit``)."""

# The webhook subscriptions and their deliveries (hub/events owns their use).
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("client_id", String(64), nullable=False, index=True),
    Column("url", Text(), nullable=False),
    Column("events", JSON, nullable=False),
    Column("filter", JSON, nullable=False),
    Column("purpose", String(128), nullable=False),
    Column(
        "secret",
        Text(),
        nullable=False,
        info=sealed(lambda row: subscription_secret_context(row["id"])),
    ),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
)
"""A partner's webhook: the event types it wants, a filter on the records they name, the
purpose it reads them for; ``secret`` (its Standard Webhooks signing key) sealed with the
keyring under ``subscription_secret_context(id)``."""

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("event_seq", _Id, nullable=False),
    Column("subscription_id", String(40), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("last_status", Integer),
    Column("last_error", Text()),
    Column("delivered_at", UtcDateTime()),
    Column("claimed_by", String(128)),
    Column("claimed_until", UtcDateTime()),
    UniqueConstraint("event_seq", "subscription_id", name="uq_deliveries_event"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
)
"""One outbox event for one subscription, written with the event (``hub.events.emit``):
``pending`` until ``delivered`` (2xx), ``filtered`` (the subscriber's policy, scope or
filter keeps the record from it) or ``dead`` (attempts spent). ``claimed_by`` holds it
until ``claimed_until`` while a delivery worker sends it, as ``sync_claims`` does."""


def subscription_secret_context(subscription_id: str) -> str:
    """The associated data a subscription's signing secret is sealed with."""
    return f"subscriptions.secret:{subscription_id}"


# The review queue (hub/work/reviews.py owns its use).
def review_record_context(kind: str, submitter: str, source_key: str) -> str:
    """The associated data a submission's record is sealed with: bound to its row."""
    return f"review_queue.record:{kind}:{submitter}:{source_key}"


def _queued_natural_key(row: Mapping[str, Any], unseal: Unseal) -> Iterator[str]:
    """The natural key of a queued record: it may be of a record no table holds yet."""
    context = review_record_context(row["kind"], row["submitter"], row["source_key"])
    record = json.loads(unseal(row["record"], context))
    yield "|".join(str(record[name]) for name in CONTRACTS[row["kind"]].natural_key_fields())


review_queue = Table(
    "review_queue",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("source_key", String(256), nullable=False),
    Column("submitter", String(64), nullable=False),
    Column("submitter_subject", String(256), nullable=False),
    Column("purpose", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("submitted_at", UtcDateTime(), nullable=False),
    Column("decided_at", UtcDateTime()),
    Column("reviewer", String(64)),
    Column("reviewer_subject", String(256)),
    Column("reason", Text()),
    Column("record_id", _Id),
    Column("link_key", String(64), nullable=False, info=blind_indexed(_queued_natural_key)),
    Column("facets", JSON, nullable=False),
    Column(
        "record",
        Text(),
        nullable=False,
        info=sealed(
            lambda row: review_record_context(row["kind"], row["submitter"], row["source_key"])
        ),
    ),
    Index("ix_review_queue_kind", "kind", "status", "id"),
    Index("ix_review_queue_submitter", "submitter", "kind", "id"),
    Index(
        "uq_review_queue_pending",
        "submitter",
        "kind",
        "source_key",
        unique=True,
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)
"""Records partners submitted for review (上报), and the reviewers' decisions (审核入库).
``record`` is the parsed record, sealed (it holds personal data); ``facets`` keeps in clear
only its public and internal single-valued fields (codes, types, counts), which reviewers'
row scopes are compiled against. ``record_id`` is the stored record of an accepted one; at
most one submission of one source key by one submitter is pending at a time."""


# Work orders (hub/work/orders.py): the copies sources held before the hub kept orders.
def _order_id(row: Mapping[str, Any], _unseal: Unseal) -> Iterator[str]:
    """A v1 work order's natural key: its ``order_id``, kept in clear."""
    yield str(row["order_id"])


work_orders_v1 = Table(
    "work_orders_v1",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=False),
    Column("source_system", String(64), nullable=False),
    Column("source_key", String(256), nullable=False),
    Column("link_key", String(64), nullable=False, info=blind_indexed(_order_id)),
    Column("contract_version", Integer, nullable=False),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("last_updated", UtcDateTime(), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("order_id", Text(), nullable=False),
    Column("incident_id", Text()),
    Column("issuing_org", Text(), nullable=False),
    Column("receiving_org", Text(), nullable=False),
    Column("assignee", Text()),
    Column("instruction", Text(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("status", Text(), nullable=False),
    Column("history", JSON),
    Column("feedback", Text()),
    Column("grid_code", Text(), nullable=False),
    Column("beat_code", Text(), nullable=False),
)
"""Work orders as the ``rec_work_order`` rows of contract v1 held them, each source's copy
apart (a 派发 from the police, the grid's 签收 beside it), moved here whole by migration
0006: no copy is an order the hub can vouch for (its history names no step, no org, and
may break the v2 loop), so none is served as one. Kept for the operator; no route reads
it. Columns and ids as they were."""

# The blind-index rotation's tables (hub/store/indexstate.py and reindex.py own their use).
index_keys = Table(
    "index_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("since", UtcDateTime(), nullable=False),
)
"""Which blind-index key the rows are under (``in_force``), and during a rotation the
``next`` one, then the ``previous`` one, then ``retired``. No row: the key file's key."""

index_map = Table(
    "index_map",
    metadata,
    Column("old", String(32), primary_key=True),
    Column("new", String(32), nullable=False),
)
"""An unfinished index rotation's map: each index under the old key, the same value's
index under the new one. It holds no clear value; it is emptied when the rotation ends."""

# The audit log's tables live here, not in hub/audit, so that ``Store.create_schema()``
# creates them without the store depending on the audit package; hub/audit owns their use.
# Checkpoints deliberately have no foreign key to the log: they are independent evidence.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("event", Text(), nullable=False),
    Column("hash", String(64), nullable=False),
    # What audit search filters on, copied from the event at append (hub/audit/search.py);
    # not hashed: the entry is ``event``, these only find it.
    *(Column(name, String(128)) for name in AUDIT_INDEXED),
    *(Index(f"ix_audit_log_{name}", name, "seq") for name in AUDIT_INDEXED),
)
"""Append-only entries; ``seq`` is contiguous from 1 and entry ``seq`` is leaf ``seq - 1``
of the Merkle tree (``audit_tree``); ``hash`` is that leaf's hash, in hex."""

audit_records = Table(
    "audit_records",
    metadata,
    Column("record_id", String(128), primary_key=True),
    Column("seq", _Id, primary_key=True, autoincrement=False),
)
"""One row per record id an entry names (``kind/<database id>``), written with the entry:
"who accessed this record" by the primary key's index. No foreign key, like checkpoints."""

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("size", _Id, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("note", Text(), nullable=False),
)
"""The log's signed tree heads: C2SP tlog-checkpoints as signed notes, by tree size."""

audit_keys = Table(
    "audit_keys",
    metadata,
    Column("size", _Id, primary_key=True, autoincrement=False),
    Column("key_id", String(16), nullable=False, unique=True),
    Column("vkey", Text(), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)
"""The log's audit key changes: from the checkpoint of ``size`` on (the hand-over one, which
the old key and this one both sign and whose ``key`` line names this one), checkpoints are
signed by ``key_id``. Before the first row, by the key the origin names. What decides is the
chain of signed checkpoints; this table is how the hub finds it fast, and ``verify`` checks
the two agree."""

audit_cosignatures = Table(
    "audit_cosignatures",
    metadata,
    Column("size", _Id, primary_key=True, autoincrement=False),
    Column("witness", String(128), primary_key=True),
    Column("line", Text(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)
"""Witnesses' cosignatures (C2SP tlog-cosignature) of the checkpoint of each size. No
foreign key on purpose: a cosignature whose checkpoint is gone is evidence of tampering."""

audit_witnesses = Table(
    "audit_witnesses",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("vkey", Text(), nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
)
"""The witnesses whose cosignatures the hub accepts (the copy ``verify`` trusts is the
hub home's ``witnesses.json``, outside the database an attacker may rewrite)."""

audit_tree = Table(
    "audit_tree",
    metadata,
    Column("level", SmallInteger(), primary_key=True, autoincrement=False),
    Column("idx", _Id, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)
"""The audit log's Merkle tree (RFC 9162): the hash of every complete subtree, by its
``level`` and ``idx``. Level 0 holds the leaf hashes; node (k, i) is the hash of leaves
[i·2^k, (i+1)·2^k). Written only by ``hub.audit.merkle.MerkleTree``, append-only."""

audit_archives = Table(
    "audit_archives",
    metadata,
    Column("first", _Id, primary_key=True, autoincrement=False),
    Column("last", _Id, nullable=False),
    Column("file", Text(), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("root", String(64), nullable=False),
    Column("entry", _Id, nullable=False),
    Column("archived_at", UtcDateTime(), nullable=False),
)
"""Ranges of the audit log moved to an archive file (``hub.audit.archive``): entries
``first``..``last`` are deleted from ``audit_log`` (their leaves stay in ``audit_tree``);
``last`` is a checkpointed size whose root (hex) is ``root``; ``sha256`` is the file's
digest; ``entry`` is the ``audit.archived`` entry that states this very record."""

# The authorization server's tables (hub/auth owns their use).
clients = Table(
    "clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("auth_method", String(32), nullable=False),
    Column("secret_hash", String(256)),
    Column("jwks", JSON),
    Column("policy_id", String(64), nullable=False, index=True),
    Column("claims", JSON, nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
)
"""Partner systems: a scrypt hash of the secret (never the secret), or the public JWKS
its ``private_key_jwt`` assertions are signed with."""

used_assertions = Table(
    "used_assertions",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("jti", String(256), primary_key=True),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
)
"""``jti`` of client assertions already accepted, kept until they expire: no replay."""

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("public_jwk", JSON, nullable=False),
    Column(
        "private_jwk",
        Text(),
        nullable=False,
        info=sealed(lambda row: signing_key_context(row["kid"])),
    ),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("retired_at", UtcDateTime()),
)
"""The hub's token signing keys; ``private_jwk`` sealed with the keyring (AES-GCM)."""


def signing_key_context(kid: str) -> str:
    """The associated data ``signing_keys.private_jwk`` of key ``kid`` is sealed with."""
    return f"signing_keys.private_jwk:{kid}"


# The pages' operator accounts (hub/console owns their use).
operators = Table(
    "operators",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("roles", JSON, nullable=False),
    Column("password_hash", String(256)),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("oidc_issuer", String(255)),
    Column("oidc_subject", String(255)),
    Index("uq_operators_oidc", "oidc_issuer", "oidc_subject", unique=True),
)
"""People who sign in to the pages: an argon2id hash of the password (never the password;
none for an account that signs in only through the provider), their roles, the
consecutive failed sign-ins that lock the account for a while, and the identity at the
operators' OpenID Connect provider the account is linked to, if any."""

operator_sign_ins = Table(
    "operator_sign_ins",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("nonce", String(128), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("redirect_uri", String(2048), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False, index=True),
)
"""Sign-ins sent to the OpenID Connect provider and not yet back: the SHA-256 of the
``state`` (the browser holds the state itself, in a cookie), the ID token's expected
``nonce`` and the PKCE ``code_verifier``, which never leaves the hub but for the token
request. Each is used once, and only within minutes."""

operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator", String(64), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
)
"""Signed-in sessions: the SHA-256 of the cookie's token (a copy of the table lets no one
sign in), the session's CSRF token, and when it was last used (the idle timeout)."""

# Break-glass sessions (hub/sharing/break_glass.py owns their use).
break_glass_sessions = Table(
    "break_glass_sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False, index=True),
    Column("policy_id", String(64), nullable=False),
    Column("subject", String(256)),
    Column("reason", Text(), nullable=False),
    Column("kinds", JSON, nullable=False),
    Column("opened_at", UtcDateTime(), nullable=False, index=True),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("approved_by", String(256)),
    Column("approved_at", UtcDateTime()),
)
"""Reading beyond a policy in an emergency: who opened each session, why, for which kinds,
until when, and who approved it (none: pending until ``expires_at``, flagged after)."""


# The grid and beat registry (hub/grids owns its use): a reference table, replaced whole
# by each load.
grid_registry = Table(
    "grid_registry",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("position", Integer(), nullable=False),
    Column("name", Text(), nullable=False),
    Column("grid_type", String(16), nullable=False),
    Column("category", String(32)),
    Column("community_code", String(12), nullable=False, index=True),
    Column("beat_code", String(64), nullable=False, index=True),
    Column("workers", JSON, nullable=False),
    Column("valid_from", Date()),
    Column("valid_to", Date()),
)
"""The grids (网格): each one's community (12-digit statistical area code), beat, type."""

grid_beats = Table(
    "grid_beats",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", Text()),
    Column("station", Text()),
)
"""The police beats (警格) the registry lists (the grids' beats are beats too)."""

grid_registry_info = Table(
    "grid_registry_info",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("title", Text(), nullable=False),
    Column("structure", Text(), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("loaded_at", UtcDateTime(), nullable=False),
)
"""One row while a registry is loaded: its title, grid-code structure, content digest."""
# Stream runs (hub/ingest/checks.py owns their use).
sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("source_system", String(64), nullable=False),
    Column("stream", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("read", Integer, nullable=False),
    Column("stored", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("quarantined", Integer, nullable=False),
    Column("failed", Boolean, nullable=False),
    Index("ix_sync_runs_stream", "source_system", "stream", "started_at"),
)
"""One row per stream per run, counts only (no key, no value): the history a run's
freshness (rows per day, when rows last came) and anomaly checks compare it with, shared by
every worker over one database."""
