"""Stage 2, REQUESTS → ACTIONS: the counting rules of DESIGN.md §3, and request enrichment."""
