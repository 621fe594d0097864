"""FastAPI dependencies shared by the API and the pages: the request's transaction (committed
at the edge), its language, row ids and page numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated
from urllib.parse import unquote_to_bytes

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from techbridge.accounts.mail import wake_on_commit
from techbridge.catalog.schemas import RowId, storable
from techbridge.db import unit_of_work
from techbridge.errors import Invalid
from techbridge.matching.sync import on_listing_commit
from techbridge.pagination import MAX_PAGE, MAX_PER_PAGE
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
# Row ids in paths and query strings, bounded like every other reference to a row.
IdPath = Annotated[RowId, Path()]
IdQuery = Annotated[RowId | None, Query()]
PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number.")]
PerPageQuery = Annotated[int, Query(ge=1, le=MAX_PER_PAGE)]


def storable_query(request: Request) -> None:
    """Every query parameter, named or not by the route, must be text a database can store:
    PostgreSQL refuses NUL in any string, and bytes that are not UTF-8 would otherwise be
    silently replaced. ``create_app`` puts it before every route but the search page's."""
    for pair in request.scope["query_string"].split(b"&"):
        # As Starlette splits and decodes them, but strictly (it replaces what is not UTF-8).
        raw_name, _, raw_value = (
            unquote_to_bytes(part.replace(b"+", b" ")) for part in pair.partition(b"=")
        )
        name = raw_name.decode("utf-8", errors="replace")
        try:
            storable(raw_name.decode("utf-8"))
            storable(raw_value.decode("utf-8"))
        except UnicodeDecodeError:
            raise Invalid("is not UTF-8 text", field=name) from None
        except ValueError as error:
            raise Invalid(str(error), field=name) from None


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


LanguageDep = Annotated[Language, Depends(language)]
