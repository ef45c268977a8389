"""Who is asking (an API key, or a sign-in session of one) and the rules of its role; the
auth service (store.auth) makes one, the services and the audit trail read it."""

from __future__ import annotations

from dataclasses import dataclass

from store.documents import Role
from store.errors import Forbidden

ROLE_RANK = {Role.VIEWER: 0, Role.IMPORTER: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    key_id: str  # a prefix of the key's hash: names the key in limits, never the key itself
    is_session: bool = False  # presented a sign-in session's token, not the key itself

    def require(self, role: Role) -> None:
        if ROLE_RANK[self.role] < ROLE_RANK[role]:
            raise Forbidden(f"This needs the {role.value} role; your key has {self.role.value}")

    def require_owner(self, created_by_key: str | None, action: str, what: str) -> None:
        """The one rule for acting on an import or a schedule (cancel, retry, revert; change,
        run, delete): an admin, or the API key that created it (its sign-in sessions too)."""
        if self.role is not Role.ADMIN and self.key_id != created_by_key:
            raise Forbidden(f"Only an admin or the API key that created the {what} may {action} it")
