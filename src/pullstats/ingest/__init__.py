"""Stage 0, sources → spool records: the parsers of registry notifications, access-log lines
and Docker Hub CSV headers, and the spool record. No database, no HTTP, no files written."""
