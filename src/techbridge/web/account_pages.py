"""Account pages: register, verify, log in and out, password reset, and "my account".

Forms re-render with the message next to the field and the visitor's input kept (never the
password). Links from e-mails only show a button: the POST does the work, so a mail
scanner or link preview that fetches the URL uses nothing up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from techbridge.accounts import service as accounts
from techbridge.accounts.api import TokenId
from techbridge.accounts.models import User
from techbridge.accounts.schemas import (
    Login,
    PasswordChange,
    PasswordReset,
    PasswordResetRequest,
    ProfileUpdate,
    Registration,
    TokenCreate,
)
from techbridge.errors import Conflict, Forbidden, Invalid, RateLimited, TechBridgeError
from techbridge.web.auth import (
    SESSION_COOKIE,
    PrincipalDep,
    check_login,
    clear_session_cookie,
    client_context,
    log_in_browser,
    principal,
)
from techbridge.web.deps import LanguageDep, SessionDep
from techbridge.web.forms import refused, validated
from techbridge.web.i18n import LANGUAGE_COOKIE, N_, Language, translations
from techbridge.web.pages import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(principal)])
Field = Annotated[str, Form()]

AFTER_LOGIN = "/workspace"
# What a form says about a field it could not accept (pydantic's own words are English).
FIELD_PROBLEMS = {
    "email": N_("Enter a valid e-mail address."),
    "password": N_("The password needs 10 to 200 characters."),
    "current_password": N_("Enter your current password."),
    "name": N_("Enter a name of up to 200 characters."),
    "organisation_name": N_("Enter the organisation's name (up to 300 characters)."),
    "organisation_kind": N_("Choose a kind of organisation from the list."),
    "roles": N_("Choose at least one role."),
    "language": N_("Choose a language from the list."),
    "scopes": N_("Choose at least one permission."),
    "expires_in_days": N_("Enter a number of days from 1 to 366."),
    "token": N_("This link is incomplete: open it again from the e-mail."),
}
# Notices after a redirect, chosen by code so that the URL cannot inject text.
DONE = {
    "verified": N_("Your e-mail address is verified. You can log in now."),
    "verified_without_organisation": N_(
        "Your e-mail address is verified. You can log in now. The organisation you named is "
        "already registered: ask a platform administrator to add you to it."
    ),
    "reset": N_("Your new password is set. Log in with it."),
    "profile": N_("Your profile has been saved."),
    "password": N_("Your password has been changed; your other sessions have ended."),
    "revoked": N_("The token has been revoked."),
}
WRONG_CREDENTIALS = N_("wrong e-mail address or password")
# The errors a form shows next to its fields; anything else is an error page.
FORM_ERRORS = (Invalid, Conflict, Forbidden, RateLimited)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site, never another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return AFTER_LOGIN
    # Browsers drop tabs and newlines and read "\" as "/": "/\t/evil" would be "//evil".
    if "\\" in target or any(ord(character) < 32 for character in target):
        return AFTER_LOGIN
    return target


def form_page(
    request: Request,
    template: str,
    lang: Language,
    errors: dict[str, str],
    error: TechBridgeError | None = None,
    **context: Any,
) -> HTMLResponse:
    """A form shown again with its problems: 422, or the refusing error's status."""
    response = render(
        request,
        template,
        lang,
        status_code=error.http_status if error else 422,
        errors=errors,
        **context,
    )
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def done_notice(request: Request, lang: Language) -> str | None:
    code = request.query_params.get("done", "")
    return translations(lang).gettext(DONE[code]) if code in DONE else None


