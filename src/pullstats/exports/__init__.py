"""Stage 4, closed periods → CSV exports: views, deterministic gzip parts, the export catalog."""
