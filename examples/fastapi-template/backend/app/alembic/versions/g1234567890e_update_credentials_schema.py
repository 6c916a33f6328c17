"""Update credentials schema

Revision ID: g1234567890e
Revises: e3c92c171920
Create Date: 2025-10-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "g1234567890e"
down_revision = 'e3c92c171920'
branch_labels = None
depends_on = None

CATEGORIES = ("github_copilot", "cursor", "claude", "other")


def upgrade():
    # categories become an enum; what was typed by hand so far is mapped onto it, row by row
    category = postgresql.ENUM(*CATEGORIES, name="credentialcategory")
    category.create(op.get_bind())
    bind = op.get_bind()
    for row_id, text in bind.execute(sa.text("SELECT id, category FROM credential")).fetchall():
        normalized = text.strip().lower().replace(" ", "_").replace("-", "_")
        value = normalized if normalized in CATEGORIES else "other"
        bind.execute(sa.text("UPDATE credential SET category = :v WHERE id = :i"), {"v": value, "i": row_id})
    op.alter_column(
        "credential",
        "category",
        existing_type=sa.String(length=50),
        type_=category,
        postgresql_using="category::credentialcategory",
        existing_nullable=False,
    )
    op.alter_column("credential", "token", new_column_name="pat")
    op.add_column("credential", sa.Column("is_disabled", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "credentialnodelink",
        sa.Column("credential_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("node_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.ForeignKeyConstraint(["credential_id"], ["credential.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("credential_id", "node_id"),
    )


def downgrade():
    op.drop_table("credentialnodelink")
    op.drop_column("credential", "is_disabled")
    op.alter_column("credential", "pat", new_column_name="token")
    op.alter_column(
        "credential",
        "category",
        existing_type=postgresql.ENUM(*CATEGORIES, name="credentialcategory"),
        type_=sa.String(length=50),
        existing_nullable=False,
    )
    postgresql.ENUM(name="credentialcategory").drop(op.get_bind())
