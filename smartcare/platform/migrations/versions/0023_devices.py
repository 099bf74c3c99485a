"""Home and ward devices: the registry (owner, status, credentials), raw frames taken once, pairing codes

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_registry",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("serial", sa.String(64), nullable=True),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("organization", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("mqtt_hash", sa.String(200), nullable=True),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("revoked", sa.String(32), nullable=True),
        sa.Column("last_seen", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("device_id"),
    )
    op.create_index("ix_device_registry_patient_id", "device_registry", ["patient_id"])
    op.create_index("ix_device_registry_serial", "device_registry", ["serial"])
    op.create_table(
        "device_frame",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received", sa.String(32), nullable=False),
        sa.Column("device_time", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "seq"),
    )
    op.create_index("ix_device_frame_received", "device_frame", ["received"])
    op.create_table(
        "device_pairing",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("expires", sa.String(32), nullable=False),
        sa.Column("used", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    op.create_index("ix_device_pairing_device_id", "device_pairing", ["device_id"])


def downgrade() -> None:
    op.drop_index("ix_device_pairing_device_id", table_name="device_pairing")
    op.drop_table("device_pairing")
    op.drop_index("ix_device_frame_received", table_name="device_frame")
    op.drop_table("device_frame")
    op.drop_index("ix_device_registry_serial", table_name="device_registry")
    op.drop_index("ix_device_registry_patient_id", table_name="device_registry")
    op.drop_table("device_registry")
