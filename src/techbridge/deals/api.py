"""Deals JSON API (/api/v1): introduction requests (对接请求) and dockings (对接).

The introduction routes and their JSON keys are kept as they were, as views over the
dockings that introductions start (``deals.service.introductions``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from techbridge.catalog.schemas import RowId
from techbridge.deals import service
from techbridge.deals.lifecycle import State
from techbridge.deals.schemas import (
    AttachmentPurpose,
    AttachmentRead,
    ChallengeIn,
    ChallengeRead,
    ContactsIn,
    Direction,
    DockingFilter,
    DockingOpen,
    DockingRead,
    DockingSummaryRead,
    IntroductionAnswer,
    IntroductionCreate,
    IntroductionRead,
    ManagerSuggestion,
    MessageIn,
    MoveIn,
    NotificationPageOut,
    NotificationRead,
    ProposalIn,
    ProposalMoveIn,
    ProposalRead,
    RevealIn,
    TrackRecord,
)
from techbridge.pagination import PageOut, page_out
from techbridge.web.auth import PrincipalDep
from techbridge.web.deps import IdPath, IdQuery, LanguageDep, PageQuery, PerPageQuery, SessionDep

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


# --- dockings (对接) -------------------------------------------------------------------------

DockingScope = Literal["mine", "queue", "all"]


def _store(request: Request) -> service.FileStore:
    settings = request.app.state.settings
    return service.FileStore(settings.attachments_dir, int(settings.attachment_max_bytes))


@router.get(
    "/dockings",
    response_model=PageOut[DockingSummaryRead],
    summary="Dockings: mine, the tech managers' queue, or all of them (staff), with filters",
)
def list_dockings(
    session: SessionDep,
    principal: PrincipalDep,
    scope: DockingScope = "mine",
    state: State | None = None,
    manager_id: IdQuery = None,
    queued: bool | None = None,
    created_from: dt.date | None = None,
    created_to: dt.date | None = None,
    page: PageQuery = 1,
    per_page: PerPageQuery = 20,
) -> PageOut[DockingSummaryRead]:
    if scope == "mine":
        found = service.list_my_dockings(session, principal, page=page, per_page=per_page)
    elif scope == "queue":
        found = service.list_queue(session, principal, page=page, per_page=per_page)
    else:
        filters = DockingFilter(
            state=state,
            manager_id=manager_id,
            queued=queued,
            created_from=created_from,
            created_to=created_to,
        )
        found = service.list_dockings(session, principal, filters, page=page, per_page=per_page)
    return page_out(found, DockingSummaryRead, lambda item: item)


@router.post(
    "/dockings",
    response_model=DockingRead,
    status_code=201,
    summary="Open a docking for two listings (tech managers): both sides are asked to accept",
)
def open_docking(session: SessionDep, principal: PrincipalDep, data: DockingOpen) -> DockingRead:
    docking = service.open_docking(session, principal, data)
    return service.docking_view(session, principal, docking)


@router.get("/dockings/{docking_id}", response_model=DockingRead)
def get_docking(session: SessionDep, principal: PrincipalDep, docking_id: IdPath) -> DockingRead:
    docking = service.get_docking(session, principal, docking_id)
    return service.docking_view(session, principal, docking)


@router.post(
    "/dockings/{docking_id}/moves",
    response_model=DockingRead,
    summary="Move a docking (accept, decline, assign, meet, propose, sign, close), naming "
    "the version read; a docking changed since answers 409",
)
def move_docking(
    session: SessionDep, principal: PrincipalDep, docking_id: IdPath, data: MoveIn
) -> DockingRead:
    docking = service.move_docking(session, principal, docking_id, data)
    return service.docking_view(session, principal, docking)


@router.post(
    "/dockings/{docking_id}/reveal",
    response_model=DockingRead,
    summary="Of a confidential demand, show this counterpart more (summary → full → contacts)",
)
def reveal(
    session: SessionDep, principal: PrincipalDep, docking_id: IdPath, data: RevealIn
) -> DockingRead:
    docking = service.reveal(session, principal, docking_id, data)
    return service.docking_view(session, principal, docking)


@router.post(
    "/dockings/{docking_id}/contacts",
    response_model=DockingRead,
    summary="Show the other side my contact details",
)
def share_contacts(
    session: SessionDep, principal: PrincipalDep, docking_id: IdPath, data: ContactsIn
) -> DockingRead:
    docking = service.share_contacts(session, principal, docking_id, data)
    return service.docking_view(session, principal, docking)


@router.post(
    "/dockings/{docking_id}/messages",
    response_model=DockingRead,
    status_code=201,
    summary="Write in the docking's thread (its parties and tech manager)",
)
def post_message(
    session: SessionDep, principal: PrincipalDep, docking_id: IdPath, data: MessageIn
) -> DockingRead:
    service.post_message(session, principal, docking_id, data)
    docking = service.get_docking(session, principal, docking_id)
    return service.docking_view(session, principal, docking)


@router.post(
    "/dockings/{docking_id}/attachments",
    response_model=AttachmentRead,
    status_code=201,
    summary="Upload a contract or meeting file (PDF, DOCX, PNG or JPEG, checked by content)",
)
def upload_attachment(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    docking_id: IdPath,
    file: UploadFile,
    purpose: Annotated[AttachmentPurpose, Form()],
    meeting_id: Annotated[RowId | None, Form()] = None,
) -> AttachmentRead:
    attachment = service.upload_attachment(
        session,
        principal,
        docking_id,
        _store(request),
        stream=file.file,
        filename=file.filename,
        purpose=purpose,
        meeting_id=meeting_id,
    )
    return AttachmentRead.model_validate(attachment, from_attributes=True)


@router.get(
    "/dockings/{docking_id}/attachments/{attachment_id}",
    response_class=FileResponse,
    summary="Download a file (the docking's parties, its tech manager and administrators)",
)
def download_attachment(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    docking_id: IdPath,
    attachment_id: IdPath,
) -> FileResponse:
    attachment, path = service.open_attachment(
        session, principal, docking_id, attachment_id, _store(request)
    )
    return attachment_response(attachment.original_name, attachment.media_type, path)


def attachment_response(name: str, media_type: str, path: Path) -> FileResponse:
    """The file as a download, never shown inline, its type never sniffed."""
    return FileResponse(
        path,
        media_type=media_type,
        filename=name,
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )


# --- brokering and notifications -----------------------------------------------------------


@router.get(
    "/dockings/{docking_id}/manager-suggestions",
    response_model=list[ManagerSuggestion],
    summary="The tech managers best placed to broker a docking (fields × tags, less load)",
)
def manager_suggestions(
    session: SessionDep, principal: PrincipalDep, docking_id: IdPath
) -> list[ManagerSuggestion]:
    return service.suggest_managers(session, principal, docking_id)


@router.get(
    "/managers/{manager_id}/track-record",
    response_model=TrackRecord,
    summary="A tech manager's track record: dockings brokered, signed, amounts, median days",
)
def track_record(session: SessionDep, principal: PrincipalDep, manager_id: IdPath) -> TrackRecord:
    return service.manager_track_record(session, principal, manager_id)


@router.get(
    "/notifications",
    response_model=NotificationPageOut,
    tags=["notifications"],
    summary="My notifications, newest first, in my language, with the unread count",
)
def list_notifications(
    session: SessionDep,
    principal: PrincipalDep,
    lang: LanguageDep,
    unread: bool = False,
    page: PageQuery = 1,
    per_page: PerPageQuery = 20,
) -> NotificationPageOut:
    found = service.list_notifications(
        session, principal, lang, unread_only=unread, page=page, per_page=per_page
    )
    return NotificationPageOut(
        items=found.items,
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        unread=service.unread_count(session, principal),
    )


@router.post(
    "/notifications/{notification_id}/read",
    response_model=NotificationRead,
    tags=["notifications"],
    summary="Mark one of my notifications read",
)
def mark_read(
    session: SessionDep, principal: PrincipalDep, lang: LanguageDep, notification_id: IdPath
) -> NotificationRead:
    return service.mark_read(session, principal, notification_id, lang)


@router.post(
    "/notifications/read-all",
    tags=["notifications"],
    summary="Mark all my notifications read; says how many were unread",
)
def mark_all_read(session: SessionDep, principal: PrincipalDep) -> dict[str, int]:
    return {"marked": service.mark_all_read(session, principal)}


# --- proposals (揭榜) and challenges (揭榜挂帅) ---------------------------------------------


@router.get(
    "/demands/{demand_id}/proposals",
    response_model=list[ProposalRead],
    summary="A demand's proposals: all of them for its organisation, one's own for a supplier",
)
def list_proposals(
    session: SessionDep, principal: PrincipalDep, demand_id: IdPath
) -> list[ProposalRead]:
    found = service.list_for_demand(session, principal, demand_id)
    return [service.proposal_view(session, principal, each) for each in found]


@router.post(
    "/demands/{demand_id}/proposals",
    response_model=ProposalRead,
    status_code=201,
    summary="Propose for a demand (suppliers of another organisation); of a confidential "
    "demand through its public summary",
)
def submit_proposal(
    session: SessionDep, principal: PrincipalDep, demand_id: IdPath, data: ProposalIn
) -> ProposalRead:
    proposal = service.submit_proposal(session, principal, demand_id, data)
    return service.proposal_view(session, principal, proposal)


@router.get("/proposals/{proposal_id}", response_model=ProposalRead)
def get_proposal(session: SessionDep, principal: PrincipalDep, proposal_id: IdPath) -> ProposalRead:
    proposal = service.get_proposal(session, principal, proposal_id)
    return service.proposal_view(session, principal, proposal)


@router.post(
    "/proposals/{proposal_id}/moves",
    response_model=ProposalRead,
    summary="Shortlist, decline or accept a proposal (the demand's owner; accept opens a "
    "docking) or withdraw it (the supplier), naming the version read",
)
def move_proposal(
    session: SessionDep, principal: PrincipalDep, proposal_id: IdPath, data: ProposalMoveIn
) -> ProposalRead:
    proposal = service.move_proposal(session, principal, proposal_id, data)
    return service.proposal_view(session, principal, proposal)


@router.put(
    "/demands/{demand_id}/challenge",
    response_model=ChallengeRead,
    status_code=201,
    summary="Post a demand as a challenge (揭榜挂帅): deadline and award (its owner; once)",
)
def post_challenge(
    session: SessionDep, principal: PrincipalDep, demand_id: IdPath, data: ChallengeIn
) -> ChallengeRead:
    challenge = service.post_challenge(session, principal, demand_id, data)
    return service.challenge_view(challenge)
