"""Add registration key table

Revision ID: b1234567890c
Revises: a1234567890b
Create Date: 2025-09-08 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "b1234567890c"
down_revision = 'a1234567890b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "node_registration_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id = 1", name="node_registration_key_single_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    # the one row: a fresh random key
    op.execute("INSERT INTO node_registration_key (id, key) VALUES (1, md5(random()::text))")


def downgrade():
    op.drop_table("node_registration_key")
