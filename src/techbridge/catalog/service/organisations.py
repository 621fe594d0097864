"""Organisations (机构) and people (人员)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.audit import Actor
from techbridge.authz import Principal, require
from techbridge.authz import catalog as rules
from techbridge.catalog.models import Organisation, Person
from techbridge.catalog.names import name_key
from techbridge.catalog.schemas import OrganisationCreate, OrganisationUpdate, PersonCreate
from techbridge.catalog.service._changes import apply, as_changes, like_contains
from techbridge.config import get_settings
from techbridge.errors import Conflict, Invalid, NotFound
from techbridge.pagination import Page, check_page, paginate, paginate_with_role


def get_organisation(session: Session, organisation_id: int) -> Organisation:
    """Organisations are public: anyone may read one."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(f"organisation {organisation_id} does not exist", field="organisation_id")
    return organisation


def _ensure_unique_organisation(
    session: Session, *, name: str | None, credit_code: str | None, exclude_id: int | None = None
) -> None:
    """Refuse a name another organisation has, in any spelling that reads the same (case,
    spacing, invisible characters, fullwidth forms), or a credit code it has."""
    checks = [
        ("name", Organisation.normalised_name, None if name is None else name_key(name)),
        ("credit_code", Organisation.credit_code, credit_code),
    ]
    for field_name, column, value in checks:
        if value is None:
            continue
        query = select(getattr(Organisation, field_name)).where(column == value)
        if exclude_id is not None:
            query = query.where(Organisation.id != exclude_id)
        taken = session.scalar(query)
        if taken is not None:
            raise Conflict(
                f"another organisation already has {field_name} {taken!r}", field=field_name
            )


def insert_organisation(
    session: Session, actor: Actor, data: OrganisationCreate, *, trusted: bool = True
) -> Organisation:
    """A new organisation, for callers that have authorised it (see :func:`create_organisation`,
    :func:`found_organisation` and the import). Organisations created by administrators,
    the command line and imports are trusted: their listings need no review."""
    _ensure_unique_organisation(session, name=data.name, credit_code=data.credit_code)
    organisation = Organisation(**data.model_dump(), trusted=trusted)
    session.add(organisation)
    session.flush()
    untrusted = {} if trusted else {"trusted": False}
    audit.record(
        session,
        actor,
        action="create",
        entity_type="organisation",
        entity_id=organisation.id,
        changes=as_changes({}, data.model_dump(mode="json") | untrusted),
    )
    return organisation


def create_organisation(
    session: Session, principal: Principal, data: OrganisationCreate
) -> Organisation:
    require(rules.can_create_organisation(principal), principal, "create organisations")
    return insert_organisation(session, principal.actor, data)


def found_organisation(
    session: Session, principal: Principal, data: OrganisationCreate
) -> Organisation:
    """The organisation a newly verified user named at registration (they become its first
    member: the caller sets that). While moderation is on (``TECHBRIDGE_MODERATION``) it is
    not trusted: its published listings wait for a moderator."""
    require(rules.can_found_organisation(principal), principal, "found an organisation")
    trusted = not get_settings().moderation
    return insert_organisation(session, principal.actor, data, trusted=trusted)


def update_organisation(
    session: Session, principal: Principal, organisation_id: int, data: OrganisationUpdate
) -> Organisation:
    organisation = get_organisation(session, organisation_id)
    allowed = rules.can_edit_organisation(principal, organisation)
    require(allowed, principal, "change organisations")
    change_organisation(session, principal.actor, organisation, data.model_dump(exclude_unset=True))
    return organisation


def change_organisation(
    session: Session, actor: Actor, organisation: Organisation, values: dict[str, Any]
) -> None:
    """Change an organisation, for callers that have authorised it (see
    :func:`update_organisation` and the import): names and credit codes stay unique."""
    if "name" in values and values["name"] is None:
        raise Invalid("cannot be empty", field="name")
    _ensure_unique_organisation(
        session,
        name=values.get("name"),
        credit_code=values.get("credit_code"),
        exclude_id=organisation.id,
    )
    apply(session, organisation, values, actor=actor, entity_type="organisation")


def organisation_named(session: Session, name: str) -> Organisation | None:
    """The organisation with this name, however it is spelt (see ``names.name_key``)."""
    query = select(Organisation).where(Organisation.normalised_name == name_key(name))
    return session.scalar(query)


def organisation_by_name(session: Session, principal: Principal, name: str) -> Organisation:
    """The organisation with this name, created (kind unknown) when there is none."""
    organisation = organisation_named(session, name)
    if organisation is None:
        organisation = create_organisation(session, principal, OrganisationCreate(name=name))
    return organisation


def list_organisations(
    session: Session,
    *,
    kind: str | None = None,
    district: str | None = None,
    name_contains: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[Organisation]:
    query = select(Organisation).order_by(Organisation.name)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    if district is not None:
        query = query.where(Organisation.district == district)
    if name_contains:
        pattern = like_contains(name_contains)
        query = query.where(
            or_(
                Organisation.name.ilike(pattern, escape="\\"),
                Organisation.name_en.ilike(pattern, escape="\\"),
            )
        )
    return paginate(session, query, page, per_page)


def create_person(session: Session, principal: Principal, data: PersonCreate) -> Person:
    require(rules.can_record_people(principal), principal, "record people")
    if data.organisation_id is not None:
        get_organisation(session, data.organisation_id)
    person = Person(**data.model_dump())
    session.add(person)
    session.flush()
    audit.record(
        session,
        principal.actor,
        action="create",
        entity_type="person",
        entity_id=person.id,
        changes=as_changes({}, data.model_dump(mode="json")),
    )
    return person


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist", field="person_id")
    return person


def list_people(
    session: Session,
    *,
    role: str | None = None,
    organisation_id: int | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[Person]:
    check_page(page, per_page)
    query = select(Person).order_by(Person.name, Person.id)
    if organisation_id is not None:
        query = query.where(Person.organisation_id == organisation_id)
    if role is None:
        return paginate(session, query, page, per_page)
    return paginate_with_role(session, query, role, page, per_page)
