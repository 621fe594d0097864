"""Administration pages (平台管理): users and their roles, organisations, the audit log.

Only administrators get in: the router's dependency asks ``authz.accounts`` once for the
whole area (anonymous visitors are sent to the login page, others see 403), and every
service called below checks its own operation again.
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from techbridge.accounts import service as accounts
from techbridge.accounts.schemas import ROLES, Role, UserAdminUpdate
from techbridge.authz import Principal, require
from techbridge.authz import accounts as rules
from techbridge.catalog import service as catalog
from techbridge.catalog.models import Organisation
from techbridge.catalog.schemas import OrganisationCreate, OrganisationKind, OrganisationUpdate
from techbridge.errors import NotFound
from techbridge.web.auth import PrincipalDep
from techbridge.web.deps import IdPath, IdQuery, LanguageDep, PageQuery, SessionDep
from techbridge.web.forms import attempt
from techbridge.web.i18n import Language
from techbridge.web.pages import render


def administrator(principal: PrincipalDep) -> Principal:
    require(rules.can_administer(principal), principal, "use the administration area")
    return principal


router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(administrator)])
AdminDep = Annotated[Principal, Depends(administrator)]
SearchQuery = Annotated[str, Query(max_length=200)]
PER_PAGE = 50
ORGANISATION_CHOICES = 100
FormText = Annotated[str, Form()]
OrganisationKinds = get_args(OrganisationKind)


def _page_url(request: Request, page: int) -> str:
    """This page's address with another page number (the other filters kept)."""
    query = {**request.query_params, "page": str(page)}
    return f"{request.url.path}?{urlencode(query)}"


def _optional(text: str) -> str | None:
    return text.strip() or None


# --- overview --------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def admin_home(
    request: Request, session: SessionDep, lang: LanguageDep, principal: AdminDep
) -> HTMLResponse:
    recent = accounts.audit_page(session, principal, per_page=10).items
    return render(
        request,
        "admin_home.html",
        lang,
        users_total=accounts.list_users(session, principal, per_page=1).total,
        organisations_total=catalog.list_organisations(session, per_page=1).total,
        recent=recent,
        actors=accounts.actor_emails(session, principal, recent),
        changes=describe_changes,
    )


# --- users -----------------------------------------------------------------------------------


def _organisation_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    return {
        organisation_id: catalog.get_organisation(session, organisation_id).name
        for organisation_id in ids
        if organisation_id is not None
    }


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: AdminDep,
    q: SearchQuery = "",
    role: Role | None = None,
    organisation_id: IdQuery = None,
    page: PageQuery = 1,
) -> HTMLResponse:
    users = accounts.list_users(
        session,
        principal,
        search=q or None,
        role=role,
        organisation_id=organisation_id,
        page=page,
        per_page=PER_PAGE,
    )
    return render(
        request,
        "admin_users.html",
        lang,
        users=users,
        q=q,
        role=role,
        organisation_id=organisation_id,
        roles=ROLES,
        organisation_names=_organisation_names(session, {u.organisation_id for u in users.items}),
        page_url=lambda number: _page_url(request, number),
    )


def _user_form(
    request: Request,
    session: SessionDep,
    lang: Language,
    principal: Principal,
    user_id: int,
    *,
    org_q: str = "",
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> HTMLResponse:
    user = accounts.user_for_admin(session, principal, user_id)
    choices = catalog.list_organisations(
        session, name_contains=org_q or None, per_page=ORGANISATION_CHOICES
    ).items
    form = values or {
        "name": user.name,
        "roles": list(user.roles),
        "organisation_id": user.organisation_id,
        "active": user.active,
    }
    chosen = form["organisation_id"]
    if chosen is not None and all(choice.id != chosen for choice in choices):
        with suppress(NotFound):  # the form may name one that does not exist
            choices = [catalog.get_organisation(session, chosen), *choices]
    return render(
        request,
        "admin_user.html",
        lang,
        status_code=422 if errors else 200,
        account=user,
        last_login=accounts.last_login(session, principal, user.id),
        form=form,
        errors=errors or {},
        org_q=org_q,
        organisations=choices,
        roles=ROLES,
        saved=saved,
    )


@router.get("/users/{user_id}", response_class=HTMLResponse)
def user_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: AdminDep,
    user_id: IdPath,
    org_q: SearchQuery = "",
    saved: bool = False,
) -> HTMLResponse:
    return _user_form(request, session, lang, principal, user_id, org_q=org_q, saved=saved)


