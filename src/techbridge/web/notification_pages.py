"""Notifications (通知) and brokering pages: my notifications with mark-as-read (one, or
all), a tech manager's declared fields and track record, and the administrators' view of
mail that was not delivered (retried with backoff, or failed for good, with the error).
Pages only call the services and render."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from techbridge.accounts import mail
from techbridge.accounts import service as accounts
from techbridge.accounts.schemas import ManagerFields
from techbridge.authz import accounts as account_rules
from techbridge.authz import require
from techbridge.deals import service as deals
from techbridge.errors import Invalid
from techbridge.web.auth import PrincipalDep, principal
from techbridge.web.deps import IdPath, LanguageDep, PageQuery, SessionDep
from techbridge.web.pages import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(principal)])
PER_PAGE = 20
_SEPARATORS = str.maketrans({"，": ",", "、": ",", "；": ",", ";": ",", "\n": ","})


@router.get("/notifications", response_class=HTMLResponse)
def notifications(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    unread: bool = False,
    page: PageQuery = 1,
) -> HTMLResponse:
    found = deals.list_notifications(
        session, principal, lang, unread_only=unread, page=page, per_page=PER_PAGE
    )
    return render(
        request,
        "notifications.html",
        lang,
        found=found,
        unread_only=unread,
        unread_total=deals.unread_count(session, principal),
    )


@router.post("/notifications/{notification_id}/read")
def mark_read(
    session: SessionDep, lang: LanguageDep, principal: PrincipalDep, notification_id: IdPath
) -> RedirectResponse:
    deals.mark_read(session, principal, notification_id, lang)
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/read-all")
def mark_all_read(session: SessionDep, principal: PrincipalDep) -> RedirectResponse:
    deals.mark_all_read(session, principal)
    return RedirectResponse("/notifications", status_code=303)


@router.post("/account/fields")
def declare_fields(
    session: SessionDep,
    principal: PrincipalDep,
    fields: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    accounts.set_my_fields(session, principal, _fields(fields))
    return RedirectResponse("/account#manager-fields", status_code=303)


def _fields(typed: str) -> ManagerFields:
    """Fields typed as a list separated by commas (，、; or new lines)."""
    tags = [part.strip() for part in typed.translate(_SEPARATORS).split(",") if part.strip()]
    try:
        return ManagerFields(fields=tags)
    except ValidationError as error:
        raise Invalid(
            "at most 100 fields of at most 200 characters each", field="fields"
        ) from error


@router.get("/managers/{manager_id}", response_class=HTMLResponse)
def manager_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    manager_id: IdPath,
) -> HTMLResponse:
    record = deals.manager_track_record(session, principal, manager_id)
    manager = accounts.get_user(session, manager_id)
    return render(request, "manager.html", lang, record=record, manager=manager)


@router.get("/admin/mail", response_class=HTMLResponse)
def undelivered_mail(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    page: PageQuery = 1,
) -> HTMLResponse:
    require(account_rules.can_administer(principal), principal, "see undelivered mail")
    found = mail.list_undelivered(session, principal, page=page, per_page=50)
    return render(
        request,
        "admin_mail.html",
        lang,
        found=found,
        counts=mail.outbox_counts(session),
        max_attempts=mail.MAX_ATTEMPTS,
    )


@router.post("/admin/users/{user_id}/fields")
def declare_fields_for(
    session: SessionDep,
    principal: PrincipalDep,
    user_id: IdPath,
    fields: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    """An administrator declares a tech manager's fields."""
    accounts.set_fields_for(session, principal, user_id, _fields(fields))
    return RedirectResponse(f"/admin/users/{user_id}#manager-fields", status_code=303)
