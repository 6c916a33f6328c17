"""The prefab-gateway's four tables as SQLAlchemy models (the guide's
data model): user secrets (Fernet-encrypted), cached prefab specs, the
audit log and the webhook event queue."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


NOW = sa.text("CURRENT_TIMESTAMP")


class UserSecret(Base):
    __tablename__ = "user_secrets"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "prefab_id", "secret_name", name="uq_user_secrets_name"),
        sa.Index("ix_user_secrets_user_prefab", "user_id", "prefab_id"),
    )
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    prefab_id: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    secret_name: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    secret_value: Mapped[str] = mapped_column(sa.Text, nullable=False, comment="Fernet token")
    status: Mapped[str] = mapped_column(
        sa.Enum("active", "disabled", "expired", name="secret_status"), nullable=False, server_default="active"
    )
    created_at = mapped_column(sa.DateTime, nullable=False, server_default=NOW)
    last_used_at = mapped_column(sa.DateTime, nullable=True)


class PrefabSpec(Base):
    __tablename__ = "prefab_specs"
    __table_args__ = (sa.UniqueConstraint("prefab_id", "version", name="uq_prefab_specs_version"),)
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    prefab_id: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    version: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    spec_json = mapped_column(sa.JSON, nullable=False, comment="manifest.json")
    deployment_status: Mapped[str] = mapped_column(
        sa.Enum("pending", "building", "deployed", "failed", name="deployment_status"),
        nullable=False,
        server_default="pending",
    )
    knative_service_url = mapped_column(sa.String(512), nullable=True)
    call_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, server_default="0")


class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        sa.Index("ix_audit_logs_request", "request_id"),
        sa.Index("ix_audit_logs_user_time", "user_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    user_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    action: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    success: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    created_at = mapped_column(sa.DateTime, nullable=False, server_default=NOW)


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (sa.Index("ix_webhook_events_pending", "processed", "source"),)
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    source: Mapped[str] = mapped_column(sa.String(64), nullable=False, comment="factory or github")
    event_type: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    payload = mapped_column(sa.JSON, nullable=False)
    processed: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, server_default=sa.false())
