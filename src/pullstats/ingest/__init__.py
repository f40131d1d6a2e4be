"""Sources → spool: registry notifications (and, later, access logs and Docker Hub CSVs)."""
