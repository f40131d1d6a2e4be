"""``pullstats hub``: a publisher's view of a DVP Data API, Docker Hub's or a pullstats server's.

Log in once (``login``: a password or personal access token, and the TOTP code when the account
asks for one); the token is stored for that server's URL and the other commands use it
(``hub_auth.connect``). Tables and trees are for people; ``--format csv`` and ``--format json``
print only the data on stdout, for scripts. ``download``, ``sync`` and ``query`` (the export files
on disk) are in ``hub_files.py``.

The client is imported by each command when it runs, never with this module: ``pullstats
--help`` imports the whole command tree, and the client, which brings httpx and tenacity, would
cost it a fifth of a second. So the options' choices are this module's own enums, mapped to the
client's (``pullstats.rollups.series_query``) when a command calls it.
"""

from __future__ import annotations

import getpass
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from pullstats.cli import hub_files
from pullstats.cli.common import err, fail, out
from pullstats.cli.hub_auth import (
    PASSWORD_ENV,
    USERNAME_ENV,
    UrlOption,
    connect,
    hub_url,
)
from pullstats.cli.hub_output import (
    DatasetChoice,
    GroupChoice,
    PeriodChoice,
    SeriesFormat,
    TableOrJson,
    TimespanChoice,
    dumped,
    exports_json,
    exports_tree,
    namespaces_table,
    periods_of,
    print_json,
    print_pulls_csv,
    pulls_table,
    show,
)

if TYPE_CHECKING:
    from pullstats.client import DvpClient
    from pullstats.client.answers import PullModel
    from pullstats.rollups.series_query import Group, RelativePeriod, Timespan

hub_app = typer.Typer(
    help="Read pull analytics from Docker Hub or a pullstats server, as a publisher "
    "(the DVP Data API): log in, namespaces, pulls, exports, and download, sync and query "
    "the export files.",
    no_args_is_help=True,
)

#: The most repositories one ``/repos/pulls`` request may name (the contract's limit).
REPOS_PER_REQUEST = 50


def _say(text: str) -> None:
    out.print(text, markup=False)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@hub_app.command("login")
def login(
    url: UrlOption = None,
    username: str | None = typer.Option(
        None,
        "--username",
        envvar=USERNAME_ENV,
        metavar="USER",
        show_default=False,
        help="Account name; asked for when not given.",
    ),
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Read the password or personal access token from standard input.",
    ),
    otp: str | None = typer.Option(
        None,
        "--otp",
        metavar="CODE",
        help="The current TOTP code, when the account has two-factor authentication on; "
        "asked for when needed and not given.",
    ),
) -> None:
    """Log in with a password or a personal access token, and store the token for the URL.

    The password is read from standard input with --password-stdin, else from
    PULLSTATS_HUB_PASSWORD when set, else asked for on the terminal (not echoed), or read from
    standard input when that is no terminal. The token is kept in the user's config dir
    (PULLSTATS_HUB_CONFIG_DIR overrides it), readable by the user only; the password is never
    stored.
    """
    from pullstats.client import (
        AuthenticationRequired,
        DvpClient,
        NotFound,
        SecondFactorRequired,
        credentials,
    )

    base = hub_url(url)
    if username is None:
        if password_stdin:
            raise fail(f"--password-stdin needs --username (or {USERNAME_ENV})")
        username = _ask("Username", hidden=False).strip()
    if not username:
        raise fail("no user name given")
    if password_stdin:
        secret = _stdin_line("the password") or ""
    else:
        secret = _env_password() or _ask("Password or personal access token", hidden=True)
    if not secret:
        raise fail("no password given")
    with DvpClient(base) as client:
        try:
            client.login(username, secret)
        except SecondFactorRequired:
            code = otp or _ask("Two-factor code", hidden=False)
            try:
                client.second_factor(code.strip())
            except AuthenticationRequired as error:
                raise fail(
                    f"{base} refused the two-factor code ({error.message}): "
                    f"run `{credentials.login_command(base)}` again with the current code"
                ) from None
        except AuthenticationRequired as error:
            raise fail(
                f"{base} refused user {username} with that password or token ({error.message})"
            ) from None
        except NotFound as error:  # no login route there: a URL with a path, or another server
            raise fail(
                f"{base} has no login at /v2/users/login ({error.message}): is --url the DVP "
                "API server's base URL, without a path (as https://hub.docker.com)?"
            ) from None
        token = client.token
    if not token:
        raise fail(f"{base} answered the login without a token")
    credentials.save(base, username, token)
    _say(f"Logged in to {base} as {username}.")


def _env_password() -> str | None:
    return os.environ.get(PASSWORD_ENV) or None


