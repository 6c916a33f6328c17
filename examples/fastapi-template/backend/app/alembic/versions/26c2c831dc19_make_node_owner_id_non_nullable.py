"""Make node owner_id non-nullable

Revision ID: 26c2c831dc19
Revises: 1ee55d360fcb
Create Date: 2025-10-12 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "26c2c831dc19"
down_revision = '1ee55d360fcb'
branch_labels = None
depends_on = None


def upgrade():
    # nodes registered before owners existed go to the first superuser (or are removed when there is none)
    op.execute(
        'UPDATE node SET owner_id = (SELECT id FROM "user" WHERE is_superuser ORDER BY email LIMIT 1) '
        "WHERE owner_id IS NULL"
    )
    op.execute("DELETE FROM node WHERE owner_id IS NULL")
    op.alter_column("node", "owner_id", existing_type=postgresql.UUID(as_uuid=True), nullable=False)


def downgrade():
    op.alter_column("node", "owner_id", existing_type=postgresql.UUID(as_uuid=True), nullable=True)
