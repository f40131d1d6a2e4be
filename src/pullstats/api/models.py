"""Response and request bodies, written from the DVP contract's schemas (never copied text)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

#: what a field that may be absent holds when it is: never sent (the answers leave out None)
#: nor in the OpenAPI document, where the contract has no nullable field
Omitted = SkipJsonSchema[None]


class LoginRequest(BaseModel):
    username: str = Field(max_length=255, description="Account name.")
    # bounded: argon2 over a megabyte of password would be a cheap way to burn CPU
    password: str = Field(
        max_length=1024, description="The account's password or a personal access token."
    )


class LoginError(BaseModel):
    detail: str = Field(description="What went wrong.")
    login_2fa_token: str | None = Field(
        None,
        description="Present when the password was right and TOTP is on: send it with a code "
        "to `POST /v2/users/2fa-login` within 5 minutes.",
    )


class TwoFactorLoginError(BaseModel):
    detail: str = Field(description="What went wrong.")


class TwoFactorLoginRequest(BaseModel):
    login_2fa_token: str = Field(
        max_length=4096, description="The token from the 401 answer of `/v2/users/login`."
    )
    code: str = Field(max_length=16, description="The current 6-digit TOTP code.")


class LoginToken(BaseModel):
    token: str = Field(description="A JWT to send as `Authorization: Bearer <token>`.")


class ErrorDetail(BaseModel):
    detail: str = Field(description="What went wrong.")


class PullModel(BaseModel):
    """One row of a pull series."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(description="First second of the period, e.g. 2026-10-01T00:00:00Z.")
    end: str = Field(description="Last second of the period, e.g. 2026-10-31T23:59:59Z.")
    repo: str | Omitted = Field(None, description="Repository, without its namespace.")
    namespace: str
    pullCount: int = Field(description="pull_by_tag + pull_by_digest actions.")
    ipCount: int = Field(description="Exact number of distinct client IPs.")
    country: str | Omitted = Field(None, description="ISO 3166-1 alpha-2 code, ZZ when unknown.")
    partial: bool | Omitted = Field(None, description="Present and true on the current period.")


class PullData(BaseModel):
    pulls: list[PullModel]


class IngestRejection(BaseModel):
    index: int = Field(description="Position of the event in the envelope's `events` array.")
    error: str


class IngestReport(BaseModel):
    accepted: int = Field(description="Manifest pull requests stored durably.")
    ignored: dict[str, int] = Field(description="Valid events that are not pulls, by reason.")
    rejected: list[IngestRejection] = Field(description="Malformed events, skipped.")


class Health(BaseModel):
    status: str
    checks: dict[str, str]


class NamespaceData(BaseModel):
    namespaces: list[str] = Field(description="Namespaces the caller may read.")
