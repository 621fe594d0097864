"""Account operations: registration, e-mail verification, login sessions, password reset,
one's own account, API tokens, user administration and tech managers' access to demands.

Like every service, nothing here commits: the edge does. Secrets handed to people (session
ids, tokens, e-mail links) are random; only their SHA-256 digests are stored.
"""

from techbridge.accounts.service.credentials import digest, dummy_hash
from techbridge.accounts.service.managers import (
    assign_manager,
    demand_manager_ids,
    set_manager_fields,
    unassign_manager,
)
from techbridge.accounts.service.own import OwnChange, change_password, my_account, update_profile
from techbridge.accounts.service.registration import (
    MAILS_PER_ADDRESS_PER_HOUR,
    REGISTRATION_NOTICE_INTERVAL,
    RESET_HOURS,
    VERIFY_HOURS,
    Verified,
    register,
    request_password_reset,
    resend_verification,
    reset_password,
    send_verification,
    verify_email,
)
from techbridge.accounts.service.sessions import (
    TOO_MANY_FAILURES,
    Attempt,
    authenticate,
    end_session,
    reserve_login,
    session_user,
    start_session,
)
from techbridge.accounts.service.tokens import (
    TOKEN_PREFIX,
    create_token,
    list_tokens,
    revoke_token,
    token_user,
)
from techbridge.accounts.service.users import (
    Context,
    actor_emails,
    assigned_demand_ids,
    audit_page,
    create_user,
    get_user,
    last_login,
    list_users,
    member_count,
    principal_for,
    update_user,
    user_by_email,
    user_for_admin,
)

__all__ = [
    "MAILS_PER_ADDRESS_PER_HOUR",
    "REGISTRATION_NOTICE_INTERVAL",
    "RESET_HOURS",
    "TOKEN_PREFIX",
    "TOO_MANY_FAILURES",
    "VERIFY_HOURS",
    "Attempt",
    "Context",
    "OwnChange",
    "Verified",
    "actor_emails",
    "assign_manager",
    "assigned_demand_ids",
    "audit_page",
    "authenticate",
    "change_password",
    "create_token",
    "create_user",
    "demand_manager_ids",
    "digest",
    "dummy_hash",
    "end_session",
    "get_user",
    "last_login",
    "list_tokens",
    "list_users",
    "member_count",
    "my_account",
    "principal_for",
    "register",
    "request_password_reset",
    "resend_verification",
    "reserve_login",
    "reset_password",
    "revoke_token",
    "send_verification",
    "session_user",
    "set_manager_fields",
    "start_session",
    "token_user",
    "unassign_manager",
    "update_profile",
    "update_user",
    "user_by_email",
    "user_for_admin",
    "verify_email",
]
