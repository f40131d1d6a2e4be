"""The catalog database: accounts, spool progress, rollups and the export catalog."""
