"""job queue: claim index, dedupe among unfinished jobs, periodic schedules, LISTEN/NOTIFY trigger

Revision ID: jobs_0001
Revises: core_0001
Create Date: 2026-11-22 08:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import harken.core.db

revision: str = "jobs_0001"
down_revision: str | Sequence[str] | None = "core_0001"
branch_labels: str | Sequence[str] | None = ("jobs",)
depends_on: str | Sequence[str] | None = None

QUEUED = "status = 'queued'"
ACTIVE = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "job_schedules",
        sa.Column("kind", sa.String(length=128), nullable=False),
        sa.Column("last_slot", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", harken.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_job_schedules")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint("uq_jobs_dedupe_key", type_="unique")
    op.create_index(
        "ix_jobs_queue",
        "jobs",
        [sa.desc("priority"), "run_at"],
        postgresql_where=sa.text(QUEUED),
        sqlite_where=sa.text(QUEUED),
    )
    op.create_index(
        "ux_jobs_dedupe_active",
        "jobs",
        ["dedupe_key"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Standalone workers LISTEN on `harken_jobs`: a committed INSERT wakes them at once
        # (NOTIFY is delivered on commit only, so a rolled-back enqueue wakes nobody).
        op.execute(
            """
            CREATE OR REPLACE FUNCTION harken_jobs_notify() RETURNS trigger AS $$
            BEGIN
                PERFORM pg_notify('harken_jobs', '');
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER jobs_notify AFTER INSERT ON jobs FOR EACH STATEMENT EXECUTE FUNCTION harken_jobs_notify()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS jobs_notify ON jobs")
        op.execute("DROP FUNCTION IF EXISTS harken_jobs_notify()")
    op.drop_index("ux_jobs_dedupe_active", table_name="jobs")
    op.drop_index("ix_jobs_queue", table_name="jobs")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_jobs_dedupe_key", ["dedupe_key"])
    op.drop_table("job_schedules")
