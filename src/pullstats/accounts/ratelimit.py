"""Login throttling: failed attempts per account name and per client IP, in one process.

Each key keeps the times of its last ``limit`` failures; when all of them fall inside the window
the key is blocked until the oldest one leaves it. Counters live in memory: with
``serve --workers N`` each worker counts on its own, so the effective limit is up to N times
the setting (documented in docs/accounts.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

#: At this many keys, forget every key with no failure inside the window.
_SWEEP_AT = 10_000


class _Window:
    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.failures: dict[str, deque[float]] = {}
        self._sweep_at = _SWEEP_AT

    def retry_after(self, key: str) -> float:
        times = self.failures.get(key)
        if times is None or len(times) < self.limit:
            return 0.0
        return max(0.0, times[0] + self.window - self.clock())

    def fail(self, key: str) -> None:
        # a full deque drops its oldest time, which retry_after found outside the window
        times = self.failures.get(key)
        if times is None:
            if len(self.failures) >= self._sweep_at:
                self._sweep()
                # doubling keeps sweeps rare (amortised O(1)) when most keys are still live
                self._sweep_at = max(_SWEEP_AT, 2 * len(self.failures))
            times = self.failures[key] = deque(maxlen=self.limit)
        times.append(self.clock())

    def forgive(self, key: str) -> None:
        times = self.failures.get(key)
        if times:
            times.pop()
        if times is not None and not times:
            del self.failures[key]

    def _sweep(self) -> None:
        horizon = self.clock() - self.window
        for key in [key for key, times in self.failures.items() if times[-1] < horizon]:
            del self.failures[key]


class LoginLimiter:
    """Per-account and per-IP limits on failed logins (both must allow an attempt).

    The second factor's codes are counted per account too, by user id (``codes_of``), on a
    counter of their own: a wrong code is not a wrong password, and a name typed at the
    password step can never reach the codes' counter.

    The account forms of a signed-in user (the dashboard's password change, two-factor on and
    off, a new token) count their wrong guesses by user id too (``forms_of``), on a third
    counter: only the user's own sessions reach it, so strangers failing to sign in never stop
    the owner there, and a session still gets no more guesses a window there than a sign-in
    does (so, with the sign-in's, at most twice the limit)."""

    def __init__(
        self,
        per_account: int,
        per_ip: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = _Window(per_account, window_seconds, clock)
        self._codes = _Window(per_account, window_seconds, clock)
        self._forms = _Window(per_account, window_seconds, clock)
        self._ips = _Window(per_ip, window_seconds, clock)
        self._lock = threading.Lock()

    def attempt(
        self,
        account: str | None,
        ip: str | None,
        codes_of: int | None = None,
        forms_of: int | None = None,
    ) -> int:
        """Whole seconds to wait before trying again, or 0: go ahead.

        An allowed attempt counts as a failure at once and is forgiven by ``succeeded``, so a
        burst of parallel guesses cannot all pass the check before any of them has failed.
        Each of ``account``, ``ip``, ``codes_of`` and ``forms_of`` that is given is counted.
        """
        with self._lock:
            counted = self._counted(account, ip, codes_of, forms_of)
            wait = max((window.retry_after(key) for window, key in counted), default=0.0)
            if wait > 0:
                return max(1, math.ceil(wait))
            for window, key in counted:
                window.fail(key)
            return 0

    def succeeded(
        self,
        account: str | None,
        ip: str | None,
        codes_of: int | None = None,
        forms_of: int | None = None,
    ) -> None:
        with self._lock:
            for window, key in self._counted(account, ip, codes_of, forms_of):
                window.forgive(key)

    def failed_elsewhere(self, account: str) -> None:
        """A wrong password of ``account`` typed where its sign-in counter does not stop it (an
        account form, ``forms_of``): counted there as a failed sign-in, unless that counter is
        full already (a sign-in it blocks is not counted either)."""
        with self._lock:
            key = _account_key(account)
            if self._accounts.retry_after(key) == 0:
                self._accounts.fail(key)

    def _counted(
        self, account: str | None, ip: str | None, codes_of: int | None, forms_of: int | None
    ) -> list[tuple[_Window, str]]:
        counted: list[tuple[_Window, str]] = [] if ip is None else [(self._ips, ip)]
        if account is not None:
            counted.append((self._accounts, _account_key(account)))
        if codes_of is not None:
            counted.append((self._codes, str(codes_of)))
        if forms_of is not None:
            counted.append((self._forms, str(forms_of)))
        return counted


def _account_key(name: str) -> str:
    # names are lower-case; folding case stops "Alice" and "alice" counting separately
    return name.strip().lower()


def client_ip(
    peer: str | None,
    forwarded_for: str | None,
    trusted: Sequence[IPv4Network | IPv6Network],
) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy.

    Behind trusted proxies, ``X-Forwarded-For`` is read from the right (each proxy appends the
    address it saw) and the first hop that is not a trusted proxy is the client. Hops further
    left were written by the client and are never believed.
    """
    if peer is None:
        return "unknown"
    if not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    hop = peer
    for entry in reversed(forwarded_for.split(",")):
        entry = entry.strip()
        if not _is_ip(entry):
            return hop  # a garbled header: stop at the last address we can vouch for
        hop = entry
        if not _is_trusted(entry, trusted):
            return entry
    return hop


def _is_ip(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def _is_trusted(text: str, trusted: Sequence[IPv4Network | IPv6Network]) -> bool:
    try:
        address = ip_address(text)
    except ValueError:
        return False
    return any(address in network for network in trusted)
