"""The HTTP service: FastAPI app, problem+json errors, routes."""
