"""What every HTML form shares: validating it into a service's input model, and turning a
refusal into one message per form field, in the visitor's language."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from techbridge.errors import TechBridgeError
from techbridge.web.i18n import N_, Language, translations

NOT_VALID = N_("This value is not valid.")
# Problems that read the same whatever the field (by pydantic error type, before the field's
# own message): catalog.schemas raises "repetitive" for text that is mostly repetition.
TYPE_PROBLEMS = {
    "repetitive": N_(
        "This text repeats itself: most of it is the same words over and over. "
        "Write each thing once."
    ),
}
Model = TypeVar("Model", bound=BaseModel)
Result = TypeVar("Result")


def problems_by_field(
    error: ValidationError,
    messages: Mapping[str, str] | None = None,
    form_fields: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The first problem of each field as a message id to translate: the field's own
    message from ``messages`` or a generic one. ``form_fields`` renames model fields to the
    form's names (e.g. ``price_fen`` → ``price``); problems of the whole model go to "form"."""
    problems: dict[str, str] = {}
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "form"
        field = (form_fields or {}).get(field, field)
        message = TYPE_PROBLEMS.get(item["type"]) or (messages or {}).get(field, NOT_VALID)
        problems.setdefault(field, message)
    return problems


def translated(problems: Mapping[str, str], lang: Language) -> dict[str, str]:
    gettext = translations(lang).gettext
    return {field: gettext(message) for field, message in problems.items()}


def validated(
    model: type[Model],
    values: Mapping[str, object],
    lang: Language | None = None,
    *,
    messages: Mapping[str, str] | None = None,
    form_fields: Mapping[str, str] | None = None,
) -> tuple[Model | None, dict[str, str]]:
    """The form as the model, or the problems by field: translated when ``lang`` is given,
    else message ids (for a page that adds problems of its own before translating)."""
    try:
        return model.model_validate(values), {}
    except ValidationError as error:
        problems = problems_by_field(error, messages, form_fields)
        return None, problems if lang is None else translated(problems, lang)


def refused(
    error: ValidationError | TechBridgeError,
    lang: Language,
    messages: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Why a form was refused, by field (a refusal about no field is about the "form")."""
    if isinstance(error, TechBridgeError):
        return translated({error.field or "form": error.message}, lang)
    return translated(problems_by_field(error, messages), lang)


def attempt(
    session: Session,
    lang: Language,
    action: Callable[[], Result],
    *,
    not_about_the_form: Collection[str | None] = (None,),
) -> tuple[Result | None, dict[str, str]]:
    """Run a form's validation and service call. A refusal about a field of the form rolls
    back everything and comes back as messages by field, to show the form again; one about
    ``not_about_the_form`` fields (none, or the record in the URL) propagates to the error
    page."""
    try:
        return action(), {}
    except (ValidationError, TechBridgeError) as error:
        if isinstance(error, TechBridgeError) and error.field in not_about_the_form:
            raise
        session.rollback()
        return None, refused(error, lang)