@router.post("/users/{user_id}", response_class=HTMLResponse)
def update_user(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: AdminDep,
    user_id: IdPath,
    name: FormText = "",
    roles: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    organisation_id: FormText = "",
    active: FormText = "",
) -> Response:
    values: dict[str, Any] = {
        "name": name,
        "roles": roles,
        "organisation_id": _optional(organisation_id),
        "active": active == "1",
    }

    def save() -> None:
        data = UserAdminUpdate.model_validate(values)
        accounts.update_user(session, principal, user_id, data)

    _, errors = attempt(session, lang, save, not_about_the_form=(None, "user_id"))
    if errors:
        form = {**values, "organisation_id": _int_or_none(values["organisation_id"])}
        return _user_form(request, session, lang, principal, user_id, values=form, errors=errors)
    return RedirectResponse(f"/admin/users/{user_id}?saved=1", status_code=303)


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and len(text) < 10 else None


# --- organisations ---------------------------------------------------------------------------


def _organisations_page(
    request: Request,
    session: Session,
    lang: Language,
    *,
    q: str = "",
    page: int = 1,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    organisations = catalog.list_organisations(
        session, name_contains=q or None, page=page, per_page=PER_PAGE
    )
    return render(
        request,
        "admin_organisations.html",
        lang,
        status_code=422 if errors else 200,
        organisations=organisations,
        q=q,
        form=values or {},
        errors=errors or {},
        kinds=OrganisationKinds,
        page_url=lambda number: _page_url(request, number),
    )


@router.get("/organisations", response_class=HTMLResponse)
def organisations_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    q: SearchQuery = "",
    page: PageQuery = 1,
) -> HTMLResponse:
    return _organisations_page(request, session, lang, q=q, page=page)


def _organisation_values(
    name: FormText = "",
    name_en: FormText = "",
    kind: FormText = "",
    district: FormText = "",
    credit_code: FormText = "",
) -> dict[str, Any]:
    """The organisation form's fields (a dependency shared by creating and editing)."""
    return {
        "name": name,
        "name_en": _optional(name_en),
        "kind": _optional(kind),
        "district": _optional(district),
        "credit_code": _optional(credit_code),
    }


OrganisationFormDep = Annotated[dict[str, Any], Depends(_organisation_values)]


@router.post("/organisations", response_class=HTMLResponse)
def create_organisation(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: AdminDep,
    values: OrganisationFormDep,
) -> Response:
    def create() -> Organisation:
        data = OrganisationCreate.model_validate(values)
        return catalog.create_organisation(session, principal, data)

    organisation, errors = attempt(session, lang, create)
    if organisation is None:
        return _organisations_page(request, session, lang, values=values, errors=errors)
    return RedirectResponse(f"/admin/organisations/{organisation.id}?saved=1", status_code=303)


def _organisation_form(
    request: Request,
    organisation: Organisation,
    lang: Language,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> HTMLResponse:
    fields = ("name", "name_en", "kind", "district", "credit_code")
    return render(
        request,
        "admin_organisation.html",
        lang,
        status_code=422 if errors else 200,
        organisation=organisation,
        form=values or {name: getattr(organisation, name) for name in fields},
        errors=errors or {},
        kinds=OrganisationKinds,
        saved=saved,
    )


@router.get("/organisations/{organisation_id}", response_class=HTMLResponse)
def organisation_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    organisation_id: IdPath,
    saved: bool = False,
) -> HTMLResponse:
    organisation = catalog.get_organisation(session, organisation_id)
    return _organisation_form(request, organisation, lang, saved=saved)


@router.post("/organisations/{organisation_id}", response_class=HTMLResponse)
def update_organisation(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: AdminDep,
    organisation_id: IdPath,
    values: OrganisationFormDep,
) -> Response:
    def save() -> Organisation:
        data = OrganisationUpdate.model_validate(values)
        return catalog.update_organisation(session, principal, organisation_id, data)

    _, errors = attempt(session, lang, save, not_about_the_form=(None, "organisation_id"))
    if errors:
        organisation = catalog.get_organisation(session, organisation_id)
        return _organisation_form(request, organisation, lang, values=values, errors=errors)
    return RedirectResponse(f"/admin/organisations/{organisation_id}?saved=1", status_code=303)


# --- audit log -------------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: AdminDep,
    page: PageQuery = 1,
) -> HTMLResponse:
    entries = accounts.audit_page(session, principal, page=page, per_page=PER_PAGE)
    return render(
        request,
        "admin_audit.html",
        lang,
        entries=entries,
        actors=accounts.actor_emails(session, principal, entries.items),
        changes=describe_changes,
        page_url=lambda number: _page_url(request, number),
    )


def describe_changes(changes: dict[str, Any]) -> list[str]:
    """Each change as "field: before → after" (or "field: value"), Chinese left readable."""

    def shown(value: Any) -> str:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 120 else text[:119] + "…"

    lines = []
    for name, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            lines.append(f"{name}: {shown(value[0])} → {shown(value[1])}")
        else:
            lines.append(f"{name}: {shown(value)}")
    return lines
