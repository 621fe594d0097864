"""Web (网站): the FastAPI app, templates, static files and translations; no business logic."""
