"""Accounts JSON API (/api/v1): registration, login, password reset, profile, API tokens.

Logging in sets the same session cookie as the login page; calls made with that cookie must
send the CSRF token as ``x-csrftoken``. Token and password changes need a browser session.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from techbridge.accounts import service as accounts
from techbridge.accounts.schemas import (
    EmailVerification,
    Login,
    ManagerFields,
    PasswordChange,
    PasswordReset,
    PasswordResetRequest,
    ProfileUpdate,
    Registration,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserRead,
)
from techbridge.web.auth import (
    SESSION_COOKIE,
    PrincipalDep,
    check_login,
    clear_session_cookie,
    client_context,
    log_in_browser,
)
from techbridge.web.deps import IdPath, SessionDep

router = APIRouter(tags=["accounts"])
TokenId = IdPath
WRONG_CREDENTIALS = "wrong e-mail address or password"
RESET_ACCEPTED = "if an account uses this address, a link to reset its password is on its way"
REGISTER_ACCEPTED = "a link to verify the address is on its way; follow it, then log in"
RESEND_ACCEPTED = "if an unverified account uses this address, a new link is on its way"


class Accepted(BaseModel):
    message: str


@router.post(
    "/auth/register",
    status_code=202,
    response_model=Accepted,
    summary="Register; a verification link is mailed (注册). The answer is the same whether or "
    "not the address or the organisation exists (the owner of a taken address is told by mail "
    "instead, at most once a day).",
)
def register(request: Request, session: SessionDep, data: Registration) -> Accepted:
    accounts.register(session, data, client_context(request))
    return Accepted(message=REGISTER_ACCEPTED)


@router.post(
    "/auth/verify",
    response_model=UserRead,
    summary="Verify an e-mail address; the organisation named at registration is founded now, "
    "unless one with that name exists by then (organisation_id stays null: ask an "
    "administrator to join it)",
)
def verify(session: SessionDep, data: EmailVerification) -> UserRead:
    return UserRead.model_validate(accounts.verify_email(session, data.token).user)


@router.post(
    "/auth/login",
    response_model=UserRead,
    responses={401: {"description": "Wrong e-mail address or password"}},
    summary="Log in: sets the session cookie (登录)",
)
def login(request: Request, session: SessionDep, data: Login) -> Response:
    user = check_login(session, data, client_context(request))
    if user is None:
        # Returned, not raised: the failure's audit entry must commit (the attempt has).
        body = {"error": {"code": "unauthenticated", "message": WRONG_CREDENTIALS, "field": None}}
        return JSONResponse(body, status_code=401)
    result = JSONResponse(UserRead.model_validate(user).model_dump(mode="json"))
    log_in_browser(request, result, session, user)
    return result


@router.post("/auth/logout", status_code=204, summary="End this browser session")
def logout(request: Request, response: Response, session: SessionDep) -> None:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        accounts.end_session(session, secret)
    clear_session_cookie(request, response)


@router.post(
    "/auth/password/forgot",
    status_code=202,
    response_model=Accepted,
    summary="Mail a password reset link (the answer never says whether the address exists)",
)
def forgot_password(request: Request, session: SessionDep, data: PasswordResetRequest) -> Accepted:
    accounts.request_password_reset(session, data.email, client_context(request))
    return Accepted(message=RESET_ACCEPTED)


@router.post(
    "/auth/verify/resend",
    status_code=202,
    response_model=Accepted,
    summary="Mail a new verification link (the answer never says whether the address exists)",
)
def resend_verification(
    request: Request, session: SessionDep, data: PasswordResetRequest
) -> Accepted:
    accounts.resend_verification(session, data.email, client_context(request))
    return Accepted(message=RESEND_ACCEPTED)


@router.post(
    "/auth/password/reset",
    response_model=UserRead,
    summary="Choose a new password with a mailed link; every session of the account ends",
)
def reset_password(session: SessionDep, data: PasswordReset) -> UserRead:
    return UserRead.model_validate(accounts.reset_password(session, data))


@router.get("/me", response_model=UserRead, summary="The caller's account")
def me(session: SessionDep, principal: PrincipalDep) -> UserRead:
    return UserRead.model_validate(accounts.my_account(session, principal))


@router.patch("/me", response_model=UserRead, summary="Change your name or language")
def update_me(session: SessionDep, principal: PrincipalDep, data: ProfileUpdate) -> UserRead:
    return UserRead.model_validate(accounts.update_profile(session, principal, data))


@router.post(
    "/me/password",
    status_code=204,
    summary="Change your password (browser session only); your other sessions end",
)
def change_password(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    data: PasswordChange,
) -> None:
    user = accounts.change_password(session, principal, data)
    log_in_browser(request, response, session, user)  # this browser stays logged in


@router.get("/me/tokens", response_model=list[TokenRead], summary="Your API tokens")
def list_tokens(session: SessionDep, principal: PrincipalDep) -> list[TokenRead]:
    tokens = accounts.list_tokens(session, principal)
    return [TokenRead.model_validate(token) for token in tokens]


@router.post(
    "/me/tokens",
    status_code=201,
    response_model=TokenCreated,
    summary="Create an API token (browser session only); its secret is shown once",
)
def create_token(session: SessionDep, principal: PrincipalDep, data: TokenCreate) -> TokenCreated:
    token, secret = accounts.create_token(session, principal, data)
    shown = TokenRead.model_validate(token).model_dump()
    return TokenCreated(**shown, token=secret)


@router.delete("/me/tokens/{token_id}", response_model=TokenRead, summary="Revoke an API token")
def revoke_token(session: SessionDep, principal: PrincipalDep, token_id: TokenId) -> TokenRead:
    return TokenRead.model_validate(accounts.revoke_token(session, principal, token_id))


@router.put(
    "/me/fields",
    response_model=ManagerFields,
    summary="A tech manager declares the fields they broker in (tags: IPC codes, words)",
)
def set_my_fields(
    session: SessionDep, principal: PrincipalDep, data: ManagerFields
) -> ManagerFields:
    return ManagerFields(fields=accounts.set_my_fields(session, principal, data))