def go(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- registration and verification ---------------------------------------------------------


@router.get("/register", response_class=HTMLResponse)
def register_form(request: Request, lang: LanguageDep) -> HTMLResponse:
    values = {"roles": ["demander"], "language": lang}
    return render(request, "account_register.html", lang, values=values, errors={})


@router.post("/register", response_class=HTMLResponse)
def register(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    name: Field = "",
    email: Field = "",
    password: Field = "",
    organisation_name: Field = "",
    organisation_kind: Field = "",
    roles: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    language: Field = "",
) -> HTMLResponse:
    values: dict[str, Any] = {
        "name": name,
        "email": email,
        "password": password,
        "organisation_name": organisation_name or None,
        "organisation_kind": organisation_kind or None,
        "roles": roles,
        "language": language or lang,
    }
    shown = {**values, "password": ""}
    data, errors = validated(Registration, values, lang, messages=FIELD_PROBLEMS)
    if data is None:
        return form_page(request, "account_register.html", lang, errors, values=shown)
    try:
        accounts.register(session, data, client_context(request))
    except FORM_ERRORS as error:
        errors = refused(error, lang)
        return form_page(request, "account_register.html", lang, errors, error, values=shown)
    return render(request, "account_registered.html", lang, email=data.email)


@router.get("/verify", response_class=HTMLResponse)
def verify_form(request: Request, lang: LanguageDep, token: str = "") -> HTMLResponse:
    return render(request, "account_verify.html", lang, token=token, errors={})


@router.post("/verify", response_model=None)
def verify(request: Request, session: SessionDep, lang: LanguageDep, token: Field = "") -> Response:
    try:
        verified = accounts.verify_email(session, token)
    except Invalid as error:
        errors = refused(error, lang)
        return form_page(request, "account_verify.html", lang, errors, error, token=token)
    if verified.organisation_taken:
        return go("/login?done=verified_without_organisation")
    return go("/login?done=verified")


# --- logging in and out --------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, lang: LanguageDep, next: str = "") -> HTMLResponse:
    return render(
        request,
        "account_login.html",
        lang,
        values={"email": "", "next": safe_next(next)},
        errors={},
        notice=done_notice(request, lang),
    )


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    email: Field = "",
    password: Field = "",
    next: Field = "",
) -> Response:
    shown = {"email": email, "next": safe_next(next)}
    data, errors = validated(
        Login, {"email": email, "password": password}, lang, messages=FIELD_PROBLEMS
    )
    if data is None:
        return form_page(request, "account_login.html", lang, errors, values=shown)
    try:
        user = check_login(session, data, client_context(request))
    except FORM_ERRORS as error:
        errors = refused(error, lang)
        return form_page(request, "account_login.html", lang, errors, error, values=shown)
    if user is None:
        # Answered, not raised: the failure's audit entry must commit (the attempt has).
        errors = {"form": translations(lang).gettext(WRONG_CREDENTIALS)}
        return render(request, "account_login.html", lang, 401, values=shown, errors=errors)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        accounts.end_session(session, previous)
    response = go(shown["next"])
    log_in_browser(request, response, session, user)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> RedirectResponse:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        accounts.end_session(session, secret)
    response = go("/")
    clear_session_cookie(request, response)
    return response


# --- password reset ------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkForm:
    """A form that asks for a link by mail. Its answer is the same whether or not the
    address has an account, so it never tells who is registered."""

    name: str  # the form's id prefix
    sent_id: str  # the element saying the link is on its way
    action: str
    title: str
    sent: str
    send: Callable[[Session, str, accounts.Context], None]


FORGOT = LinkForm(
    "forgot",
    "reset-sent",
    "/password/forgot",
    N_("Forgot your password?"),
    N_(
        "If an account uses this address, we have sent it a link to choose a new password. "
        "The link is valid for 2 hours."
    ),
    accounts.request_password_reset,
)
RESEND = LinkForm(
    "resend",
    "resend-sent",
    "/verify/resend",
    N_("Send the verification link again"),
    N_(
        "If an unverified account uses this address, we have sent it a new link. "
        "The link is valid for 48 hours."
    ),
    accounts.resend_verification,
)


def link_form_page(request: Request, lang: Language, form: LinkForm) -> HTMLResponse:
    return render(
        request, "account_email_link.html", lang, link=form, values={"email": ""}, errors={}
    )


def ask_for_link(
    request: Request, session: Session, lang: Language, form: LinkForm, email: str
) -> HTMLResponse:
    data, errors = validated(PasswordResetRequest, {"email": email}, lang, messages=FIELD_PROBLEMS)
    template = "account_email_link.html"
    if data is None:
        return form_page(request, template, lang, errors, link=form, values={"email": email})
    form.send(session, data.email, client_context(request))
    return render(request, template, lang, link=form, sent=True, values={}, errors={})


@router.get("/password/forgot", response_class=HTMLResponse)
def forgot_form(request: Request, lang: LanguageDep) -> HTMLResponse:
    return link_form_page(request, lang, FORGOT)


@router.post("/password/forgot", response_class=HTMLResponse)
def forgot(
    request: Request, session: SessionDep, lang: LanguageDep, email: Field = ""
) -> HTMLResponse:
    return ask_for_link(request, session, lang, FORGOT, email)


