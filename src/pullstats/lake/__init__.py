"""The lake: spool segments, Parquet partitions, atomic writes, the job lock and engines."""
