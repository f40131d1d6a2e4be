"""Stages 0–1 storage: spool segments, compaction into day-partitioned Parquet, set-aside
records and spool retention; atomic file publication and the job lock."""
