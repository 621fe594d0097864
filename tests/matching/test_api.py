"""Search and matches through the JSON API, in-process on both engines: ranked results,
filters by segment and offer kind, what stays hidden, and ids and queries that are refused."""

from __future__ import annotations

from typing import Any

import pytest

import factories
from support import TestClient
from techbridge.config import Settings

from .conftest import SECRET


def test_api_search_and_matches(settings: Settings, listings: dict[str, Any]) -> None:
    with factories.client(settings) as client:
        found = client.get("/api/v1/search", params={"q": "battery recycling", "kind": "offers"})
        assert found.status_code == 200
        assert found.json()["matches"][0]["title"] == "Lithium-ion battery recycling process"
        assert client.get(f"/api/v1/demands/{listings['secret']}/matches").status_code == 404
        public = client.get(f"/api/v1/demands/{listings['public']}/matches", params={"k": 2})
        assert public.status_code == 200 and len(public.json()["matches"]) == 2
        assert client.get("/api/v1/search", params={"q": "  "}).status_code == 422
        assert client.get("/api/v1/search", params={"q": "电池", "k": 0}).status_code == 422
        page = client.get(f"/demands/{listings['public']}")
        assert page.status_code == 200 and "一种锂离子电池回收方法" in page.text
        assert SECRET not in page.text


def test_api_search_filters_by_segment_and_offer_kind(
    client: TestClient, ids: dict[str, int]
) -> None:
    found = client.get("/api/v1/search", params={"q": "电池", "segment": "testing_inspection"})
    assert found.status_code == 200
    assert [(m["kind"], m["id"]) for m in found.json()["matches"]] == [("offer", ids["testing_en"])]
    patents = client.get("/api/v1/search", params={"q": "电池回收", "offer_kind": "patent"}).json()
    assert {m["kind"] for m in patents["matches"]} == {"offer"}  # an offer kind means offers
    assert patents["facets"]["offer_kind"] == [{"value": "patent", "count": 2}]
    bad = client.get("/api/v1/search", params={"q": "电池", "segment": "bogus"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "segment"


@pytest.mark.parametrize("kind", ["demands", "offers"])
def test_an_id_too_big_for_the_database_is_refused_not_a_server_error(
    client: TestClient, kind: str
) -> None:
    response = client.get(f"/api/v1/{kind}/99999999999999999999/matches")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == f"{kind[:-1]}_id"
