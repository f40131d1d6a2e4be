"""Stage 2, REQUESTS → ACTIONS: the grouping rules (ruleset version 1) and the day files."""
