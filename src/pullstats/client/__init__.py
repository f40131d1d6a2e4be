"""A typed client of the DVP Data API, for Docker Hub or any pullstats server (docs/client.md).

Above the API in the layers: it parses answers into the server's own models
(``pullstats.api.dvp_models``), so one definition serves both sides.
"""

from pullstats.client.dvp import DvpClient, ExportFile
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
from pullstats.client.session import DOCKER_HUB

__all__ = [
    "DOCKER_HUB",
    "AuthenticationRequired",
    "ClientError",
    "DvpClient",
    "ExportFile",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "SecondFactorRequired",
    "ServerError",
    "TransportError",
]
