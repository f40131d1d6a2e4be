"""Stage 3, ACTIONS → per-period numbers in the catalog; and the pull series read from them."""
