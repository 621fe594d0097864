"""``techbridge match batch``: a TREC run from files of documents and queries, and bad input
refused by line and field without touching the live indexes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from techbridge.cli import app
from techbridge.errors import Invalid

from .conftest import OFFERS

runner = CliRunner()


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def test_match_batch_writes_a_trec_run(env: dict[str, str], tmp_path: Path) -> None:
    corpus = _write(
        tmp_path / "corpus.jsonl",
        [
            {"id": f"d{n}", "title": t, "abstract": a, "tags": ["LEAK"]}
            for n, (t, a, _, _) in enumerate(OFFERS)
        ],
    )
    queries = _write(
        tmp_path / "queries.jsonl",
        [
            {"id": "q1", "title": "电池回收", "description": ""},
            {"id": "q2", "title": "一种锂离子电池回收方法", "doc_id": "d0"},
        ],
    )
    out = tmp_path / "run.tsv"
    result = runner.invoke(
        app,
        [
            "match",
            "batch",
            "--corpus",
            str(corpus),
            "--queries",
            str(queries),
            "--out",
            str(out),
            "--k",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in out.read_text().splitlines()]
    assert [line[0] for line in lines] == ["q1"] * 3 + ["q2"] * 3
    assert all(line[1] == "Q0" and line[5] == "techbridge" for line in lines)
    assert [int(line[3]) for line in lines[:3]] == [1, 2, 3]
    assert "d0" not in [line[2] for line in lines if line[0] == "q2"]
    assert not Path(env["TECHBRIDGE_DATA_DIR"], "techbridge.db").exists()  # nothing live touched


@pytest.mark.parametrize(
    ("corpus_rows", "query_rows", "message"),
    [
        (
            [{"id": "a", "title": "x"}, {"id": "a", "title": "y"}],
            [{"id": "q", "title": "x"}],
            "line 2: id: duplicate",
        ),
        ([{"id": "a"}], [{"id": "q", "title": "x"}], "line 1: title"),
        ([{"id": "a", "title": "x"}], [{"id": "q", "title": "！！"}], "has no words"),
    ],
)
def test_match_batch_bad_input(
    env: dict[str, str], tmp_path: Path, corpus_rows: list[Any], query_rows: list[Any], message: str
) -> None:
    corpus = _write(tmp_path / "corpus.jsonl", corpus_rows)
    queries = _write(tmp_path / "queries.jsonl", query_rows)
    out = tmp_path / "run.tsv"
    result = runner.invoke(
        app,
        ["match", "batch", "--corpus", str(corpus), "--queries", str(queries), "--out", str(out)],
    )
    assert result.exit_code == Invalid.exit_code
    assert message in " ".join(result.stderr.split())
    assert not out.exists()
