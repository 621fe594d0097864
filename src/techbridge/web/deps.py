"""FastAPI dependencies: the request's transaction (committed at the edge) and language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from techbridge.accounts.mail import wake_on_commit
from techbridge.catalog.schemas import MAX_ROW_ID
from techbridge.db import unit_of_work
from techbridge.matching.sync import on_listing_commit
from techbridge.web.i18n import LANGUAGE_COOKIE, Language, pick_language


def db_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    Use it through ``SessionDep``: its ``scope="function"`` commits before the response is
    sent (FastAPI's default is after, and a browser following a redirect could then arrive
    before the change it was sent to see)."""
    with unit_of_work(request.app.state.engine) as session:
        # The write answers at once; the indexer thread applies it from the outbox.
        on_listing_commit(session, request.app.state.indexes.wake)
        wake_on_commit(session, request.app.state.mailer)
        yield session


SessionDep = Annotated[Session, Depends(db_session, scope="function")]
# Row ids in paths: larger numbers are refused with a 422 before they reach a database
# (PostgreSQL's INTEGER would overflow).
IdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def language(request: Request) -> Language:
    """The page's language: an explicit switch, the visitor's cookie, the logged-in user's
    choice (remembered across browsers), then the installation's default."""
    user = getattr(request.state, "user", None)
    return pick_language(
        request.query_params.get("lang"),
        request.cookies.get(LANGUAGE_COOKIE),
        user.language if user is not None else None,
        request.app.state.settings.language,
    )