def _ask(prompt: str, *, hidden: bool) -> str:
    """Ask on stderr, so that stdout holds only the command's output (click's prompt leaves a
    space on stdout); a hidden answer is read from the terminal without echo when standard
    input is one, else from standard input, which shows nothing (getpass would warn "Password
    input may be echoed" with a line of its source, or read a terminal the pipe bypassed). No
    answer is an error."""
    where = f"on standard input or in {PASSWORD_ENV}" if hidden else "as an option or on stdin"
    missing = f"no answer to {prompt!r}: give it {where}"
    if hidden and sys.stdin.isatty():
        try:
            return getpass.getpass(f"{prompt}: ", stream=sys.stderr)
        except EOFError:
            raise fail(missing) from None
    sys.stderr.write(f"{prompt}: ")
    sys.stderr.flush()
    answer = _stdin_line("the password" if hidden else f"the answer to {prompt!r}")
    if answer is None:
        raise fail(missing)
    return answer


def _stdin_line(what: str) -> str | None:
    """The next line of standard input as UTF-8 whatever the locale (read in a Latin-1 one, a
    password's UTF-8 became other characters, which the server refused); None at its end.
    Every answer is read so: the text layer reads ahead, past the lines it was asked for."""
    try:
        line = sys.stdin.buffer.readline()
        return line.decode().rstrip("\r\n") if line else None
    except UnicodeDecodeError:
        raise fail(f"{what} on standard input is not UTF-8 text") from None


@hub_app.command("logout")
def logout(url: UrlOption = None) -> None:
    """Forget the token stored for the URL (the server is not told; it expires by itself)."""
    from pullstats.client import credentials

    base = hub_url(url)
    if credentials.remove(base):
        _say(f"Logged out of {base}: its token is removed.")
    else:
        _say(f"No token stored for {base}: nothing to do.")


@hub_app.command("whoami")
def whoami(url: UrlOption = None) -> None:
    """Show who the stored token of the URL signs in as, and until when.

    Exit status 1 when no token is stored for the URL, or when it has expired.
    """
    from pullstats.client import credentials

    base = hub_url(url)
    stored = credentials.load(base)
    if stored is None:
        others = [u for u in credentials.stored_urls() if u != base]
        elsewhere = f" (tokens are stored for {', '.join(others)})" if others else ""
        raise fail(f"not logged in to {base}: run `{credentials.login_command(base)}`{elsewhere}")
    claims = credentials.token_claims(stored.token)
    # Docker Hub's JWT names its user; a pullstats JWT's subject is a user id, not the name
    hub_claims = claims.get("https://hub.docker.com")
    user = stored.username
    if isinstance(hub_claims, dict) and isinstance(hub_claims.get("username"), str):
        user = hub_claims["username"]
    expires = credentials.expires_at(stored.token)
    if expires is not None and expires <= datetime.now(UTC):
        raise fail(
            f"the token stored for {base} ({user}) expired at {_when(expires)}: "
            f"run `{credentials.login_command(base)}` again"
        )
    until = f"; the token expires at {_when(expires)}" if expires else ""
    _say(f"Logged in to {base} as {user}{until}.")
    if not claims:  # whoami never asks the server: say what it could not read
        err.print(
            f"note: the token stored for {base} is not a JWT this command can read (damaged, "
            "or of a kind it does not know): its expiry is unknown; if the other commands "
            f"answer 401, run `{credentials.login_command(base)}` again",
            markup=False,
        )


@hub_app.command("namespaces")
def namespaces(
    url: UrlOption = None,
    output: TableOrJson = typer.Option(
        TableOrJson.TABLE, "--format", metavar="FORMAT", help="table or json."
    ),
    all_datasets: bool = typer.Option(
        False,
        "--all-datasets",
        help="Also list a pullstats server's report datasets (summary, trends, co-usage); "
        "Docker Hub lists pulls only.",
    ),
) -> None:
    """List the namespaces you may read, with their datasets, views and extra repositories."""
    with connect(url) as client:
        metadata = client.user_namespaces(all_datasets=all_datasets)
        readable = client.namespaces().namespaces
        base = client.session.base_url
    if output is TableOrJson.JSON:
        print_json({"namespaces": readable, "metadata": dumped(metadata)})
    elif not metadata and not readable:
        _say(f"No namespace you may read at {base}.")
    else:
        show(namespaces_table(metadata, readable))


