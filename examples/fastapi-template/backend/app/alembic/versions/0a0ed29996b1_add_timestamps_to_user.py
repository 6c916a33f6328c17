"""Add timestamps to user

Revision ID: 0a0ed29996b1
Revises: 26c2c831dc19
Create Date: 2025-10-20 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0a0ed29996b1"
down_revision = '26c2c831dc19'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "user", sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)
    )
    op.add_column(
        "user", sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)
    )


def downgrade():
    op.drop_column("user", "updated_at")
    op.drop_column("user", "created_at")
