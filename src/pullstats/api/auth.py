"""Docker Hub–compatible login at the host root, and the bearer-JWT dependency of the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from pullstats.accounts import jwt_tokens
from pullstats.accounts.service import authenticate_password, readable_namespaces
from pullstats.api.models import ErrorDetail, LoginRequest, LoginToken
from pullstats.api.state import AppState, app_state
from pullstats.db.models import User

router = APIRouter(tags=["authentication"])
_bearer = HTTPBearer(auto_error=False, description="A JWT from POST /v2/users/login.")

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorDetail, "description": "Missing, invalid or expired token."}
}


@dataclass(frozen=True)
class Viewer:
    """The authenticated user of a request and the namespaces they may read."""

    user_id: int
    name: str
    namespaces: tuple[str, ...]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def current_viewer(
    state: Annotated[AppState, Depends(app_state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("authentication required: send Authorization: Bearer <token>")
    try:
        claims = jwt_tokens.verify(state.jwt_key, credentials.credentials)
    except jwt_tokens.InvalidToken as error:
        raise _unauthorized(f"invalid token: {error}") from None
    with state.runtime.sessions() as session:
        user = session.get(User, int(claims.subject)) if claims.subject.isdigit() else None
        if user is None or user.disabled:
            raise _unauthorized("invalid token: the account is not active")
        return Viewer(user.id, user.name, tuple(readable_namespaces(session, user.id)))


@router.post(
    "/v2/users/login",
    response_model=LoginToken,
    responses={401: {"model": ErrorDetail, "description": "Authentication failed."}},
    summary="Log in with a password and get a JWT",
)
async def login(
    body: LoginRequest, request: Request, state: Annotated[AppState, Depends(app_state)]
) -> LoginToken | JSONResponse:
    def check() -> User | None:
        with state.runtime.sessions() as session:
            return authenticate_password(session, body.username, body.password)

    user = await run_in_threadpool(check)  # argon2 takes tens of milliseconds: off the loop
    if user is None:
        return JSONResponse({"detail": "Incorrect authentication credentials"}, status_code=401)
    ttl = state.runtime.settings.jwt_ttl
    return LoginToken(token=jwt_tokens.issue(state.jwt_key, str(user.id), ttl))
