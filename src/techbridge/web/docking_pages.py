"""Docking pages (对接): my dockings and the tech managers' queue, one docking with its
next steps, timeline, meetings, terms, thread, files and contacts, and the staff list of
every docking with filters. Pages only call ``deals.service`` and render; every move is
the same ``MoveIn`` the API takes, with the version the page was rendered at."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from techbridge.authz import Principal, require
from techbridge.authz import deals as rules
from techbridge.deals import lifecycle
from techbridge.deals import service as deals
from techbridge.deals.api import attachment_response
from techbridge.deals.schemas import (
    CONTRACT_TYPES,
    DEAL_MODES,
    TERMS_CURRENCY_DEFAULT,
    ContactsIn,
    DockingFilter,
    MessageIn,
    MoveIn,
    RevealIn,
)
from techbridge.errors import Conflict, Invalid, TechBridgeError
from techbridge.money import parse_amount
from techbridge.web.auth import PrincipalDep, principal
from techbridge.web.deps import IdPath, LanguageDep, PageQuery, SessionDep
from techbridge.web.forms import NOT_VALID
from techbridge.web.i18n import N_, Language, translations
from techbridge.web.pages import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(principal)])
PER_PAGE = 20
DONE = {
    "moved": N_("The docking was updated."),
    "revealed": N_("The counterpart now sees what you chose to reveal."),
    "contacts": N_("The other side now sees your contact details."),
    "posted": N_("Your message was added to the thread."),
    "uploaded": N_("The file was added."),
    "exists": N_("An introduction for these two listings is already under way: here it is."),
    "requested": N_("Your introduction request has been sent."),
}
CHANGED = N_(
    "This docking was changed by someone else since you opened it: here it is as it is now; "
    "try again."
)
ILLEGAL = N_(
    "This step is not possible now: the docking is “%(state)s”; possible now: %(allowed)s."
)
# What each field of the move forms needs, said in the visitor's language.
FIELD_MESSAGES = {
    "amount": N_("Enter the amount in yuan: a positive number, at most 10 trillion."),
    "instalments": N_(
        "Instalments: one per line, a date (YYYY-MM-DD) and an amount in yuan; dates in "
        "order, adding up to the amount."
    ),
    "equity": N_("Enter the equity share as a percentage above 0 and at most 100."),
    "held_on": N_("Enter the meeting's date (not before the docking began)."),
    "attendees": N_("Name at least one attendee, one per line."),
    "reason": N_("Choose a reason from the list."),
    "note": N_("Say why when the reason is “other”."),
    "contract_id": N_("Choose the signed contract among the docking's files."),
    "manager_id": N_("Choose an active tech manager."),
    "file": N_(
        "Only PDF, DOCX, PNG and JPEG files are accepted (checked by their content), not "
        "empty and not above the size limit."
    ),
    "reveal": N_("What was shown cannot be taken back."),
}
# Model fields as the forms name them.
FORM_FIELDS = {
    "amount_fen": "amount",
    "equity_basis_points": "equity",
    "meeting": "held_on",
    "terms": "amount",
    "due_on": "instalments",
}
_LINE = re.compile(r"\s*(\d{4}-\d{2}-\d{2})[\s,;，；]+(\S+)\s*")


# --- lists ---------------------------------------------------------------------------------


@router.get("/dockings", response_class=HTMLResponse)
def my_dockings(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    page: PageQuery = 1,
    queue_page: PageQuery = 1,
) -> HTMLResponse:
    require(principal.authenticated, principal, "see your dockings")
    mine = deals.list_my_dockings(session, principal, page=page, per_page=PER_PAGE)
    queue = (
        deals.list_queue(session, principal, page=queue_page, per_page=PER_PAGE)
        if rules.can_see_queue(principal)
        else None
    )
    # The tech managers best placed to broker each waiting docking (fields × tags, load).
    suggestions = {
        item.id: deals.suggest_managers(session, principal, item.id)
        for item in (queue.items if queue is not None else [])
    }
    return render(request, "dockings.html", lang, mine=mine, queue=queue, suggestions=suggestions)


@router.get("/admin/dockings", response_class=HTMLResponse)
def all_dockings(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    state: Annotated[str, Query(max_length=20)] = "",
    manager_id: Annotated[str, Query(max_length=12)] = "",
    created_from: Annotated[str, Query(max_length=10)] = "",
    created_to: Annotated[str, Query(max_length=10)] = "",
    page: PageQuery = 1,
) -> HTMLResponse:
    require(rules.can_list_all(principal), principal, "see every docking")
    query = {
        "state": state,
        "manager_id": manager_id,
        "created_from": created_from,
        "created_to": created_to,
    }
    values = {name: value for name, value in query.items() if value.strip()}
    errors: dict[str, str] = {}
    try:
        filters = DockingFilter.model_validate(values)
    except ValidationError as error:
        gettext = translations(lang).gettext
        errors = {str(item["loc"][0]): gettext(NOT_VALID) for item in error.errors()}
        filters = DockingFilter()
    found = deals.list_dockings(session, principal, filters, page=page, per_page=PER_PAGE)
    return render(
        request,
        "admin_dockings.html",
        lang,
        status_code=422 if errors else 200,
        found=found,
        query=query,
        errors=errors,
        states=lifecycle.STATES,
        page_url=lambda number: f"/admin/dockings?{urlencode({**values, 'page': number})}",
    )


# --- one docking ---------------------------------------------------------------------------


def _page(
    request: Request,
    session: Session,
    lang: Language,
    principal: Principal,
    docking_id: int,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    docking = deals.get_docking(session, principal, docking_id)
    view = deals.docking_view(session, principal, docking)
    return render(
        request,
        "docking.html",
        lang,
        status_code=status_code,
        docking=view,
        notice=notice,
        errors=errors or {},
        form=form or {},
        reveals=lifecycle.REVEALS,
        reasons=lifecycle.LOST_REASONS,
        contract_types=CONTRACT_TYPES,
        deal_modes=DEAL_MODES,
        today=dt.date.today().isoformat(),
    )


@router.get("/dockings/{docking_id}", response_class=HTMLResponse)
def docking_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    docking_id: IdPath,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    notice = translations(lang).gettext(DONE[done]) if done in DONE else None
    return _page(request, session, lang, principal, docking_id, notice=notice)


def _refused(
    request: Request,
    session: Session,
    lang: Language,
    principal: Principal,
    docking_id: int,
    error: ValidationError | TechBridgeError,
    form: dict[str, str],
) -> HTMLResponse:
    """The docking again, as it is now, saying why the step was refused (nothing changed)."""
    session.rollback()
    gettext = translations(lang).gettext
    notice = None
    errors: dict[str, str] = {}
    status = 422
    if isinstance(error, ValidationError):
        for item in error.errors():
            field = _field_of(item)
            errors.setdefault(field, gettext(FIELD_MESSAGES.get(field, NOT_VALID)))
    elif isinstance(error, Conflict) and error.field == "version":
        notice, status = gettext(CHANGED), 409
    elif isinstance(error, Conflict) and error.field == "action":
        docking = deals.get_docking(session, principal, docking_id)
        allowed = lifecycle.allowed(docking.state)
        names = [gettext(ACTION_LABELS[action]) for action in allowed if action != "register"]
        notice = gettext(ILLEGAL) % {
            "state": gettext(STATE_LABELS[docking.state]),
            "allowed": "、".join(names) if lang == "zh" else ", ".join(names),
        }
        status = 409
    else:
        field = (error.field or "form").rsplit(".", 1)[
            -1
        ]  # "meeting.held_on": the form's "held_on"
        field = FORM_FIELDS.get(field, field)
        message = FIELD_MESSAGES.get(field)
        errors[field] = gettext(message) if message else gettext(error.message)
        status = error.http_status
    return _page(
        request,
        session,
        lang,
        principal,
        docking_id,
        notice=notice,
        errors=errors,
        form=form,
        status_code=status,
    )


def _field_of(item: Any) -> str:
    """The form field a validation problem is about: the field a model's own check names
    first in its message ("instalments: …"), else the innermost known part of its location."""
    message = str(item.get("msg", "")).removeprefix("Value error, ")
    named = message.split(":", 1)[0].strip()
    if named in FIELD_MESSAGES or named in FORM_FIELDS:
        return FORM_FIELDS.get(named, named)
    location = [str(part) for part in item.get("loc", ()) if not isinstance(part, int)]
    for part in reversed(location):
        if part in FIELD_MESSAGES or part in FORM_FIELDS:
            return FORM_FIELDS.get(part, part)
    return location[-1] if location else "form"


def _done(docking_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"/dockings/{docking_id}?done={done}", status_code=303)


def _fen(text: str, field: str) -> int | None:
    try:
        amount = parse_amount(text, TERMS_CURRENCY_DEFAULT)
    except (ValueError, OverflowError):
        raise Invalid("not an amount", field=field) from None
    return None if amount is None else amount.minor


def _instalments(text: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        matched = _LINE.fullmatch(line)
        if matched is None:
            raise Invalid("one instalment per line: a date and an amount", field="instalments")
        found.append(
            {"due_on": matched.group(1), "amount_fen": _fen(matched.group(2), "instalments")}
        )
    return found


def _basis_points(text: str) -> int | None:
    if not text.strip():
        return None
    try:
        value = Decimal(text.strip().rstrip("%％"))
    except InvalidOperation:
        raise Invalid("not a percentage", field="equity") from None
    points = value * 100
    if points != points.to_integral_value():
        raise Invalid("at most two decimals", field="equity")
    return int(points)


def _number(text: str) -> int | str:
    """A whole number typed in a form, as the strict models take it (anything else is left
    for the model to refuse)."""
    return int(text) if text.strip().isdigit() else text


def _move_data(action: str, form: dict[str, str]) -> dict[str, object]:
    data: dict[str, object] = {
        "action": action,
        "version": _number(form["version"]),
        "note": form["note"],
    }
    if action == "accept":
        data["share_contacts"] = form["share_contacts"] == "1"
    if action == "assign" and form["manager_id"].strip():
        data["manager_id"] = form["manager_id"]
    if action == "meet":
        attendees = [name for name in re.split(r"[\n,，、]", form["attendees"]) if name.strip()]
        data["meeting"] = {
            "held_on": form["held_on"] or None,
            "attendees": attendees,
            "notes": form["meeting_notes"],
        }
    if action == "propose":
        data["terms"] = {
            "contract_type": form["contract_type"],
            "deal_mode": form["deal_mode"],
            "amount_fen": _fen(form["amount"], "amount"),
            "currency": TERMS_CURRENCY_DEFAULT,
            "instalments": _instalments(form["instalments"]),
            "equity_basis_points": _basis_points(form["equity"]),
            "warrant_terms": form["warrant_terms"] or None,
            "note": form["terms_note"],
        }
    if action == "sign":
        data["contract_id"] = form["contract_id"] or None
    if action == "close":
        data["reason"] = form["reason"] or None
    return data


@router.post("/dockings/{docking_id}/moves")
def move(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    docking_id: IdPath,
    action: Annotated[str, Form(max_length=20)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
    note: Annotated[str, Form()] = "",
    share_contacts: Annotated[str, Form(max_length=1)] = "",
    manager_id: Annotated[str, Form(max_length=12)] = "",
    held_on: Annotated[str, Form(max_length=10)] = "",
    attendees: Annotated[str, Form()] = "",
    meeting_notes: Annotated[str, Form()] = "",
    contract_type: Annotated[str, Form(max_length=20)] = "",
    deal_mode: Annotated[str, Form(max_length=30)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    instalments: Annotated[str, Form()] = "",
    equity: Annotated[str, Form(max_length=10)] = "",
    warrant_terms: Annotated[str, Form()] = "",
    terms_note: Annotated[str, Form()] = "",
    contract_id: Annotated[str, Form(max_length=12)] = "",
    reason: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    form = {
        "action": action,
        "version": version,
        "note": note,
        "share_contacts": share_contacts,
        "manager_id": manager_id,
        "held_on": held_on,
        "attendees": attendees,
        "meeting_notes": meeting_notes,
        "contract_type": contract_type,
        "deal_mode": deal_mode,
        "amount": amount,
        "instalments": instalments,
        "equity": equity,
        "warrant_terms": warrant_terms,
        "terms_note": terms_note,
        "contract_id": contract_id,
        "reason": reason,
    }
    deals.get_docking(session, principal, docking_id)  # a docking one may not see is missing
    try:
        data = MoveIn.model_validate(_move_data(action, form))
        deals.move_docking(session, principal, docking_id, data)
    except (ValidationError, Invalid, Conflict) as error:
        return _refused(request, session, lang, principal, docking_id, error, form)
    return _done(docking_id, "moved")


@router.post("/dockings/{docking_id}/reveal")
def reveal(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    docking_id: IdPath,
    version: Annotated[str, Form(max_length=12)] = "",
    level: Annotated[str, Form(max_length=10)] = "",
    disclose_name: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    form = {"version": version, "reveal": level, "disclose_name": disclose_name}
    deals.get_docking(session, principal, docking_id)
    try:
        data = RevealIn.model_validate(
            {
                "version": _number(version),
                "reveal": level,
                "disclose_name": disclose_name == "1" or None,
            }
        )
        deals.reveal(session, principal, docking_id, data)
    except (ValidationError, Invalid, Conflict) as error:
        return _refused(request, session, lang, principal, docking_id, error, form)
    return _done(docking_id, "revealed")


@router.post("/dockings/{docking_id}/contacts")
def share_contacts(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    docking_id: IdPath,
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    deals.get_docking(session, principal, docking_id)
    try:
        deals.share_contacts(
            session, principal, docking_id, ContactsIn.model_validate({"version": _number(version)})
        )
    except (ValidationError, Invalid, Conflict) as error:
        return _refused(request, session, lang, principal, docking_id, error, {})
    return _done(docking_id, "contacts")


@router.post("/dockings/{docking_id}/messages")
def post_message(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    docking_id: IdPath,
    body: Annotated[str, Form()] = "",
) -> Response:
    deals.get_docking(session, principal, docking_id)
    try:
        deals.post_message(session, principal, docking_id, MessageIn.model_validate({"body": body}))
    except (ValidationError, Invalid) as error:
        return _refused(request, session, lang, principal, docking_id, error, {"body": body})
    return RedirectResponse(f"/dockings/{docking_id}?done=posted#thread", status_code=303)


@router.post("/dockings/{docking_id}/attachments")
def upload(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    docking_id: IdPath,
    file: UploadFile | None = None,
    purpose: Annotated[str, Form(max_length=10)] = "",
    meeting_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    deals.get_docking(session, principal, docking_id)
    settings = request.app.state.settings
    store = deals.FileStore(settings.attachments_dir, int(settings.attachment_max_bytes))
    try:
        if file is None:
            raise Invalid("choose a file", field="file")
        if purpose not in ("contract", "meeting"):
            raise Invalid("choose what the file is", field="purpose")
        meeting = int(meeting_id) if meeting_id.isdigit() else None
        deals.upload_attachment(
            session,
            principal,
            docking_id,
            store,
            stream=file.file,
            filename=file.filename,
            purpose=purpose,  # type: ignore[arg-type]
            meeting_id=meeting,
        )
    except (Invalid, Conflict) as error:
        return _refused(request, session, lang, principal, docking_id, error, {})
    return RedirectResponse(f"/dockings/{docking_id}?done=uploaded#files", status_code=303)


@router.get("/dockings/{docking_id}/attachments/{attachment_id}")
def download(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    docking_id: IdPath,
    attachment_id: IdPath,
) -> FileResponse:
    settings = request.app.state.settings
    store = deals.FileStore(settings.attachments_dir, int(settings.attachment_max_bytes))
    attachment, path = deals.open_attachment(session, principal, docking_id, attachment_id, store)
    return attachment_response(attachment.original_name, attachment.media_type, path)


# Labels of the lifecycle's codes, for messages built here (the templates have their own).
STATE_LABELS = {
    "requested": N_("Requested"),
    "accepted": N_("Accepted"),
    "brokering": N_("Brokering"),
    "meeting": N_("Meeting"),
    "negotiating": N_("Negotiating"),
    "signed": N_("Signed"),
    "registered": N_("Registered"),
    "declined": N_("Declined"),
    "closed_lost": N_("Closed without a deal"),
}
ACTION_LABELS = {
    "accept": N_("Accept"),
    "decline": N_("Decline"),
    "assign": N_("Assign a tech manager"),
    "meet": N_("Record a meeting"),
    "propose": N_("Propose terms"),
    "sign": N_("Record the signed contract"),
    "close": N_("Close without a deal"),
    "register": N_("Register"),
}
