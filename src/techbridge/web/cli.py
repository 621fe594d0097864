"""``techbridge serve``."""

from __future__ import annotations

from typing import Annotated

import typer

from techbridge.cli_support import console, settings


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Serve the web platform and the JSON API (/api/v1, OpenAPI at /api/v1/openapi.json)."""
    import uvicorn

    from techbridge.web.app import create_app

    console.print(f"TechBridge serving on http://{host}:{port}  (Ctrl+C to stop)")
    uvicorn.run(create_app(settings(ctx)), host=host, port=port, log_level="info")
