"""The NumPy array types of the synthetic-traffic generator, and the layout of its rows."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ByteArray = npt.NDArray[np.uint8]

#: While they are generated, requests are the columns of one int64 matrix: these are its rows
#: (a text is an index into its pool: names, tags, digests). ROW_CLIENT is who sent it: a
#: client, or a bot numbered after the clients; its address, user agent and user are looked up
#: when the rows become a table.
ROWS = 7
ROW_TS, ROW_RECV, ROW_METHOD, ROW_NAME, ROW_TAG_ID, ROW_DIGEST_ID, ROW_CLIENT = range(ROWS)