@hub_app.command("pulls")
def pulls(
    namespace: str = typer.Argument(..., metavar="NAMESPACE", help="The namespace."),
    repos: list[str] | None = typer.Argument(
        None,
        metavar="[REPO]...",
        show_default=False,
        help="Only these repositories of the namespace, named without it (api, tools/cli).",
    ),
    url: UrlOption = None,
    timespan: TimespanChoice | None = typer.Option(
        None,
        "--timespan",
        metavar="SPAN",
        show_default=False,
        help="months (the default) or weeks: a row per month or per ISO week.",
    ),
    period: PeriodChoice | None = typer.Option(
        None,
        "--period",
        metavar="PERIOD",
        show_default=False,
        help="The complete months to cover: last-2-months, last-3-months, last-6-months or "
        "last-12-months (the default).",
    ),
    group: GroupChoice | None = typer.Option(
        None,
        "--group",
        metavar="GROUP",
        show_default=False,
        help="repo: a row per repository and period; namespace (the default): one per period.",
    ),
    output: SeriesFormat = typer.Option(
        SeriesFormat.TABLE,
        "--format",
        metavar="FORMAT",
        help="table (with a bar chart), or csv or json alone on stdout.",
    ),
) -> None:
    """Show the pull series of a namespace, or of some of its repositories: pulls and distinct
    client IPs per month or week."""
    from pullstats.rollups.series_query import Group, RelativePeriod, Timespan

    kind = Timespan(timespan.value) if timespan else None
    window = RelativePeriod(period.value) if period else None
    rows_by = Group(group.value) if group else None
    # each repository once, however it was spelt (api, api/, /api): a script summing the
    # rows would count a repository named twice twice
    names = list(dict.fromkeys(f"{namespace}/{repo.strip('/')}" for repo in repos or []))
    body: dict[str, object]
    with connect(url) as client:
        if names:
            body, rows = _repos_series(client, names, kind, window, rows_by)
        else:
            answer = client.namespace_pulls(namespace, timespan=kind, period=window, group=rows_by)
            body, rows = dumped(answer), answer.pulls
    if output is SeriesFormat.JSON:
        print_json(body)
    elif output is SeriesFormat.CSV:
        print_pulls_csv(rows)
    elif not rows:
        _say(f"No pulls of {namespace} in that period.")
    else:
        kind = kind or Timespan.MONTHS
        months = (window or RelativePeriod.LAST_12_MONTHS).value
        title = f"Pulls of {', '.join(names) or namespace} per {kind.value[:-1]}, {months}"
        show(pulls_table(rows, kind, title))


def _repos_series(
    client: DvpClient,
    names: list[str],
    timespan: Timespan | None,
    period: RelativePeriod | None,
    group: Group | None,
) -> tuple[dict[str, object], list[PullModel]]:
    """``/repos/pulls`` for every name (50 a request); a name the server leaves out is an
    unknown repository, or one the caller may not read: an error, as on the other routes."""
    found: dict[str, object] = {}
    rows: list[PullModel] = []
    for first in range(0, len(names), REPOS_PER_REQUEST):
        chunk = names[first : first + REPOS_PER_REQUEST]
        answer = client.repos_pulls(chunk, timespan=timespan, period=period, group=group)
        for name in chunk:
            data = answer.repos.get(name)
            if data is None:
                raise fail(
                    f"not found: no repository {name} at {client.session.base_url}, "
                    "or not yours to read"
                )
            found[name] = dumped(data)
            rows += data.pulls
    return {"repos": found}, rows


@hub_app.command("exports")
def exports(
    namespace: str = typer.Argument(..., metavar="NAMESPACE", help="The namespace."),
    url: UrlOption = None,
    output: TableOrJson = typer.Option(
        TableOrJson.TABLE, "--format", metavar="FORMAT", help="table or json."
    ),
    dataset: DatasetChoice = typer.Option(
        DatasetChoice.PULLS,
        "--dataset",
        metavar="DATASET",
        help="pulls (Docker's four views), or a pullstats server's report: summary, trends or "
        "co-usage.",
    ),
) -> None:
    """Show the exported periods of a namespace as a tree: years, months and weeks, and each
    view's parts and size. Lists the files without downloading them."""
    from pullstats.client import DatasetNotServed
    from pullstats.exports.reports import Dataset

    with connect(url) as client:
        try:
            found = periods_of(client.export_files(namespace, dataset=Dataset(dataset.value)))
        except DatasetNotServed as error:
            raise fail(f"{error.message}; leave out --dataset {dataset.value}") from None
        base = client.session.base_url
    if output is TableOrJson.JSON:
        print_json(exports_json(found))
    elif not found:
        _say(f"{namespace} at {base} has no exported periods yet.")
    else:
        show(exports_tree(namespace, base, found))


hub_app.command("download")(hub_files.download)
hub_app.command("sync")(hub_files.sync)
hub_app.command("query")(hub_files.query)
