"""User agent → (tool, version): one small parser per client, tried in registration order.

Each parser is a regular expression over the whole user-agent string with a ``version`` group;
the first that matches names the tool. An unknown agent gives ("", "").
"""

from __future__ import annotations

import re

_PARSERS: list[tuple[str, re.Pattern[str]]] = []


def register(tool: str, pattern: str) -> None:
    _PARSERS.append((tool, re.compile(pattern)))


# Order matters only where one client embeds another's token: buildkit sends "buildkit/…"
# and podman may mention "containers/…"; the specific ones come first.
register("buildkit", r"\bbuildkit/v?(?P<version>[\w.+-]+)")
register("docker", r"^docker/(?P<version>[\w.+~-]+)")
register("containerd", r"^containerd/v?(?P<version>[\w.+~-]+)")
register("podman", r"\bpodman/(?P<version>[\w.+~-]+)")
register("cri-o", r"\bcri-o/(?P<version>[\w.+~-]+)")
register("skopeo", r"\bskopeo/(?P<version>[\w.+~-]+)")
register("kaniko", r"\bkaniko/(?P<version>[\w.+~-]+)")
register("nerdctl", r"\bnerdctl/(?P<version>[\w.+~-]+)")
register("crane", r"\bcrane/(?P<version>[\w.+~-]+)|^go-containerregistry/(?P<gcr>[\w.+~-]+)")
register("curl", r"^curl/(?P<version>[\w.+~-]+)")
register("Go-http-client", r"^Go-http-client/(?P<version>[\w.]+)")


def parse_user_agent(user_agent: str | None) -> tuple[str, str]:
    if not user_agent:
        return "", ""
    for tool, pattern in _PARSERS:
        match = pattern.search(user_agent)
        if match:
            version = next((v for v in match.groups() if v), "")
            return tool, version
    return "", ""
