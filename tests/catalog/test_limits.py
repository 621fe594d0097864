"""Field limits, repetition and external ids (issue 11, "Spam and size"): the same bounds on
every path — the JSON API, the listing form, imports — with the form kept and a message
next to the field, and the body limit's own refusal as a page."""

from __future__ import annotations

import gzip
import html
import json
import random
import warnings
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

import factories
from factories import bearer
from support import csrf, log_in
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.jsonl import read_records
from techbridge.catalog.schemas import (
    MAX_SUMMARY,
    MAX_TEXT,
    MAX_TITLE,
    DemandRecord,
    OfferRecord,
    OrganisationCreate,
    compression_ratio,
    repetitive,
)
from techbridge.cli import app as cli_app
from techbridge.db import engine_for, unit_of_work
from techbridge.migrate import upgrade

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
STUFFED = "固态电池 " * 400  # one term over and over: what bought rank before
PROSE = (
    "本项目面向新能源汽车动力电池回收，需要一套自动化拆解与检测方案，"
    "能够识别电芯型号、评估剩余容量，并在不同厂商的电池包之间通用。"
    "We also need a test bench for second-life storage modules and a data interface. "
)


def _varied(length: int, seed: int = 0) -> str:
    """Text that does not repeat itself: CJK characters drawn at random."""
    draw = random.Random(seed)
    return "".join(chr(draw.randrange(0x4E00, 0x9FA5)) for _ in range(length))


@pytest.fixture
def demander(database_url: str, client: TestClient) -> int:
    with unit_of_work(engine_for(database_url)) as session:
        acme = catalog.create_organisation(session, SYSTEM, OrganisationCreate(name="宏达电池"))
        user_id = factories.user(session, "owner@acme.example", ["demander"], acme.id).id
    log_in(client, database_url, user_id)
    return user_id


def _post_demand(client: TestClient, **fields: str) -> Any:
    values = {"title": "电池回收", "description": "", "lang": "zh", "status": "published"}
    values |= fields
    return client.post("/demands/new", data={"csrftoken": csrf(client, "/demands/new"), **values})


# --- the form ------------------------------------------------------------------------------


def test_the_form_states_its_limits_in_both_languages(client: TestClient, demander: int) -> None:
    page = client.get("/demands/new").text
    assert f'maxlength="{MAX_TITLE}"' in page
    assert f'maxlength="{MAX_TEXT}"' in page
    assert f'maxlength="{MAX_SUMMARY}"' in page
    assert "最多 20,000 个字符" in page
    english = client.get("/demands/new?lang=en").text
    assert "Up to 20,000 characters" in english and "Up to 500 characters" in english


@pytest.mark.parametrize("length", [MAX_TEXT + 1, 240_000])
def test_an_oversized_description_keeps_the_form_with_the_message(
    client: TestClient, demander: int, length: int
) -> None:
    typed = ("电池回收方案" * (length // 6 + 1))[:length]
    answer = _post_demand(client, title="我的标题", description=typed)
    assert answer.status_code == 422
    page = html.unescape(answer.text)
    assert 'id="description-error"' in answer.text
    assert "最多 20,000 个字符" in page
    assert typed in page and 'value="我的标题"' in page  # what was typed is all still there


def test_a_body_beyond_the_form_limit_gets_a_page(client: TestClient, demander: int) -> None:
    limit = client.app.state.settings.form_body_limit  # type: ignore[attr-defined]
    token = csrf(client, "/demands/new")
    body = {"csrftoken": token, "title": "t", "lang": "zh", "description": "x" * (limit + 1)}
    for lang, words in (("zh", "表单过大"), ("en", "The form is too large")):
        client.cookies.set("lang", lang)
        answer = client.post("/demands/new", data=body, headers={"accept": "text/html"})
        assert answer.status_code == 413
        assert answer.headers["content-type"].startswith("text/html")
        assert words in answer.text and 'id="too-large"' in answer.text
    api = client.post("/api/v1/demands", content=b"{" + b" " * (limit + 1) + b"}")
    assert (api.status_code, api.json()["error"]["code"]) == (413, "too_large")


def test_repetitive_text_is_refused_on_the_form(client: TestClient, demander: int) -> None:
    answer = _post_demand(client, description=STUFFED)
    assert answer.status_code == 422
    assert 'id="description-error"' in answer.text
    assert "重复" in answer.text  # "这段文字在重复自己…"
    english = client.post(
        "/demands/new?lang=en",
        data={"csrftoken": csrf(client), "title": "t", "description": STUFFED, "lang": "zh"},
    )
    assert "This text repeats itself" in english.text


# --- the API -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("title", "长" * (MAX_TITLE + 1), "at most 500 characters"),
        ("description", "长" * (MAX_TEXT + 1), "at most 20000 characters"),
        ("description", STUFFED, "repeats itself"),
        ("public_summary", _varied(MAX_SUMMARY + 1), "at most 2000 characters"),
    ],
)
def test_oversized_or_repetitive_api_input_names_the_field(
    client: TestClient, database_url: str, demander: int, field: str, value: str, words: str
) -> None:
    body = {"title": "电池回收", "lang": "zh", "status": "published", field: value}
    answer = client.post("/api/v1/demands", json=body, headers=bearer(database_url, demander))
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"] == field and words in error["message"]


