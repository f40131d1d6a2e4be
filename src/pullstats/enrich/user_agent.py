"""User agent → (tool, version): one small parser per client, registered with ``@parser``.

Every pattern is anchored on the client's own leading product token, so no two parsers can
claim the same string and the registration order does not matter (the tests shuffle it). A
parser gets the match and returns ``(tool, version)``; an agent no parser claims is ("", "").

What each client really sends (from its source) is in tests/fixtures/user_agents/, one file per
client; docs/enrichment.md lists the clients that cannot be told apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pullstats.client_categories import GO_HTTP_CLIENT

ParseFunction = Callable[[re.Match[str]], tuple[str, str]]

_VERSION = r"(?P<version>[\w.+~-]+)"


@dataclass(frozen=True, slots=True)
class Parser:
    name: str
    pattern: re.Pattern[str]
    parse: ParseFunction


PARSERS: list[Parser] = []


def parser(pattern: str) -> Callable[[ParseFunction], ParseFunction]:
    """Register ``function`` for the user agents ``pattern`` matches (with ``re.match``)."""

    def register(function: ParseFunction) -> ParseFunction:
        PARSERS.append(Parser(function.__name__, re.compile(pattern), function))
        return function

    return register


def _plain(version: str) -> str:
    """Release tags are written v1.2.3 by some clients and 1.2.3 by others; report 1.2.3."""
    return version[1:] if version[:1] == "v" and version[1:2].isdigit() else version


# moby dockerversion.DockerUserAgent: "docker/27.3.1 go/go1.22.7 git-commit/… kernel/… os/linux
# arch/amd64 UpstreamClient(Docker-Client/27.3.1 \(linux\))"; the version is the daemon's.
@parser(rf"docker/{_VERSION}(\s|$)")
def docker(match: re.Match[str]) -> tuple[str, str]:
    return "docker", match["version"]


# containerd's resolver sets "containerd/" + version.Version unless its caller set an agent: ctr,
# the CRI plugin that kubelet drives, and nerdctl all arrive as "containerd/v1.7.22".
@parser(rf"containerd/{_VERSION}")
def containerd(match: re.Match[str]) -> tuple[str, str]:
    return "containerd", _plain(match["version"])


# CRI-O overrides containers/image's agent: "cri-o/1.30.4 go/go1.22.5 os/linux arch/amd64".
@parser(rf"cri-o/{_VERSION}")
def cri_o(match: re.Match[str]) -> tuple[str, str]:
    return "cri-o", match["version"]


# containers/image's default agent, sent by a caller that sets none of its own; the version is
# the library's, not the tool's: "containers/5.32.2 (github.com/containers/image)".
@parser(rf"containers/{_VERSION} \(github\.com/containers/image\)")
def containers_image(match: re.Match[str]) -> tuple[str, str]:
    return "containers-image", match["version"]


# The containers/image callers that do set one: skopeo ("skopeo/" + version.Version in
# cmd/skopeo), buildah ("Buildah/" + define.Version) and podman, whose system context says
# "libpod/" + its version.
@parser(rf"skopeo/{_VERSION}")
def skopeo(match: re.Match[str]) -> tuple[str, str]:
    return "skopeo", match["version"]


@parser(rf"Buildah/{_VERSION}")
def buildah(match: re.Match[str]) -> tuple[str, str]:
    return "buildah", match["version"]


@parser(rf"libpod/{_VERSION}")
def podman(match: re.Match[str]) -> tuple[str, str]:
    return "podman", match["version"]


# bootc puts its own token before skopeo's: "bootc/1.1.4 skopeo/1.17.0".
@parser(rf"bootc/{_VERSION}")
def bootc(match: re.Match[str]) -> tuple[str, str]:
    return "bootc", _plain(match["version"])


# BuildKit (buildx with the docker-container driver, buildkitd): "buildkit/v0.16.0".
@parser(rf"buildkit/{_VERSION}")
def buildkit(match: re.Match[str]) -> tuple[str, str]:
    return "buildkit", _plain(match["version"])


# go-containerregistry puts a caller's agent first and its own after it:
# "crane/v0.20.2 go-containerregistry/v0.20.2"; gcrane is crane's GCR flavour.
@parser(rf"g?crane/{_VERSION}")
def crane(match: re.Match[str]) -> tuple[str, str]:
    return "crane", _plain(match["version"])


@parser(rf"kaniko/{_VERSION}")
def kaniko(match: re.Match[str]) -> tuple[str, str]:
    return "kaniko", _plain(match["version"])


# Trivy wraps its registry transport in go-containerregistry's NewUserAgent with "trivy/" +
# app.Version() (aquasecurity/trivy pkg/remote/remote.go, PR #6868): "trivy/0.56.2
# go-containerregistry/v0.20.2". Release builds carry the version without the "v".
@parser(rf"trivy/{_VERSION}")
def trivy(match: re.Match[str]) -> tuple[str, str]:
    return "trivy", _plain(match["version"])


# Grype and Syft pull through anchore/stereoscope, which hands os.Args[0] to go-containerregistry
# (pkg/image/oci/registry_provider.go, PR #381): the binary as it was invoked, a bare
# name or a path ("/grype" in the official images), and no version of the tool's own.
_INVOKED_AS = r"(?:\S*[/\\])?"


@parser(rf"{_INVOKED_AS}grype(?:\.exe)? go-containerregistry\b")
def grype(match: re.Match[str]) -> tuple[str, str]:
    return "grype", ""


@parser(rf"{_INVOKED_AS}syft(?:\.exe)? go-containerregistry\b")
def syft(match: re.Match[str]) -> tuple[str, str]:
    return "syft", ""


# The library alone, as other Go tools embed it: "go-containerregistry/v0.20.2", or without a
# version when the binary carries no module build information.
@parser(rf"go-containerregistry(/{_VERSION})?(\s|$)")
def go_containerregistry(match: re.Match[str]) -> tuple[str, str]:
    return "go-containerregistry", _plain(match["version"] or "")


# Go's net/http default: "Go-http-client/1.1" (the version is the HTTP version).
@parser(r"Go-http-client/(?P<version>\d\.\d)$")
def go_http_client(match: re.Match[str]) -> tuple[str, str]:
    return GO_HTTP_CLIENT, match["version"]


@parser(rf"curl/{_VERSION}")
def curl(match: re.Match[str]) -> tuple[str, str]:
    return "curl", match["version"]


@parser(rf"Wget/{_VERSION}")
def wget(match: re.Match[str]) -> tuple[str, str]:
    return "wget", match["version"]


@parser(rf"python-requests/{_VERSION}")
def python_requests(match: re.Match[str]) -> tuple[str, str]:
    return "python-requests", match["version"]


# Watchtower's own digest checks (HEAD of a tag): "Watchtower/v1.7.1".
@parser(rf"Watchtower/{_VERSION}")
def watchtower(match: re.Match[str]) -> tuple[str, str]:
    return "watchtower", _plain(match["version"])


# Renovate's default userAgent: "RenovateBot/37.440.7 (https://github.com/renovatebot/renovate)".
@parser(rf"RenovateBot/{_VERSION}")
def renovate(match: re.Match[str]) -> tuple[str, str]:
    return "renovate", match["version"]


# Diun hands its meta.UserAgent (cmd/main.go: id/version, go/<Go version>, the OS title-cased) to
# containers/image as DockerRegistryUserAgent: "diun/4.28.0 go/1.22.5 Linux".
@parser(rf"diun/{_VERSION}")
def diun(match: re.Match[str]) -> tuple[str, str]:
    return "diun", _plain(match["version"])


# regclient's library default is "regclient/regclient" and its tools set "regclient/regctl",
# "regclient/regsync" and "regclient/regbot"; newer releases add the release tag, or the commit
# when the build has no tag, in parentheses: "regclient/regctl (v0.7.1)".
@parser(r"regclient/(?:regclient|regctl|regsync|regbot)(?: \((?P<version>v\d[\w.+~-]*)\))?")
def regclient(match: re.Match[str]) -> tuple[str, str]:
    return "regclient", _plain(match["version"] or "")


# Harbor's registry client and its replication adapter send fixed, versionless agents.
@parser(r"harbor-(registry-client|replication-service)$")
def harbor(match: re.Match[str]) -> tuple[str, str]:
    return "harbor", ""


# JFrog Artifactory remote repositories: "Artifactory/7.77.5 77705900".
@parser(rf"Artifactory/{_VERSION}")
def artifactory(match: re.Match[str]) -> tuple[str, str]:
    return "artifactory", match["version"]


def parse_user_agent(
    user_agent: str | None, parsers: Sequence[Parser] = PARSERS
) -> tuple[str, str]:
    """(tool, version) of a user agent, ("", "") when no parser knows it; never raises."""
    if not user_agent:
        return "", ""
    for candidate in parsers:
        match = candidate.pattern.match(user_agent)
        if match:
            return candidate.parse(match)
    return "", ""
