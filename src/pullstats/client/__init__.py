"""A typed client of the DVP Data API, for Docker Hub or any pullstats server (docs/client.md).

Above the API in the layers. Answers are read into the client's own lenient models
(:mod:`pullstats.client.answers`): the server's are strict about what it sends, and Docker's
contract leaves every field of an answer optional. Downloads and ``sync``
are here too; SQL over the downloaded files is :mod:`pullstats.client.query`, imported on
its own so that importing the client does not load DuckDB.
"""

from pullstats.client.dvp import DvpClient, ExportFile
from pullstats.client.errors import (
    AuthenticationRequired,
    ClientError,
    CorruptDownload,
    DatasetNotServed,
    Forbidden,
    NotFound,
    QueryError,
    RateLimited,
    SecondFactorRequired,
    ServerError,
    TransportError,
)
from pullstats.client.files import download, local_path
from pullstats.client.mirror import SyncReport, download_many, sync
from pullstats.client.session import DOCKER_HUB

__all__ = [
    "DOCKER_HUB",
    "AuthenticationRequired",
    "ClientError",
    "CorruptDownload",
    "DatasetNotServed",
    "DvpClient",
    "ExportFile",
    "Forbidden",
    "NotFound",
    "QueryError",
    "RateLimited",
    "SecondFactorRequired",
    "ServerError",
    "SyncReport",
    "TransportError",
    "download",
    "download_many",
    "local_path",
    "sync",
]
