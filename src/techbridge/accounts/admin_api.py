"""Administration JSON API (/api/v1/admin, 平台管理): users, roles, organisations, audit log.

Every operation goes through a service that asks ``authz.accounts``; only administrators
pass, and a read-only token can look but not change.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from techbridge.accounts import mail, service
from techbridge.accounts.schemas import MailRead, ManagerFields, Role, UserAdminUpdate, UserRead
from techbridge.audit.schemas import AuditRead
from techbridge.catalog import service as catalog
from techbridge.catalog.schemas import OrganisationCreate, OrganisationRead, OrganisationUpdate
from techbridge.pagination import PageOut, page_out
from techbridge.web.auth import PrincipalDep
from techbridge.web.deps import IdPath, IdQuery, PageQuery, PerPageQuery, SessionDep

router = APIRouter(prefix="/admin", tags=["administration"])
SearchQuery = Annotated[
    str | None, Query(max_length=200, description="Part of the e-mail address or the name.")
]


@router.get("/users", response_model=PageOut[UserRead], summary="Users (用户), filtered")
def list_users(
    session: SessionDep,
    principal: PrincipalDep,
    search: SearchQuery = None,
    role: Role | None = None,
    organisation_id: IdQuery = None,
    page: PageQuery = 1,
    per_page: PerPageQuery = 50,
) -> PageOut[UserRead]:
    users = service.list_users(
        session,
        principal,
        search=search,
        role=role,
        organisation_id=organisation_id,
        page=page,
        per_page=per_page,
    )
    return page_out(users, UserRead)


@router.get("/users/{user_id}", response_model=UserRead, summary="One user")
def get_user(session: SessionDep, principal: PrincipalDep, user_id: IdPath) -> UserRead:
    return UserRead.model_validate(service.user_for_admin(session, principal, user_id))


@router.patch(
    "/users/{user_id}",
    response_model=UserRead,
    summary="Change a user's name, roles, organisation or whether the account is active",
)
def update_user(
    session: SessionDep, principal: PrincipalDep, user_id: IdPath, data: UserAdminUpdate
) -> UserRead:
    return UserRead.model_validate(service.update_user(session, principal, user_id, data))


@router.post(
    "/organisations",
    response_model=OrganisationRead,
    status_code=201,
    summary="Register an organisation (机构)",
)
def create_organisation(
    session: SessionDep, principal: PrincipalDep, data: OrganisationCreate
) -> OrganisationRead:
    organisation = catalog.create_organisation(session, principal, data)
    return OrganisationRead.model_validate(organisation)


@router.patch(
    "/organisations/{organisation_id}",
    response_model=OrganisationRead,
    summary="Change an organisation",
)
def update_organisation(
    session: SessionDep, principal: PrincipalDep, organisation_id: IdPath, data: OrganisationUpdate
) -> OrganisationRead:
    organisation = catalog.update_organisation(session, principal, organisation_id, data)
    return OrganisationRead.model_validate(organisation)


@router.get("/audit", response_model=PageOut[AuditRead], summary="The audit log, newest first")
def audit(
    session: SessionDep, principal: PrincipalDep, page: PageQuery = 1, per_page: PerPageQuery = 50
) -> PageOut[AuditRead]:
    return page_out(service.audit_page(session, principal, page=page, per_page=per_page), AuditRead)


@router.get(
    "/mail",
    response_model=PageOut[MailRead],
    summary="Mail not delivered: retried with backoff, or failed for good, with the last error",
)
def undelivered_mail(
    session: SessionDep, principal: PrincipalDep, page: PageQuery = 1, per_page: PerPageQuery = 50
) -> PageOut[MailRead]:
    return page_out(
        mail.list_undelivered(session, principal, page=page, per_page=per_page), MailRead
    )


@router.put(
    "/users/{user_id}/fields",
    response_model=ManagerFields,
    summary="Declare a tech manager's fields (tags: IPC codes, words)",
)
def set_fields(
    session: SessionDep, principal: PrincipalDep, user_id: IdPath, data: ManagerFields
) -> ManagerFields:
    return ManagerFields(fields=service.set_fields_for(session, principal, user_id, data))
