"""The API as a whole: health, the error body for bad ids and unknown routes, the OpenAPI
schema and its docs page (served without a CDN)."""

from __future__ import annotations

import re

from support import TestClient, assert_error
from techbridge import __version__


def test_health(client: TestClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_invalid_path_id_and_unknown_route(client: TestClient) -> None:
    assert_error(client.get("/api/v1/offers/abc"), 422, "invalid", "offer_id")
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found", None)


def test_openapi_lists_the_catalog(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/v1/health",
        "/api/v1/offers",
        "/api/v1/offers/{offer_id}",
        "/api/v1/demands",
        "/api/v1/demands/{demand_id}",
    } <= set(paths)
    assert all(path.startswith("/api/v1/") for path in paths)  # pages stay out of the API
    parameters = {p["name"] for p in paths["/api/v1/offers"]["get"]["parameters"]}
    assert {"page", "per_page", "lang", "tag", "kind", "district"} <= parameters


def test_api_docs_use_no_cdn(client: TestClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    sources = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert sources and all(source.startswith("/") for source in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source
