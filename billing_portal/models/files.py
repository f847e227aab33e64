"""Customer files kept in storage; the row is the only way to reach the object."""

from datetime import datetime

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class StoredFile(SQLModel, table=True):
    __tablename__ = "files"
    __table_args__ = (Index("ix_files_owner_created", "owner_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="customers.id")
    storage_key: str = Field(max_length=500, unique=True)
    display_name: str = Field(max_length=255)
    size_bytes: int = Field(sa_type=BigInteger)
    content_type: str = Field(max_length=127)
    category: str = Field(max_length=16, index=True)
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
