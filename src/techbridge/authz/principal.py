"""Who is asking, and the one way to refuse them."""

from __future__ import annotations

from dataclasses import dataclass, field

from techbridge.audit import Actor
from techbridge.errors import Forbidden, Unauthenticated


@dataclass(frozen=True)
class Principal:
    """Who is asking. The default is the anonymous visitor (公众)."""

    user_id: int | None = None
    organisation_id: int | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset({"read", "write"})
    assigned_demands: frozenset[int] = field(default_factory=frozenset)
    via_token: bool = False  # an API token rather than a browser login
    operator: bool = False  # the installation's operator at the command line (no user)

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None or self.operator

    @property
    def actor(self) -> Actor:
        """How the audit log names this principal; an anonymous visitor changes nothing, so
        asking for theirs is a bug."""
        if self.operator:
            return Actor.OPERATOR
        if self.user_id is None:
            raise RuntimeError("an anonymous visitor cannot act")
        return Actor.user(self.user_id)

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return "administrator" in self.roles

    @property
    def can_write(self) -> bool:
        return self.authenticated and "write" in self.scopes

    def member_of(self, organisation_id: int | None) -> bool:
        return organisation_id is not None and organisation_id == self.organisation_id


ANONYMOUS = Principal()
# The command line runs as the operator of the installation, with an administrator's rights,
# and is recorded in the audit log as the operator (not as a user).
SYSTEM = Principal(roles=frozenset({"administrator"}), operator=True)


def require(allowed: bool, principal: Principal, what: str) -> None:
    """Refuse: 401 when nobody is logged in (logging in might help), else 403."""
    if allowed:
        return
    if not principal.authenticated:
        raise Unauthenticated(f"log in to {what}")
    if "write" not in principal.scopes:
        raise Forbidden(f"this token's scopes do not allow you to {what}")
    raise Forbidden(f"you may not {what}")
