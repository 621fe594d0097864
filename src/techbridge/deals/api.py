"""Deals JSON API (/api/v1): introduction requests (对接请求)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from techbridge.deals import service
from techbridge.deals.schemas import (
    Direction,
    IntroductionAnswer,
    IntroductionCreate,
    IntroductionRead,
)
from techbridge.pagination import PageOut, page_out
from techbridge.web.auth import PrincipalDep
from techbridge.web.deps import IdPath, PageQuery, PerPageQuery, SessionDep

router = APIRouter(tags=["deals"])


@router.get(
    "/introductions",
    response_model=PageOut[IntroductionRead],
    summary="Introductions my organisation received (incoming) or asked for (outgoing)",
)
def list_introductions(
    session: SessionDep,
    principal: PrincipalDep,
    direction: Direction = "incoming",
    page: PageQuery = 1,
    per_page: PerPageQuery = 20,
) -> PageOut[IntroductionRead]:
    found = service.list_introductions(session, principal, direction, page=page, per_page=per_page)
    return page_out(found, IntroductionRead)


@router.post(
    "/introductions",
    response_model=IntroductionRead,
    status_code=201,
    summary="Ask another organisation for an introduction about a match",
)
def request_introduction(
    session: SessionDep, principal: PrincipalDep, data: IntroductionCreate
) -> IntroductionRead:
    introduction = service.request_introduction(session, principal, data)
    return service.view(session, principal, introduction)


@router.get("/introductions/{introduction_id}", response_model=IntroductionRead)
def get_introduction(
    session: SessionDep, principal: PrincipalDep, introduction_id: IdPath
) -> IntroductionRead:
    introduction = service.get_introduction(session, principal, introduction_id)
    return service.view(session, principal, introduction)


def _answer(
    session: Session,
    principal: PrincipalDep,
    introduction_id: int,
    data: IntroductionAnswer | None,
    *,
    accept: bool,
) -> IntroductionRead:
    introduction = service.answer_introduction(
        session, principal, introduction_id, accept=accept, data=data or IntroductionAnswer()
    )
    return service.view(session, principal, introduction)


@router.post(
    "/introductions/{introduction_id}/accept",
    response_model=IntroductionRead,
    summary="Accept an introduction addressed to my organisation",
)
def accept_introduction(
    session: SessionDep,
    principal: PrincipalDep,
    introduction_id: IdPath,
    data: IntroductionAnswer | None = None,
) -> IntroductionRead:
    return _answer(session, principal, introduction_id, data, accept=True)


@router.post(
    "/introductions/{introduction_id}/decline",
    response_model=IntroductionRead,
    summary="Decline an introduction addressed to my organisation",
)
def decline_introduction(
    session: SessionDep,
    principal: PrincipalDep,
    introduction_id: IdPath,
    data: IntroductionAnswer | None = None,
) -> IntroductionRead:
    return _answer(session, principal, introduction_id, data, accept=False)
