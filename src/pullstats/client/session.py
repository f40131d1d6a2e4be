"""The HTTP side of the client: sign in, send, retry, and turn every failure into one error.

A DVP server (pullstats or Docker Hub) answers JSON with ``detail`` (or ``message``) on
errors; this module maps the status to :mod:`pullstats.client.errors`, so callers never see
httpx. Retries are tenacity's (exponential backoff with jitter), but a ``Retry-After`` the
server sent is the wait instead, since it knows better than our guess.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from pullstats.client.errors import (
    AuthenticationRequired,
    ClientError,
    Forbidden,
    NotFound,
    RateLimited,
    SecondFactorRequired,
    ServerError,
    TransportError,
)

DOCKER_HUB = "https://hub.docker.com"
DATA_PREFIX = "/api/publisher/analytics/v1"
LOGIN = "/v2/users/login"
SECOND_FACTOR = "/v2/users/2fa-login"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def _message(response: httpx.Response) -> str:
    """The server's own words: ``detail`` (pullstats, FastAPI), ``message`` (Docker Hub); on
    one line, at most 300 characters (an error is one line)."""
    try:
        body = response.json()
    except ValueError:
        if _is_html(response):
            return HTML_ANSWER
        return _one_line(response.text) or response.reason_phrase
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            if key in body:
                return _one_line(_said(body[key]))
    return _one_line(_said(body))


def _said(value: Any) -> str:
    """A message as text: a string as it is; FastAPI's list of validation problems (a 422 of
    pullstats) as ``where: what; …``, where is the last of ``loc``; anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(_is_problem(item) for item in value):
        return "; ".join(
            f"{item['loc'][-1]}: {item['msg']}" if item.get("loc") else str(item["msg"])
            for item in value
        )
    return json.dumps(value, ensure_ascii=False)


def _is_problem(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("msg"), str)


#: What an HTML page in place of the API's JSON most likely means, whatever its status.
HTML_ANSWER = "an HTML page, not the API's JSON: is the URL a DVP API server's?"


def _is_html(response: httpx.Response) -> bool:
    return "html" in response.headers.get("content-type", "").lower()


def _one_line(text: str, limit: int = 300) -> str:
    joined = " ".join(text.split())
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


#: what each failure of the network means, said in words (checked in order: subclasses first)
_NO_ANSWER: list[tuple[type[httpx.HTTPError], str]] = [
    (httpx.ConnectTimeout, "timed out connecting"),
    (httpx.ReadTimeout, "timed out waiting for the answer"),
    (httpx.WriteTimeout, "timed out sending the request"),
    (httpx.PoolTimeout, "timed out waiting for a free connection"),
    (httpx.ConnectError, "could not connect"),
    (httpx.RemoteProtocolError, "the connection broke off"),
    (httpx.ReadError, "the connection broke off"),
    (httpx.WriteError, "the connection broke off"),
    (httpx.TooManyRedirects, "too many redirects"),
    (httpx.UnsupportedProtocol, "not an http(s) URL"),
]


def no_answer(what: str, exc: httpx.HTTPError) -> TransportError:
    """The error for a request (``what``) the network failed: its meaning in words, then what
    the library said (``could not connect ([Errno 111] Connection refused)``), never a repr."""
    meaning = next((said for kind, said in _NO_ANSWER if isinstance(exc, kind)), None)
    detail = str(exc).strip()
    if meaning is None:  # another failure of httpx: its name, and what it said
        meaning = type(exc).__name__
    elif isinstance(exc, httpx.TimeoutException) or detail == meaning:
        detail = ""  # "timed out" again, or nothing more
    return TransportError(f"{what}: {meaning} ({detail})" if detail else f"{what}: {meaning}")


def error_for(response: httpx.Response, server: str | None = None) -> ClientError:
    """The one error an unsuccessful answer stands for; ``server``: the DVP API server's base
    URL when it answered (:attr:`ClientError.server`)."""
    return _error_for(response, server).answered_by(server)


