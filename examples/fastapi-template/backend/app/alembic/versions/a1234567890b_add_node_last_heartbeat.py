"""Add node last_heartbeat

Revision ID: a1234567890b
Revises: f1234567890a
Create Date: 2025-09-05 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "a1234567890b"
down_revision = 'f1234567890a'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("node", sa.Column("last_heartbeat", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column("node", "last_heartbeat")
