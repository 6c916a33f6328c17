"""Edit replace id integers in all models to use UUID instead

Revision ID: d98dd8ec85a3
Revises: 9c0a54914c78
Create Date: 2024-07-19 04:08:04.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "d98dd8ec85a3"
down_revision = '9c0a54914c78'
branch_labels = None
depends_on = None


def upgrade():
    # new postgresql.UUID(as_uuid=True) columns, filled for the existing rows (gen_random_uuid() is built in since PostgreSQL 13)
    op.add_column("user", sa.Column("new_id", postgresql.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()"), nullable=False))
    op.add_column("item", sa.Column("new_id", postgresql.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()"), nullable=False))
    op.add_column("item", sa.Column("new_owner_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.execute('UPDATE item SET new_owner_id = "user".new_id FROM "user" WHERE item.owner_id = "user".id')
    # swap them in
    op.drop_constraint("item_owner_id_fkey", "item", type_="foreignkey")
    op.drop_column("item", "owner_id")
    op.alter_column("item", "new_owner_id", new_column_name="owner_id")
    op.drop_constraint("user_pkey", "user", type_="primary")
    op.drop_column("user", "id")
    op.alter_column("user", "new_id", new_column_name="id", server_default=None)
    op.create_primary_key("user_pkey", "user", ["id"])
    op.drop_constraint("item_pkey", "item", type_="primary")
    op.drop_column("item", "id")
    op.alter_column("item", "new_id", new_column_name="id", server_default=None)
    op.create_primary_key("item_pkey", "item", ["id"])
    op.create_foreign_key("item_owner_id_fkey", "item", "user", ["owner_id"], ["id"])


def downgrade():
    op.execute('ALTER TABLE "user" ADD COLUMN old_id SERIAL')
    op.execute("ALTER TABLE item ADD COLUMN old_id SERIAL")
    op.add_column("item", sa.Column("old_owner_id", sa.Integer(), nullable=True))
    op.execute('UPDATE item SET old_owner_id = "user".old_id FROM "user" WHERE item.owner_id = "user".id')
    op.drop_constraint("item_owner_id_fkey", "item", type_="foreignkey")
    op.drop_column("item", "owner_id")
    op.alter_column("item", "old_owner_id", new_column_name="owner_id")
    op.drop_constraint("user_pkey", "user", type_="primary")
    op.drop_column("user", "id")
    op.alter_column("user", "old_id", new_column_name="id")
    op.create_primary_key("user_pkey", "user", ["id"])
    op.drop_constraint("item_pkey", "item", type_="primary")
    op.drop_column("item", "id")
    op.alter_column("item", "old_id", new_column_name="id")
    op.create_primary_key("item_pkey", "item", ["id"])
    op.create_foreign_key("item_owner_id_fkey", "item", "user", ["owner_id"], ["id"])