def _error_for(response: httpx.Response, base_url: str | None) -> ClientError:
    status = response.status_code
    moved = _redirect(response, base_url)
    message = f"{status}: {moved or _message(response)}"
    wait = retry_after_seconds(response.headers.get("Retry-After"))
    if status == 401:
        return AuthenticationRequired(message, status)
    if status == 403:
        return Forbidden(message, status)
    if status == 404:
        return NotFound(message, status)
    if status == 429:
        return RateLimited(message, wait)
    return ServerError(message, status, wait)


def _redirect(response: httpx.Response, base_url: str | None) -> str | None:
    """Where a 3xx sends the request, said as what to do: redirects are never followed, since
    the request carries a password or a token, so the URL it names is the one to use. Only
    its scheme, host and path are said: a query could hold a secret. The ``--url`` to use is
    the target's origin, with the path the server is under (``base_url``'s) when the target
    keeps the route's own part: ``http://host/pullstats`` moved to ``https://host/pullstats``."""
    location = response.headers.get("Location")
    if not 300 <= response.status_code < 400 or not location:
        return None
    try:
        target = response.request.url.join(location.strip()).copy_with(
            username=None, password=None, query=None, fragment=None
        )
    except (RuntimeError, httpx.InvalidURL):  # no request (a response built by hand), or junk
        return "redirected to a URL that cannot be read"
    base = str(target.copy_with(path=_base_path(response.request.url.path, target.path, base_url)))
    return _one_line(f"redirected to {target}: use --url {base.rstrip('/')}")


def _base_path(asked: str, target: str, base_url: str | None) -> str:
    """The path of the base URL a redirect from ``asked`` to ``target`` moves the API to: the
    target's path less the route (what ``asked`` adds to ``base_url``'s path), or ``/``."""
    if base_url is None:
        return "/"
    under = httpx.URL(base_url).path.rstrip("/")  # "" for a server at the root
    if not asked.startswith(under + "/"):
        return "/"
    route = asked[len(under) :]
    return (target[: -len(route)] or "/") if target.endswith(route) else "/"


#: told of each retry of a data call before its wait: the failure, the number of the attempt
#: that comes next, the number of attempts in all, and the wait in seconds
RetryNotice = Callable[[ClientError, int, int, float], None]


