"""What every HTML form shares: a validation failure as one message per form field."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from techbridge.web.i18n import N_

NOT_VALID = N_("This value is not valid.")


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
        problems.setdefault(field, (messages or {}).get(field, NOT_VALID))
    return problems
