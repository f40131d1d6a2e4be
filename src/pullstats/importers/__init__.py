"""The file importers, jobs of their own beside ``process``: access logs into the requests of
stage 1, Docker Hub CSV exports into the actions of stage 2 and the imported summaries.

They parse with ``ingest/`` and write with ``lake/``; the days they touch wait as pending days
for the next ``process``.
"""
