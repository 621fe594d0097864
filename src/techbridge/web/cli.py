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
    from techbridge.web.auth import LOCAL_HOSTS

    config = settings(ctx)
    console.print(f"TechBridge serving on http://{host}:{port}  (Ctrl+C to stop)")
    if config.public_url is None and host not in LOCAL_HOSTS:
        console.print(
            "note: set TECHBRIDGE_PUBLIC_URL to the site's address: without it, mails with "
            "links (verification, password reset) can only be sent to visitors on this machine"
        )
    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1; which proxies
    # may name the client is TECHBRIDGE_TRUSTED_PROXIES's to say (web.auth.client_ip).
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", proxy_headers=False)
