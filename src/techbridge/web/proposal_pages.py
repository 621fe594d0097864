"""Proposal pages (方案, 揭榜): a demand's proposals — for its owner the side-by-side
comparison (TRL, price range, timeline, state) with the moves, and the challenge form;
for a supplier its own proposals and the form to submit one (提交方案). Of a confidential
demand a supplier sees only its public summary here. Pages only call ``deals.service``;
the forms take the same ``ProposalIn``/``ProposalMoveIn``/``ChallengeIn`` as the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from techbridge.authz import Principal
from techbridge.authz import deals as rules
from techbridge.catalog import service as catalog
from techbridge.deals import service as deals
from techbridge.deals.schemas import ChallengeIn, ProposalIn, ProposalMoveIn
from techbridge.errors import Conflict, Invalid
from techbridge.money import parse_amount
from techbridge.web.auth import PrincipalDep, principal
from techbridge.web.deps import IdPath, LanguageDep, SessionDep
from techbridge.web.i18n import N_, Language, translations
from techbridge.web.pages import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(principal)])
DONE = {
    "submitted": N_("Your proposal was submitted."),
    "moved": N_("The proposal was updated."),
    "challenge": N_("The demand is now a challenge."),
}
# What each field needs, said in the visitor's language.
FIELD_MESSAGES = {
    "approach": N_("Describe your approach."),
    "trl": N_("Choose a technology readiness level from 1 to 9."),
    "price_min_fen": N_("Enter the lowest price in yuan: zero or more, at most 10 trillion."),
    "price_max_fen": N_(
        "Enter the highest price in yuan: not below the lowest, at most 10 trillion."
    ),
    "timeline_months": N_("Enter the timeline in months, from 1 to 120."),
    "offer_id": N_("Choose one of your organisation's published offers."),
    "deadline": N_("The challenge's deadline has passed, or the date is not valid."),
    "award_fen": N_("Enter the award in yuan: zero or more, at most 10 trillion."),
    "version": N_(
        "This proposal was changed by someone else since you opened the page: here it is "
        "as it is now; try again."
    ),
    "action": N_("This step is not possible in the proposal's current state."),
    "demand_id": N_("Your organisation has a proposal for this demand under way already."),
}


def _fen(text: str) -> Any:
    """Yuan as typed → 分; what is not an amount is passed on for the schema to refuse."""
    try:
        money = parse_amount(text, "CNY")
    except (ValueError, OverflowError):
        return -1 if text.strip().startswith("-") else 10**16
    return None if money is None else money.minor


def _int(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return None


def _field(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return str(first["loc"][0]) if first["loc"] else ""
    return getattr(error, "field", "") or ""


def _page(
    request: Request,
    session: Session,
    lang: Language,
    principal: Principal,
    demand_id: int,
    *,
    notice: str | None = None,
    problem: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    demand = deals.demand_for_proposals(session, principal, demand_id)
    proposals = [
        deals.proposal_view(session, principal, each)
        for each in deals.list_for_demand(session, principal, demand_id)
    ]
    challenge = deals.get_challenge(session, demand.id)
    challenge_read = deals.challenge_view(challenge) if challenge is not None else None
    owner = rules.owns_demand(principal, demand)
    return render(
        request,
        "proposals.html",
        lang,
        status_code=status,
        demand=demand,
        demand_title=catalog.title_for(principal, demand),
        proposals=proposals,
        challenge=challenge_read,
        owner=owner,
        can_propose=rules.can_propose(principal, demand)
        and (challenge_read is None or challenge_read.open),
        offers=deals.offers_to_build_on(session, principal),
        notice=notice,
        problem=problem,
        form=form or {},
    )


@router.get("/demands/{demand_id}/proposals", response_class=HTMLResponse)
def proposals_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demand_id: IdPath,
    done: str = "",
) -> HTMLResponse:
    notice = translations(lang).gettext(DONE[done]) if done in DONE else None
    return _page(request, session, lang, principal, demand_id, notice=notice)


def _refused(
    request: Request,
    session: Session,
    lang: Language,
    principal: Principal,
    demand_id: int,
    error: Exception,
    form: dict[str, str],
) -> HTMLResponse:
    field = _field(error)
    message = FIELD_MESSAGES.get(field)
    problem = translations(lang).gettext(message) if message else str(error)
    status = 409 if isinstance(error, Conflict) else 422
    return _page(
        request, session, lang, principal, demand_id, problem=problem, form=form, status=status
    )


@router.post("/demands/{demand_id}/proposals")
def submit(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demand_id: IdPath,
    approach: Annotated[str, Form(max_length=6000)] = "",
    trl: Annotated[str, Form(max_length=4)] = "",
    price_min: Annotated[str, Form(max_length=40)] = "",
    price_max: Annotated[str, Form(max_length=40)] = "",
    timeline_months: Annotated[str, Form(max_length=6)] = "",
    timeline: Annotated[str, Form(max_length=6000)] = "",
    offer_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    form = {
        "approach": approach,
        "trl": trl,
        "price_min": price_min,
        "price_max": price_max,
        "timeline_months": timeline_months,
        "timeline": timeline,
        "offer_id": offer_id,
    }
    deals.demand_for_proposals(session, principal, demand_id)  # missing stays missing
    try:
        data = ProposalIn.model_validate(
            {
                "approach": approach,
                "trl": _int(trl),
                "price_min_fen": _fen(price_min),
                "price_max_fen": _fen(price_max),
                "timeline_months": _int(timeline_months),
                "timeline": timeline,
                "offer_id": _int(offer_id) if offer_id else None,
            }
        )
        deals.submit_proposal(session, principal, demand_id, data)
    except (ValidationError, Invalid, Conflict) as error:
        return _refused(request, session, lang, principal, demand_id, error, form)
    return RedirectResponse(f"/demands/{demand_id}/proposals?done=submitted", status_code=303)


@router.post("/proposals/{proposal_id}/moves")
def move(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    proposal_id: IdPath,
    action: Annotated[str, Form(max_length=20)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    proposal = deals.get_proposal(session, principal, proposal_id)
    demand_id = proposal.demand_id
    try:
        data = ProposalMoveIn.model_validate(
            {"action": action, "version": _int(version), "note": note}
        )
        deals.move_proposal(session, principal, proposal_id, data)
    except (ValidationError, Invalid, Conflict) as error:
        session.rollback()
        return _refused(request, session, lang, principal, demand_id, error, {})
    return RedirectResponse(f"/demands/{demand_id}/proposals?done=moved", status_code=303)


@router.post("/demands/{demand_id}/challenge")
def challenge(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demand_id: IdPath,
    deadline: Annotated[str, Form(max_length=10)] = "",
    award: Annotated[str, Form(max_length=40)] = "",
    description: Annotated[str, Form(max_length=6000)] = "",
) -> Response:
    form = {"deadline": deadline, "award": award, "description": description}
    deals.demand_for_proposals(session, principal, demand_id)
    try:
        data = ChallengeIn.model_validate(
            {"deadline": deadline or None, "award_fen": _fen(award), "description": description}
        )
        deals.post_challenge(session, principal, demand_id, data)
    except (ValidationError, Invalid, Conflict) as error:
        return _refused(request, session, lang, principal, demand_id, error, form)
    return RedirectResponse(f"/demands/{demand_id}/proposals?done=challenge", status_code=303)
