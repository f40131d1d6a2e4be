"""Who is signed in: the registry users behind the synthetic clients and bots.

A registry knows the user of a request whose client sent credentials: ``docker login`` on a
developer's machine, an image pull secret on a Kubernetes node, a CI pipeline's service
account, a script's or a bot's token. Most pulls of public images are anonymous.
:func:`sign_in` gives a share of each client class and bot kind a user, several clients often
sharing one (a developer's laptop and office machine, the nodes of a cluster behind one pull
secret, the runners of one CI account), so one user pulls from several addresses. Service
accounts are grouped by the namespace of their clients' usual image, as an organisation's
accounts are, and their clients pull other images too: users pull several repositories,
across namespaces, and pairs of repositories share many users.

Names are of ``[a-z0-9._-]`` only (people as ``first.last``, service accounts as
``ci-acme-3``): none needs escaping in a log line. Drawn from a random stream of its own (the
seed's, then 2), so every other column is what the same seed gives without users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pullstats.demo.arrays import FloatArray, IntArray
from pullstats.demo.population import Bots, Clients, References


@dataclass(frozen=True)
class _Accounts:
    share: float  # of the clients (bots) that send credentials
    per_user: float  # mean clients signed in as one user
    prefix: str  # of a service account's name; "" for a person's name


#: Per client class of :data:`~pullstats.demo.traffic_model.CLASSES`.
CLASS_ACCOUNTS = (
    _Accounts(0.20, 1.25, ""),  # desktops: developers after `docker login`, some on two machines
    _Accounts(0.45, 6.0, "k8s"),  # Kubernetes nodes: an image pull secret per cluster
    _Accounts(0.45, 3.0, "ci"),  # CI farms: the pipeline's service account, on several runners
    _Accounts(0.30, 1.5, "svc"),  # scripts and tools: a token
)
#: Per bot kind of :data:`~pullstats.demo.traffic_model.BOT_KINDS`.
BOT_ACCOUNTS = (
    _Accounts(0.10, 1.0, ""),  # Watchtower: a home server's owner, now and then
    _Accounts(0.85, 2.0, "renovate"),  # Renovate: an organisation's bot account
    _Accounts(0.30, 1.5, "monitor"),  # version checkers
)

_FIRST = (
    "aisha", "alex", "ana", "andrei", "ben", "carlos", "chen", "chloe", "daniel", "david",
    "elena", "emma", "fatima", "felix", "hana", "hugo", "igor", "ines", "jakub", "james",
    "jin", "julia", "kai", "karim", "lars", "laura", "leo", "lucia", "maria", "mateo", "max",
    "mei", "nadia", "nina", "noah", "olga", "omar", "paul", "priya", "rahul", "rosa", "sam",
    "sara", "sofia", "tom", "wei", "yuki", "zoe",
)  # fmt: skip
_LAST = (
    "ahmed", "almeida", "berg", "brown", "chen", "costa", "dubois", "fischer", "garcia",
    "gupta", "hansen", "ito", "jansen", "kim", "kowalski", "kumar", "lee", "lopez", "martin",
    "meyer", "moreau", "muller", "nakamura", "nguyen", "novak", "okafor", "olsen", "park",
    "patel", "petrov", "rossi", "sato", "schmidt", "silva", "singh", "smith", "suzuki",
    "tanaka", "wagner", "wang", "weber", "williams", "wilson", "wong", "yamamoto", "yilmaz",
    "zhang", "ziegler",
)  # fmt: skip


def sign_in(seed: int, clients: Clients, bots: Bots, refs: References) -> pa.Array:
    """Set ``clients.user`` and ``bots.user``; return the pool of names they index ("" first)."""
    rng = np.random.default_rng([seed, 2])
    namespaces, of_repository = _namespaces(refs)
    home = of_repository[refs.repository[clients.favourite]]  # each client's usual namespace
    rows = clients.weight * clients.requests_per_session  # each client's share of the requests
    groups: list[tuple[str, IntArray]] = []  # per group of users: its prefix, their namespaces
    users = 1
    for c, spec in enumerate(CLASS_ACCOUNTS):
        members = np.flatnonzero(clients.klass == c)
        signed, user, namespace = _accounts(rng, members, rows, home, spec)
        clients.user[signed] = user + users
        groups.append((spec.prefix, namespace))
        users += len(namespace)
    for k, spec in enumerate(BOT_ACCOUNTS):
        signed, user, namespace = _accounts(rng, np.flatnonzero(bots.kind == k), None, None, spec)
        bots.user[signed] = user + users
        groups.append((spec.prefix, namespace))
        users += len(namespace)
    people = _person_names(rng, sum(len(ns) for prefix, ns in groups if not prefix))
    parts = [pa.array([""], pa.string())]
    taken = 0
    for prefix, namespace in groups:
        if not prefix:
            parts.append(people.slice(taken, len(namespace)))
            taken += len(namespace)
        else:
            parts.append(_service_names(prefix, namespace, namespaces))
    return pa.concat_arrays(parts)


def _accounts(
    rng: np.random.Generator,
    members: IntArray,
    weight: FloatArray | None,
    home: IntArray | None,
    spec: _Accounts,
) -> tuple[IntArray, IntArray, IntArray]:
    """Who of ``members`` signs in, as which new user (from 0); each new user's namespace.

    About ``spec.share`` of the members sign in, and make about that share of their ``weight``
    (activity) when it is given: a coin per client would give a small population, where a few
    busy clients weigh much, any share of its traffic. The busiest tenth toss a coin; the rest,
    taken evenly along their ranks, make up the share of the weight the coins missed or passed.
    With ``home`` (a namespace per member), the members signed in are grouped by it: one user's
    clients share a namespace, but for a user that takes the last ones of one and the first of
    the next. Without it, users' namespaces are -1.
    """
    if weight is None:
        ranked = rng.permutation(members)
        ranked_weight = np.ones(len(ranked))
    else:
        ranked = members[np.argsort(-weight[members], kind="stable")]
        ranked_weight = weight[ranked]
    busy = -(-len(ranked) // 10)
    coin = rng.random(busy) < spec.share
    tossed = ranked[:busy][coin]
    rest = ranked_weight[busy:].sum()
    missing = spec.share * ranked_weight.sum() - ranked_weight[:busy][coin].sum()
    share = min(max(missing / rest, 0.0), 1.0) if rest > 0 else 0.0
    step = np.floor(np.arange(len(ranked) - busy + 1) * share + rng.random())
    signed = np.concatenate([tossed, ranked[busy:][np.diff(step) > 0]])
    if home is None:
        signed = rng.permutation(signed)
    else:
        signed = signed[np.lexsort((rng.random(len(signed)), home[signed]))]
    sizes = rng.geometric(1.0 / spec.per_user, len(signed))
    user = np.repeat(np.arange(len(signed), dtype=np.int64), sizes)[: len(signed)]
    count = int(user[-1]) + 1 if len(user) else 0
    first = np.searchsorted(user, np.arange(count))
    namespace = home[signed[first]] if home is not None else np.full(count, -1, dtype=np.int64)
    return signed, user, namespace


def _namespaces(refs: References) -> tuple[pa.Array, IntArray]:
    """The namespaces of the catalog, and each repository's (``library`` for a bare name)."""
    names = [name.split("/", 1)[0] if "/" in name else "library" for name in refs.names.to_pylist()]
    unique = sorted(set(names))
    return pa.array(unique, pa.string()), np.array([unique.index(n) for n in names], np.int64)


