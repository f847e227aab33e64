"""What the admin page, the CLI and the API see of a seller key (never its hash)."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Scope(StrEnum):
    READ = "read"  # GET only
    WRITE = "write"  # every operation


@dataclass(frozen=True)
class KeyView:
    id: int
    name: str
    scope: str
    prefix: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class CreatedKey:
    key: KeyView
    token: str  # the only time the whole token exists outside the caller


@dataclass(frozen=True)
class Caller:
    """An authenticated key, as the API's handlers get it."""

    key_id: int
    name: str
    scope: str

    @property
    def label(self) -> str:
        """The audit log's actor for what this key does."""
        return f"api_key:{self.key_id} ({self.name})"[:320]

    @property
    def can_write(self) -> bool:
        return self.scope == Scope.WRITE