class Session:
    """One httpx client, its bearer token, and what is needed to get a new one.

    ``max_wait`` caps a single wait: a ``Retry-After`` longer than that is not waited for but
    raised at once, so a caller is never stuck for a throttle's whole window. ``credentials``
    (user name, password or token) sign in again when the server refuses ``token`` (a 401):
    a stored token with credentials to fall back on, as a successful :meth:`login` leaves.
    """

    def __init__(
        self,
        base_url: str = DOCKER_HUB,
        *,
        token: str | None = None,
        credentials: tuple[str, str] | None = None,
        timeout: float = 30.0,
        attempts: int = 4,
        max_wait: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        on_retry: RetryNotice | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.attempts = attempts
        self.max_wait = max_wait
        self.on_retry = on_retry
        self._credentials = credentials
        self._pending: str | None = None
        # 0.2 s, 0.4 s, 0.8 s … plus up to 0.2 s of jitter, so clients that failed together
        # do not come back together
        self._backoff = wait_exponential_jitter(multiplier=0.2, max=max_wait, jitter=0.2)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "pullstats-client"},
        )

    def close(self) -> None:
        self._http.close()

    @property
    def http(self) -> httpx.Client:
        """The pooled httpx client, for the file downloads of :mod:`pullstats.client.files`.
        It holds no Authorization header of its own (data calls add the token one by one), so
        a signed link on another host never receives the token."""
        return self._http

    # signing in -----------------------------------------------------------------------

    def login(self, username: str, secret: str) -> None:
        """Sign in with a password or a personal access token. Raises ``SecondFactorRequired``
        when the account wants a TOTP code; then :meth:`second_factor` finishes the login."""
        response = self._send("POST", LOGIN, json={"username": username, "password": secret})
        if response.status_code == 401:
            body = _json_or_empty(response)
            pending = body.get("login_2fa_token")
            if isinstance(pending, str) and pending:
                self._credentials = None  # a code is needed each time: no silent re-login
                self._pending = pending
                needed = SecondFactorRequired(f"401: {_message(response)}", pending)
                raise needed.answered_by(self.base_url)
        self.token = _token_of(response, self.base_url)
        self._credentials = (username, secret)

    def second_factor(self, code: str, login_2fa_token: str | None = None) -> None:
        """Finish a login that raised ``SecondFactorRequired`` with the current TOTP code."""
        pending = login_2fa_token or self._pending
        if not pending:
            raise AuthenticationRequired("no login is waiting for a second factor")
        response = self._send(
            "POST", SECOND_FACTOR, json={"login_2fa_token": pending, "code": code}
        )
        self.token = _token_of(response, self.base_url)
        self._pending = None

    # data -----------------------------------------------------------------------------

    def get_json(self, path: str, params: Any = None) -> Any:
        """GET a data path (under ``/api/publisher/analytics/v1``) and return its JSON,
        retrying 429/5xx/no answer, and signing in again once if the token expired."""
        response = self._retrying(lambda: self._get(path, params))
        if response.status_code == 401 and self._credentials is not None:
            self._login_again(*self._credentials, refused=response)
            response = self._retrying(lambda: self._get(path, params))
        if response.status_code != 200:
            raise error_for(response, self.base_url)
        try:
            return response.json()
        except ValueError as exc:
            why = HTML_ANSWER if _is_html(response) else "the answer is not JSON"
            error = ServerError(f"{response.status_code}: {why}", 200)
            raise error.answered_by(self.base_url) from exc

    def _login_again(self, username: str, secret: str, refused: httpx.Response) -> None:
        """Sign in with the known credentials after ``refused``, the token's 401; a refusal of
        them says it was this login, not the token, that failed (a second factor is asked
        for as by :meth:`login`)."""
        try:
            self.login(username, secret)
        except SecondFactorRequired:
            raise
        except AuthenticationRequired as error:
            again = AuthenticationRequired(
                f"{refused.status_code}: the token was refused ({_message(refused)}), and so "
                f"was signing in again as {username} ({error.message})",
                error.status,
            )
            raise again.answered_by(self.base_url) from error

    def _get(self, path: str, params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self._send("GET", DATA_PREFIX + path, params=params, headers=headers)
        if response.status_code == 429 or response.status_code >= 500:
            raise error_for(response, self.base_url)
        return response

    def _retrying(self, call: Any) -> httpx.Response:
        retrying = Retrying(
            retry=retry_if_exception(self._worth_retrying),
            wait=self._wait,
            stop=stop_after_attempt(self.attempts),
            sleep=time.sleep,
            before_sleep=self._notify,
            reraise=True,
        )
        result: httpx.Response = retrying(call)
        return result

    def _worth_retrying(self, exc: BaseException) -> bool:
        if isinstance(exc, TransportError):
            return True
        if isinstance(exc, RateLimited | ServerError):
            if isinstance(exc, ServerError) and exc.status is not None and exc.status < 500:
                return False
            return exc.retry_after is None or exc.retry_after <= self.max_wait
        return False

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = getattr(exc, "retry_after", None)
        if isinstance(hinted, float):
            return hinted
        return float(self._backoff(state))

    def _notify(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if self.on_retry is not None and isinstance(exc, ClientError):
            wait = state.next_action.sleep if state.next_action else 0.0
            self.on_retry(exc, state.attempt_number + 1, self.attempts, wait)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise no_answer(f"{method} {self.base_url}{path}", exc) from exc


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _token_of(response: httpx.Response, server: str) -> str:
    if response.status_code != 200:
        raise error_for(response, server)
    token = _json_or_empty(response).get("token")
    if not isinstance(token, str) or not token:
        why = HTML_ANSWER if _is_html(response) else "the login answer holds no token"
        raise ServerError(f"{response.status_code}: {why}", 200).answered_by(server)
    return token
