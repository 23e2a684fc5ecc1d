"""FastAPI application: REST API, auth and roles, webhooks, live stream, staff and installer app."""
