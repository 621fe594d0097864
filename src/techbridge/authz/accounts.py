"""Who may manage users, their own account and the audit log."""

from __future__ import annotations

from techbridge.authz.principal import Principal


def can_administer(principal: Principal) -> bool:
    """Users, roles, organisations and the audit log."""
    return principal.is_admin


def can_change_users(principal: Principal) -> bool:
    return principal.is_admin and principal.can_write


def can_change_own_account(principal: Principal) -> bool:
    """One's own profile and tokens: any login, but a read-only token changes nothing."""
    return principal.can_write and principal.user_id is not None


def can_manage_credentials(principal: Principal) -> bool:
    """Minting API tokens and changing the password need a browser login: a stolen token
    must not be able to entrench itself or lock its owner out."""
    return can_change_own_account(principal) and not principal.via_token