@router.get("/verify/resend", response_class=HTMLResponse)
def resend_form(request: Request, lang: LanguageDep) -> HTMLResponse:
    return link_form_page(request, lang, RESEND)


@router.post("/verify/resend", response_class=HTMLResponse)
def resend(
    request: Request, session: SessionDep, lang: LanguageDep, email: Field = ""
) -> HTMLResponse:
    return ask_for_link(request, session, lang, RESEND, email)


@router.get("/password/reset", response_class=HTMLResponse)
def reset_form(request: Request, lang: LanguageDep, token: str = "") -> HTMLResponse:
    return render(request, "account_reset.html", lang, token=token, errors={})


@router.post("/password/reset", response_model=None)
def reset(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    token: Field = "",
    password: Field = "",
) -> Response:
    data, errors = validated(
        PasswordReset, {"token": token, "password": password}, lang, messages=FIELD_PROBLEMS
    )
    if data is None:
        return form_page(request, "account_reset.html", lang, errors, token=token)
    try:
        accounts.reset_password(session, data)
    except Invalid as error:
        errors = refused(error, lang)
        return form_page(request, "account_reset.html", lang, errors, error, token=token)
    response = go("/login?done=reset")
    clear_session_cookie(request, response)  # every session of the account has ended
    return response


# --- my account ----------------------------------------------------------------------------


def account_page(
    request: Request,
    session: Session,
    lang: Language,
    user: User,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("errors", {})
    context.setdefault("failed_form", None)
    context.setdefault("profile", {"name": user.name, "language": user.language or lang})
    return render(
        request,
        "account.html",
        lang,
        status_code,
        account=user,
        tokens=accounts.list_tokens(session, request.state.principal),
        **context,
    )


@router.get("/account", response_class=HTMLResponse)
def account(
    request: Request, session: SessionDep, lang: LanguageDep, who: PrincipalDep
) -> HTMLResponse:
    user = accounts.my_account(session, who)
    return account_page(request, session, lang, user, notice=done_notice(request, lang))


@router.post("/account/profile", response_model=None)
def update_profile(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    who: PrincipalDep,
    name: Field = "",
    language: Field = "",
) -> Response:
    user = accounts.my_account(session, who, change="profile")
    values = {"name": name, "language": language}
    data, errors = validated(ProfileUpdate, values, lang, messages=FIELD_PROBLEMS)
    if data is None:
        return account_page(
            request, session, lang, user, 422, failed_form="profile", errors=errors, profile=values
        )
    accounts.update_profile(session, who, data)
    response = go("/account?done=profile")
    # The browser's language cookie outranks the account's choice: keep them the same.
    response.set_cookie(
        LANGUAGE_COOKIE,
        data.language or lang,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
    )
    return response


@router.post("/account/password", response_model=None)
def change_password(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    who: PrincipalDep,
    current_password: Field = "",
    password: Field = "",
) -> Response:
    user = accounts.my_account(session, who, change="password")
    values = {"current_password": current_password, "password": password}
    data, errors = validated(PasswordChange, values, lang, messages=FIELD_PROBLEMS)
    if data is None:
        return account_page(
            request, session, lang, user, 422, failed_form="password", errors=errors
        )
    try:
        accounts.change_password(session, who, data)
    except Invalid as error:
        errors = refused(error, lang)
        return account_page(
            request, session, lang, user, 422, failed_form="password", errors=errors
        )
    # Every session ended with the old password; this browser gets a new one.
    response = go("/account?done=password")
    log_in_browser(request, response, session, user)
    return response


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    who: PrincipalDep,
    name: Field = "",
    scopes: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    expires_in_days: Field = "90",
) -> HTMLResponse:
    user = accounts.my_account(session, who, change="token")
    values = {"name": name, "scopes": scopes, "expires_in_days": expires_in_days or None}
    data, errors = validated(TokenCreate, values, lang, messages=FIELD_PROBLEMS)
    if data is None:
        return account_page(
            request, session, lang, user, 422, failed_form="token", errors=errors, token_form=values
        )
    token, secret = accounts.create_token(session, who, data)
    # Shown on this response only: a redirect would have to put the secret in a URL.
    return account_page(request, session, lang, user, new_token=secret, new_token_name=token.name)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(session: SessionDep, who: PrincipalDep, token_id: TokenId) -> RedirectResponse:
    accounts.revoke_token(session, who, token_id)
    return go("/account?done=revoked")
