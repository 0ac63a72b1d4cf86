"""baseline: the schema of the hub before migrations

Revision ID: 0001
Revises:
Create Date: 2026-12-02 05:45:54.507032
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_archives",
        sa.Column(
            "first",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("last", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("entry", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("first"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column(
            "size",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )
    op.create_table(
        "audit_cosignatures",
        sa.Column(
            "size",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("witness", sa.String(length=128), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", "witness"),
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=128), nullable=True),
        sa.Column("purpose", sa.String(length=128), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("action", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_action", ["action", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_log_client_id", ["client_id", "seq"], unique=False)
        batch_op.create_index("ix_audit_log_kind", ["kind", "seq"], unique=False)
        batch_op.create_index("ix_audit_log_outcome", ["outcome", "seq"], unique=False)
        batch_op.create_index("ix_audit_log_purpose", ["purpose", "seq"], unique=False)
        batch_op.create_index("ix_audit_log_request_id", ["request_id", "seq"], unique=False)

    op.create_table(
        "audit_records",
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("record_id", "seq"),
    )
    op.create_table(
        "audit_tree",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "idx",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "audit_witnesses",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("vkey", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("auth_method", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=256), nullable=True),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("client_id"),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clients_policy_id"), ["policy_id"], unique=False)

    op.create_table(
        "policy_versions",
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("policy_id", "version"),
    )
    op.create_table(
        "quarantine",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source_key", sa.String(length=256), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_system", "stream", "source_key", name="uq_quarantine_row"),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantine_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_quarantine_status"), ["status"], unique=False)

    op.create_table(
        "rec_address",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=256), nullable=False),
        sa.Column("link_key", sa.String(length=64), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("address_code", sa.Text(), nullable=False),
        sa.Column("area_code", sa.Text(), nullable=False),
        sa.Column("province", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("district", sa.Text(), nullable=False),
        sa.Column("street", sa.Text(), nullable=False),
        sa.Column("community", sa.Text(), nullable=False),
        sa.Column("road", sa.Text(), nullable=True),
        sa.Column("door_number", sa.Text(), nullable=True),
        sa.Column("building", sa.Text(), nullable=True),
        sa.Column("unit_number", sa.Text(), nullable=True),
        sa.Column("room", sa.Text(), nullable=True),
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("beat_code", sa.Text(), nullable=False),
        sa.Column("longitude", sa.Text(), nullable=True),
        sa.Column("longitude_bidx", sa.String(length=32), nullable=True),
        sa.Column("latitude", sa.Text(), nullable=True),
        sa.Column("latitude_bidx", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_system", "source_key", name="uq_rec_address_source"),
    )
    with op.batch_alter_table("rec_address", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rec_address_address_code"), ["address_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_address_area_code"), ["area_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_rec_address_beat_code"), ["beat_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_rec_address_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rec_address_last_updated"), ["last_updated"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_rec_address_latitude_bidx"), ["latitude_bidx"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_address_link_key"), ["link_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rec_address_longitude_bidx"), ["longitude_bidx"], unique=False
        )

    op.create_table(
        "rec_house",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=256), nullable=False),
        sa.Column("link_key", sa.String(length=64), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("house_code", sa.Text(), nullable=False),
        sa.Column("address_code", sa.Text(), nullable=False),
        sa.Column("use", sa.Text(), nullable=False),
        sa.Column("owner_id_number", sa.Text(), nullable=True),
        sa.Column("owner_id_number_bidx", sa.String(length=32), nullable=True),
        sa.Column("owner_name", sa.Text(), nullable=True),
        sa.Column("occupant_count", sa.BigInteger(), nullable=True),
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("beat_code", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_system", "source_key", name="uq_rec_house_source"),
    )
    with op.batch_alter_table("rec_house", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rec_house_address_code"), ["address_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_house_beat_code"), ["beat_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_rec_house_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_rec_house_house_code"), ["house_code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rec_house_last_updated"), ["last_updated"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_house_link_key"), ["link_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rec_house_owner_id_number_bidx"), ["owner_id_number_bidx"], unique=False
        )

    op.create_table(
        "rec_incident",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=256), nullable=False),
        sa.Column("link_key", sa.String(length=64), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.Text(), nullable=False),
        sa.Column("incident_type", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("address_code", sa.Text(), nullable=False),
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("beat_code", sa.Text(), nullable=False),
        sa.Column("party_id_numbers", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("case_notes", sa.Text(), nullable=True),
        sa.Column("case_notes_bidx", sa.String(length=32), nullable=True),
        sa.Column("risk_level", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_system", "source_key", name="uq_rec_incident_source"),
    )
    with op.batch_alter_table("rec_incident", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rec_incident_address_code"), ["address_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_incident_beat_code"), ["beat_code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rec_incident_case_notes_bidx"), ["case_notes_bidx"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_incident_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rec_incident_last_updated"), ["last_updated"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_incident_link_key"), ["link_key"], unique=False)

    op.create_table(
        "rec_person",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=256), nullable=False),
        sa.Column("link_key", sa.String(length=64), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("id_number", sa.Text(), nullable=False),
        sa.Column("id_number_bidx", sa.String(length=32), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("sex", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("ethnicity", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("phone_bidx", sa.String(length=32), nullable=True),
        sa.Column("household_type", sa.Text(), nullable=False),
        sa.Column("address_code", sa.Text(), nullable=False),
        sa.Column("house_code", sa.Text(), nullable=True),
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("beat_code", sa.Text(), nullable=False),
        sa.Column("police_tags", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_system", "source_key", name="uq_rec_person_source"),
    )
    with op.batch_alter_table("rec_person", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rec_person_address_code"), ["address_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_person_beat_code"), ["beat_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_rec_person_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_rec_person_house_code"), ["house_code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rec_person_id_number_bidx"), ["id_number_bidx"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_rec_person_last_updated"), ["last_updated"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_person_link_key"), ["link_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_rec_person_phone_bidx"), ["phone_bidx"], unique=False)

    op.create_table(
        "rec_unit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=256), nullable=False),
        sa.Column("link_key", sa.String(length=64), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("credit_code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("unit_type", sa.Text(), nullable=False),
        sa.Column("legal_representative", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("phone_bidx", sa.String(length=32), nullable=True),
        sa.Column("address_code", sa.Text(), nullable=False),
        sa.Column("key_unit", sa.Boolean(), nullable=True),
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("beat_code", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_system", "source_key", name="uq_rec_unit_source"),
    )
    with op.batch_alter_table("rec_unit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rec_unit_address_code"), ["address_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_unit_beat_code"), ["beat_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_rec_unit_credit_code"), ["credit_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_rec_unit_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rec_unit_last_updated"), ["last_updated"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_unit_link_key"), ["link_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_rec_unit_phone_bidx"), ["phone_bidx"], unique=False)

    op.create_table(
        "rec_visit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=256), nullable=False),
        sa.Column("link_key", sa.String(length=64), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("visit_id", sa.Text(), nullable=False),
        sa.Column("record_kind", sa.Text(), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("record_key_bidx", sa.String(length=32), nullable=True),
        sa.Column("visitor", sa.Text(), nullable=False),
        sa.Column("visitor_org", sa.Text(), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("beat_code", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_system", "source_key", name="uq_rec_visit_source"),
    )
    with op.batch_alter_table("rec_visit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rec_visit_beat_code"), ["beat_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_rec_visit_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rec_visit_last_updated"), ["last_updated"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_visit_link_key"), ["link_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rec_visit_record_key_bidx"), ["record_key_bidx"], unique=False
        )

    op.create_table(
        "rec_work_order",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=256), nullable=False),
        sa.Column("link_key", sa.String(length=64), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("incident_id", sa.Text(), nullable=True),
        sa.Column("issuing_org", sa.Text(), nullable=False),
        sa.Column("receiving_org", sa.Text(), nullable=False),
        sa.Column("assignee", sa.Text(), nullable=True),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("beat_code", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_system", "source_key", name="uq_rec_work_order_source"),
    )
    with op.batch_alter_table("rec_work_order", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rec_work_order_beat_code"), ["beat_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_rec_work_order_grid_code"), ["grid_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_rec_work_order_last_updated"), ["last_updated"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rec_work_order_link_key"), ["link_key"], unique=False)

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("private_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )
    op.create_table(
        "sync_claims",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=128), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.String(length=64), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source_system", "stream"),
    )
    with op.batch_alter_table("sync_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_claims_due_at"), ["due_at"], unique=False)

    op.create_table(
        "sync_state",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=128), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_system", "stream"),
    )
    op.create_table(
        "used_assertions",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti"),
    )
    with op.batch_alter_table("used_assertions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_used_assertions_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("used_assertions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_assertions_expires_at"))

    op.drop_table("used_assertions")
    op.drop_table("sync_state")
    with op.batch_alter_table("sync_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_claims_due_at"))

    op.drop_table("sync_claims")
    op.drop_table("signing_keys")
    with op.batch_alter_table("rec_work_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rec_work_order_link_key"))
        batch_op.drop_index(batch_op.f("ix_rec_work_order_last_updated"))
        batch_op.drop_index(batch_op.f("ix_rec_work_order_grid_code"))
        batch_op.drop_index(batch_op.f("ix_rec_work_order_beat_code"))

    op.drop_table("rec_work_order")
    with op.batch_alter_table("rec_visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rec_visit_record_key_bidx"))
        batch_op.drop_index(batch_op.f("ix_rec_visit_link_key"))
        batch_op.drop_index(batch_op.f("ix_rec_visit_last_updated"))
        batch_op.drop_index(batch_op.f("ix_rec_visit_grid_code"))
        batch_op.drop_index(batch_op.f("ix_rec_visit_beat_code"))

    op.drop_table("rec_visit")
    with op.batch_alter_table("rec_unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rec_unit_phone_bidx"))
        batch_op.drop_index(batch_op.f("ix_rec_unit_link_key"))
        batch_op.drop_index(batch_op.f("ix_rec_unit_last_updated"))
        batch_op.drop_index(batch_op.f("ix_rec_unit_grid_code"))
        batch_op.drop_index(batch_op.f("ix_rec_unit_credit_code"))
        batch_op.drop_index(batch_op.f("ix_rec_unit_beat_code"))
        batch_op.drop_index(batch_op.f("ix_rec_unit_address_code"))

    op.drop_table("rec_unit")
    with op.batch_alter_table("rec_person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rec_person_phone_bidx"))
        batch_op.drop_index(batch_op.f("ix_rec_person_link_key"))
        batch_op.drop_index(batch_op.f("ix_rec_person_last_updated"))
        batch_op.drop_index(batch_op.f("ix_rec_person_id_number_bidx"))
        batch_op.drop_index(batch_op.f("ix_rec_person_house_code"))
        batch_op.drop_index(batch_op.f("ix_rec_person_grid_code"))
        batch_op.drop_index(batch_op.f("ix_rec_person_beat_code"))
        batch_op.drop_index(batch_op.f("ix_rec_person_address_code"))

    op.drop_table("rec_person")
    with op.batch_alter_table("rec_incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rec_incident_link_key"))
        batch_op.drop_index(batch_op.f("ix_rec_incident_last_updated"))
        batch_op.drop_index(batch_op.f("ix_rec_incident_grid_code"))
        batch_op.drop_index(batch_op.f("ix_rec_incident_case_notes_bidx"))
        batch_op.drop_index(batch_op.f("ix_rec_incident_beat_code"))
        batch_op.drop_index(batch_op.f("ix_rec_incident_address_code"))

    op.drop_table("rec_incident")
    with op.batch_alter_table("rec_house", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rec_house_owner_id_number_bidx"))
        batch_op.drop_index(batch_op.f("ix_rec_house_link_key"))
        batch_op.drop_index(batch_op.f("ix_rec_house_last_updated"))
        batch_op.drop_index(batch_op.f("ix_rec_house_house_code"))
        batch_op.drop_index(batch_op.f("ix_rec_house_grid_code"))
        batch_op.drop_index(batch_op.f("ix_rec_house_beat_code"))
        batch_op.drop_index(batch_op.f("ix_rec_house_address_code"))

    op.drop_table("rec_house")
    with op.batch_alter_table("rec_address", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rec_address_longitude_bidx"))
        batch_op.drop_index(batch_op.f("ix_rec_address_link_key"))
        batch_op.drop_index(batch_op.f("ix_rec_address_latitude_bidx"))
        batch_op.drop_index(batch_op.f("ix_rec_address_last_updated"))
        batch_op.drop_index(batch_op.f("ix_rec_address_grid_code"))
        batch_op.drop_index(batch_op.f("ix_rec_address_beat_code"))
        batch_op.drop_index(batch_op.f("ix_rec_address_area_code"))
        batch_op.drop_index(batch_op.f("ix_rec_address_address_code"))

    op.drop_table("rec_address")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_status"))
        batch_op.drop_index(batch_op.f("ix_quarantine_run_id"))

    op.drop_table("quarantine")
    op.drop_table("policy_versions")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_policy_id"))

    op.drop_table("clients")
    op.drop_table("audit_witnesses")
    op.drop_table("audit_tree")
    op.drop_table("audit_records")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_request_id")
        batch_op.drop_index("ix_audit_log_purpose")
        batch_op.drop_index("ix_audit_log_outcome")
        batch_op.drop_index("ix_audit_log_kind")
        batch_op.drop_index("ix_audit_log_client_id")
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index("ix_audit_log_action")

    op.drop_table("audit_log")
    op.drop_table("audit_cosignatures")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_archives")