def _service_names(prefix: str, namespace: IntArray, namespaces: pa.Array) -> pa.Array:
    """``prefix-namespace-k``, k counting from 1 in each namespace; ``prefix-k`` without one."""
    n = len(namespace)
    order = np.argsort(namespace, kind="stable")
    ranked = namespace[order]
    number = np.empty(n, dtype=np.int64)
    number[order] = np.arange(n) - np.searchsorted(ranked, ranked) + 1
    text = pc.cast(pa.array(number, pa.int64()), pa.string())
    scoped = pc.binary_join_element_wise(
        prefix, namespaces.take(np.maximum(namespace, 0)), text, "-"
    )
    bare = pc.binary_join_element_wise(prefix, text, "-")
    names: pa.Array = pc.if_else(pa.array(namespace >= 0), scoped, bare)
    return names


def _person_names(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` distinct names ``first.last``, a number after the name once the pairs run out."""
    pairs = len(_FIRST) * len(_LAST)
    code = rng.choice(pairs * (1 + n // pairs), size=n, replace=False).astype(np.int64)
    first = pa.array(_FIRST, pa.string()).take(code % len(_FIRST))
    last = pa.array(_LAST, pa.string()).take(code // len(_FIRST) % len(_LAST))
    again = code // pairs  # the first of a pair has no number, the next ones 2, 3, ...
    number = pc.cast(pa.array(again + 1, pa.int64()), pa.string())
    suffix = pc.if_else(pa.array(again == 0), pa.scalar("", pa.string()), number)
    names: pa.Array = pc.binary_join_element_wise(first, ".", last, suffix, "")
    return names
