"""Add timestamps to item

Revision ID: 2b2a406df71b
Revises: 0a0ed29996b1
Create Date: 2025-10-21 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "2b2a406df71b"
down_revision = '0a0ed29996b1'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "item", sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)
    )
    op.add_column(
        "item", sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)
    )


def downgrade():
    op.drop_column("item", "updated_at")
    op.drop_column("item", "created_at")
