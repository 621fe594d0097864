"""Who may judge suggested matches."""

from __future__ import annotations

from techbridge.authz.principal import Principal


def can_mark_match(principal: Principal) -> bool:
    """Anyone logged in with write access who may see the listing matched (checked by the
    service, which reports an unseen listing as missing)."""
    return principal.authenticated and principal.can_write
