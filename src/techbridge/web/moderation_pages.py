"""The moderation queue (审核队列) in the administration area: published listings of
organisations not yet trusted, to approve or reject (with a reason), and their organisations
to trust. Exchange operators and tech managers get in as well as administrators
(``authz.catalog.can_moderate``); the catalog service checks every operation again."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from techbridge.authz import Principal, require
from techbridge.authz import catalog as rules
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.schemas import ListingRejection
from techbridge.errors import Conflict, Invalid
from techbridge.web.auth import PrincipalDep
from techbridge.web.deps import IdPath, LanguageDep, PageQuery, SessionDep
from techbridge.web.forms import attempt
from techbridge.web.i18n import Language
from techbridge.web.pages import render


def moderator(principal: PrincipalDep) -> Principal:
    require(rules.can_moderate(principal), principal, "review listings")
    return principal


router = APIRouter(
    prefix="/admin/moderation", include_in_schema=False, dependencies=[Depends(moderator)]
)
ModeratorDep = Annotated[Principal, Depends(moderator)]
PER_PAGE = 20


def _queue_page(
    request: Request,
    session: Session,
    lang: Language,
    principal: Principal,
    page: int = 1,
    *,
    errors: dict[str, str] | None = None,
    failed: tuple[str, int] | None = None,
    reason: str = "",
    done: str | None = None,
) -> HTMLResponse:
    queue = catalog.review_queue(session, principal, page=page, per_page=PER_PAGE)
    organisations = {listing.organisation_id: listing.organisation for listing in queue.items}
    return render(
        request,
        "admin_moderation.html",
        lang,
        status_code=422 if errors else 200,
        queue=queue,
        texts={(ListingKind.of(i).noun, i.id): catalog.queue_text(i) for i in queue.items},
        organisations=organisations,
        untrusted=catalog.untrusted_organisations(session, set(organisations)),
        errors=errors or {},
        failed=failed,
        reason=reason,
        done=done,
        page_url=lambda number: f"{request.url.path}?{urlencode({'page': number})}",
    )


@router.get("", response_class=HTMLResponse)
def moderation_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: ModeratorDep,
    page: PageQuery = 1,
    done: str | None = None,
) -> HTMLResponse:
    shown = done if done in ("approved", "rejected", "trusted", "changed") else None
    return _queue_page(request, session, lang, principal, page, done=shown)


SeenForm = Annotated[str, Form(description="The listing's updated_at as the page showed it.")]


def _changed() -> Response:
    """Back to the queue, saying nothing was decided (the listing changed meanwhile)."""
    return RedirectResponse("/admin/moderation?done=changed", status_code=303)


def _seen(value: str) -> datetime | None:
    if not value:
        return None
    try:
        seen = datetime.fromisoformat(value)
    except ValueError:
        seen = None
    if seen is None or seen.tzinfo is None:
        raise Invalid("not a time with its zone (ISO 8601)", field="seen")
    return seen


@router.post("/{kind}/{listing_id}/approve")
def approve(
    session: SessionDep,
    principal: ModeratorDep,
    kind: ListingKind,
    listing_id: IdPath,
    seen: SeenForm = "",
) -> Response:
    try:
        catalog.approve_listing(session, principal, kind, listing_id, seen=_seen(seen))
    except Conflict:  # changed by its owner since the page showed it: show it again
        return _changed()
    return RedirectResponse("/admin/moderation?done=approved", status_code=303)


@router.post("/{kind}/{listing_id}/reject")
def reject(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: ModeratorDep,
    kind: ListingKind,
    listing_id: IdPath,
    reason: Annotated[str, Form()] = "",
    seen: SeenForm = "",
) -> Response:
    def save() -> None:
        data = ListingRejection.model_validate({"reason": reason})
        catalog.reject_listing(session, principal, kind, listing_id, data, seen=_seen(seen))

    try:
        _, errors = attempt(session, lang, save, not_about_the_form=(None, "id", "seen"))
    except Conflict:
        return _changed()
    if errors:
        failed = (kind.noun, listing_id)
        return _queue_page(
            request, session, lang, principal, errors=errors, failed=failed, reason=reason
        )
    return RedirectResponse("/admin/moderation?done=rejected", status_code=303)


@router.post("/organisations/{organisation_id}/trust")
def trust(session: SessionDep, principal: ModeratorDep, organisation_id: IdPath) -> Response:
    catalog.trust_organisation(session, principal, organisation_id)
    return RedirectResponse("/admin/moderation?done=trusted", status_code=303)