def test_text_at_the_limits_is_accepted(
    client: TestClient, database_url: str, demander: int
) -> None:
    body = {
        "title": _varied(MAX_TITLE),
        "description": _varied(MAX_TEXT, seed=1),
        "public_summary": _varied(MAX_SUMMARY, seed=2),
        "confidential": True,
        "lang": "zh",
        "status": "published",
    }
    answer = client.post("/api/v1/demands", json=body, headers=bearer(database_url, demander))
    assert answer.status_code == 201, answer.text


# --- imports and ids -----------------------------------------------------------------------


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def _offer(number: int, **fields: Any) -> dict[str, Any]:
    record = {"id": f"x-{number}", "title": f"成果 {number}", "lang": "zh", "source": "t"}
    return record | fields


def test_an_import_refuses_repetition_by_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "o.jsonl", [_offer(1), _offer(2, abstract=STUFFED)])
    with pytest.raises(Exception, match=r"line 2: abstract: this text repeats itself"):
        read_records(path, OfferRecord)


def test_ids_with_spaces_are_normalised_and_round_trip(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    records = [
        _offer(1, id="nasa-LEW-17661-1 with LEW-17765-1", org="NASA Glenn"),
        _offer(2, id="  tab\there\nand\x07bell  "),
    ]
    result = runner.invoke(
        cli_app, ["import", "offers", str(_write(tmp_path / "o.jsonl", records))]
    )
    assert result.exit_code == 0, result.output
    with unit_of_work(engine_for(env["TECHBRIDGE_DATABASE_URL"])) as session:
        ids = sorted(offer.external_id for offer in catalog.list_offers(session).items)
    assert ids == ["nasa-LEW-17661-1-with-LEW-17765-1", "tab-here-and-bell"]
    exported = tmp_path / "out.jsonl"
    result = runner.invoke(cli_app, ["export", "offers", "--out", str(exported)])
    assert result.exit_code == 0, result.output
    again = runner.invoke(cli_app, ["import", "offers", str(exported)])
    assert again.exit_code == 0 and "0 created, 0 updated" in again.stdout


# --- real data -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "model"), [("offers.jsonl.gz", OfferRecord), ("demands.jsonl.gz", DemandRecord)]
)
def test_every_shipped_demo_record_is_accepted(name: str, model: type[Any]) -> None:
    """The demo data (patents, NASA technologies, demands) meets every limit and is not taken
    for repetition; scripts/check_repetition.py checks the full shared data sets."""
    records = read_records(DEMO / name, model)
    assert len(records) > 100
    with gzip.open(DEMO / name, "rt", encoding="utf-8") as lines:
        texts = [json.loads(line).get("title", "") for line in lines]
    assert not any(repetitive(text) for text in texts)


def test_repetition_is_judged_by_compression() -> None:
    assert compression_ratio(STUFFED) < 0.02
    assert compression_ratio(PROSE * 2) > 0.4
    assert not repetitive("电池" * 50)  # too short to judge (the ranking saturates it)
    assert repetitive(STUFFED) and not repetitive(PROSE * 3)


def test_migration_0008_normalises_stored_ids_and_trusts_organisations(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url, "0007")
    now = "2026-01-01 00:00:00"
    with engine_for(empty_database_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organisation (name, normalised_name, created_at, updated_at) "
                "VALUES ('NASA Glenn', 'nasa glenn', :now, :now)"
            ),
            {"now": now},
        )
        for external_id in ("nasa-LEW-17661-1 with LEW-17765-1", "plain-1"):
            connection.execute(
                text(
                    "INSERT INTO offer (source, external_id, title, lang, tags, status, extras, "
                    "kind, abstract, currency, transfer_modes, organisation_id, created_at, "
                    "updated_at) VALUES ('nasa', :id, 't', 'en', '[]', 'published', '{}', "
                    "'patent', '', 'CNY', '[]', 1, :now, :now)"
                ),
                {"id": external_id, "now": now},
            )
    upgrade(empty_database_url)
    with engine_for(empty_database_url).connect() as connection:
        ids = connection.execute(text("SELECT external_id FROM offer ORDER BY id")).scalars()
        assert list(ids) == ["nasa-LEW-17661-1-with-LEW-17765-1", "plain-1"]
        assert connection.execute(text("SELECT trusted FROM organisation")).scalar_one()
        assert connection.execute(text("SELECT review FROM offer")).scalars().all() == [None] * 2
