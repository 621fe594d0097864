"""``GET /api/v1/stats/headline``: the figures, of public listings only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from support import TestClient

from .conftest import DRAFT_TAG, SECRET, SECRET_TAG, publish


def test_stats_api_returns_the_figures(client: TestClient, session: Session) -> None:
    publish(session, this_month=dt.date.today())
    response = client.get("/api/v1/stats/headline")
    assert response.status_code == 200
    body = response.json()
    assert (body["published_offers"], body["public_demands"], body["organisations"]) == (3, 1, 1)
    assert len(body["listings_by_month"]) == 24
    assert body["listings_by_month"][-1]["offers"] >= 1
    assert body["top_tags"][0] == {"value": "H01M", "count": 2}
    text = response.text
    for hidden in (SECRET, SECRET_TAG, DRAFT_TAG, "徐汇区", "保密需求二"):
        assert hidden not in text
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/stats/headline" in schema["paths"]
