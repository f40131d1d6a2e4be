"""The HTTP server: DVP Data API, login, ingest, dashboard and operations endpoints."""
