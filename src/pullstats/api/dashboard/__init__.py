"""The browser dashboard: server-rendered pages over the same reads as the API."""
