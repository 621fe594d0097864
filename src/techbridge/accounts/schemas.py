"""Account input and output shapes, shared by the API, the pages and the CLI."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from techbridge.catalog.schemas import Clean, Lang, Name, OrganisationKind, RowId, Tags

Role = Literal[
    "demander",  # 需求方
    "supplier",  # 供给方
    "tech_manager",  # 技术经理人
    "service_provider",  # 科技服务机构
    "exchange_operator",  # 交易所
    "evaluator",  # 评价机构
    "policy_officer",  # 主管部门
    "administrator",  # 平台管理员
]
ROLES: tuple[str, ...] = get_args(Role)
# Roles anyone may take at registration; the others are granted by an administrator.
SelfServiceRole = Literal["demander", "supplier", "service_provider"]
SELF_SERVICE_ROLES: tuple[str, ...] = get_args(SelfServiceRole)
Scope = Literal["read", "write"]  # a token with only "read" can change nothing
SCOPES: tuple[str, ...] = get_args(Scope)

MIN_PASSWORD = 10
# argon2 hashes any length, but hashing megabytes on every login attempt is a cheap DoS.
MAX_PASSWORD = 200

Email = Annotated[EmailStr, StringConstraints(max_length=320), AfterValidator(str.lower)]
Password = Annotated[str, StringConstraints(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)]
AnyPassword = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD)]
PersonName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Clean
]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Registration(_Input):
    email: Email
    name: PersonName
    password: Password
    organisation_name: Name | None = Field(
        default=None, description="A new organisation; you become its first member."
    )
    organisation_kind: OrganisationKind | None = None
    roles: Annotated[list[SelfServiceRole], Field(min_length=1, max_length=3)] = ["demander"]
    language: Lang = "zh"


class Login(_Input):
    email: Email
    password: AnyPassword


class PasswordResetRequest(_Input):
    email: Email


class PasswordReset(_Input):
    token: Secret
    password: Password


class PasswordChange(_Input):
    current_password: AnyPassword
    password: Password


class EmailVerification(_Input):
    token: Secret


class TokenCreate(_Input):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Clean
    ]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=2)] = ["read"]
    expires_in_days: Annotated[int, Field(ge=1, le=366)] | None = 90


class ProfileUpdate(_Input):
    name: PersonName | None = None
    language: Lang | None = None


class ManagerFields(_Input):
    """A tech manager's declared fields (tags as listings carry them: IPC codes, words)."""

    fields: Tags = []


class UserAdminUpdate(_Input):
    """What an administrator may change about a user."""

    name: PersonName | None = None
    roles: Annotated[list[Role], Field(max_length=len(ROLES))] | None = None
    organisation_id: RowId | None = None
    active: bool | None = None


class _Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserRead(_Output):
    id: int
    email: str
    name: str
    organisation_id: int | None
    roles: list[str]
    language: str | None
    email_verified_at: dt.datetime | None
    active: bool
    created_at: dt.datetime


class TokenRead(_Output):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="The secret: shown once, never stored in clear.")


class MailRead(_Output):
    """A message of the outbox that failed at least once and is not delivered."""

    id: RowId
    recipient: str
    subject: str
    created_at: dt.datetime
    attempts: int
    last_error: str | None
    next_attempt_at: dt.datetime | None = Field(
        description="When it is tried again; null once it failed for good."
    )
