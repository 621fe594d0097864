"""Pagination shared by every list operation and endpoint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from techbridge.errors import Invalid

T = TypeVar("T")
MAX_PER_PAGE = 200
MAX_PAGE = 1_000_000  # beyond any real list: larger numbers are refused, not clamped


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="Matching items across all pages.")
    page: int
    per_page: int


def check_page(page: int, per_page: int) -> None:
    if page < 1:
        raise Invalid("must be 1 or more", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise Invalid(f"must be between 1 and {MAX_PER_PAGE}", field="per_page")


def paginate(session: Session, query: Select[T], page: int, per_page: int) -> Page[T]:
    check_page(page, per_page)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, total=total, page=page, per_page=per_page)


def paginate_with_role(
    session: Session, query: Select[Any], role: str, page: int, per_page: int
) -> Page[Any]:
    """Like :func:`paginate`, keeping only rows whose ``roles`` (a small JSON list) hold
    ``role``: filtered in Python, so the query is the same on both engines."""
    check_page(page, per_page)
    matching = [row for row in session.scalars(query) if role in row.roles]
    start = (page - 1) * per_page
    return Page(matching[start : start + per_page], len(matching), page, per_page)


S = TypeVar("S", bound=BaseModel)


def page_out(
    page: Page[Any], schema: type[S], item: Callable[[Any], S] | None = None
) -> PageOut[S]:
    """A page of ORM rows as the API's JSON page of ``schema`` items, each made by ``item``
    (default: read from the row's attributes)."""
    make = item or schema.model_validate
    return PageOut[schema](  # type: ignore[valid-type]
        items=[make(row) for row in page.items],
        total=page.total,
        page=page.page,
        per_page=page.per_page,
    )
