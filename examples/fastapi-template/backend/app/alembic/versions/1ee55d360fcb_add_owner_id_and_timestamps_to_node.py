"""Add owner_id and timestamps to node

Revision ID: 1ee55d360fcb
Revises: g1234567890e
Create Date: 2025-10-10 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "1ee55d360fcb"
down_revision = 'g1234567890e'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("node", sa.Column("owner_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.create_foreign_key("node_owner_id_fkey", "node", "user", ["owner_id"], ["id"], ondelete="CASCADE")
    op.add_column(
        "node", sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)
    )
    op.add_column(
        "node", sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)
    )


def downgrade():
    op.drop_column("node", "updated_at")
    op.drop_column("node", "created_at")
    op.drop_constraint("node_owner_id_fkey", "node", type_="foreignkey")
    op.drop_column("node", "owner_id")
