"""JSON Lines import and export through the real ``techbridge`` command, on both engines.

A bad file must exit non-zero, name the line and the field, and change nothing.
"""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

import factories
from techbridge.audit import Actor
from techbridge.audit import trail as audit_trail
from techbridge.authz import SYSTEM
from techbridge.catalog import service
from techbridge.catalog.schemas import MAX_TEXT
from techbridge.cli import app
from techbridge.db import engine_for, unit_of_work
from techbridge.errors import Conflict, Invalid

OFFERS: list[dict[str, Any]] = [
    {
        "id": "CN1001A",
        "title": "一种石墨烯导热膜的制备方法",
        "abstract": "本发明公开了一种石墨烯导热膜的制备方法。",
        "lang": "zh",
        "date": "2023-05-04",
        "org": "复旦大学",
        "tags": ["新材料", "石墨烯"],
        "source": "test-patents",
        "kind": "patent",
        "ipc": ["C01B32/184", "H01L23/373"],  # not in the format: kept as an extra
    },
    {
        "id": "CN1002B",
        "title": "Laser welding of aluminium alloys",
        "abstract": "A method for welding thin aluminium sheets.",
        "lang": "en",
        "date": "2023-06-01",
        "org": "复旦大学",
        "tags": ["laser"],
        "source": "test-patents",
        "trl": 5,
        "price_fen": 50_000_000,
        "transfer_modes": ["licence"],
    },
    {
        "id": "nasa-LEW-1",
        "title": "Solar sail deployment",
        "abstract": "Deployable booms.",
        "lang": "en",
        "date": "2022-01-01",
        "org": "NASA Glenn",
        "tags": [],
        "source": "test-nasa",
        "status": "draft",
        "meta": {"centre": "GRC", "year": 2022, "ratio": 0.25, "flags": [True, None]},
    },
]
DEMANDS: list[dict[str, Any]] = [
    {
        "id": "D1",
        "title": "寻求低成本储能方案",
        "description": "面向园区的储能系统。",
        "lang": "zh",
        "date": "2024-01-01",
        "org": "上海电力",
        "org_credit_code": "91110000100017643K",
        "tags": ["储能"],
        "source": "test-demands",
        "budget_min_fen": 100_000,
        "budget_max_fen": 500_000,
    },
    {
        "id": "D2",
        "title": "保密：新型电池隔膜",
        "description": "只对指定技术经理人可见。",
        "lang": "zh",
        "date": "2024-02-01",
        "org": "上海电力",
        "tags": ["电池"],
        "source": "test-demands",
        "confidential": True,
        "public_summary": "寻求电池材料技术",
    },
    {
        "id": "D3",
        "title": "Hydrogen leak sensor",
        "description": "",
        "lang": "en",
        "date": "2024-03-01",
        "org": "复旦大学",
        "tags": [],
        "source": "test-demands",
        "status": "draft",
    },
]

runner = CliRunner()


def cli(*args: str | Path) -> Result:
    return runner.invoke(app, [str(arg) for arg in args])


def flat(text: str) -> str:
    """Output with line wrapping undone (the console wraps long messages)."""
    return " ".join(text.split())


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    """Each item is a record (dict, written as JSON), or a raw line as str or bytes."""
    raw = b""
    for line in lines:
        if isinstance(line, bytes):
            raw += line + b"\n"
        elif isinstance(line, str):
            raw += line.encode("utf-8") + b"\n"
        else:
            raw += json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n"
    if path.suffix == ".gz":
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


def counts() -> dict[str, int]:
    result = cli("stats", "counts", "--json")
    assert result.exit_code == 0, result.output
    value: dict[str, int] = json.loads(result.stdout)
    return value


def imported(result: Result) -> str:
    assert result.exit_code == 0, result.output
    (summary,) = [line for line in result.stdout.splitlines() if " created, " in line]
    return summary


def snapshot(database_url: str) -> dict[str, Any]:
    """Everything an import could touch, with the update stamps."""
    with unit_of_work(engine_for(database_url)) as session:
        offers = service.list_offers(session, per_page=200).items
        demands = service.list_demands(session, per_page=200).items
        organisations = service.list_organisations(session, per_page=200).items
        return {
            "offers": {
                (o.source, o.external_id): (o.updated_at, o.title, o.extras, o.tags) for o in offers
            },
            "demands": {
                (d.source, d.external_id): (d.updated_at, d.title, d.confidential) for d in demands
            },
            "organisations": {o.name: (o.updated_at, o.credit_code) for o in organisations},
            "audit": len(audit_trail(session)),
        }


# --- good files ---------------------------------------------------------------------------


def test_import_offers_and_demands(env: dict[str, str], tmp_path: Path) -> None:
    offers = write_jsonl(tmp_path / "offers.jsonl", OFFERS)
    demands = write_jsonl(tmp_path / "demands.jsonl", DEMANDS)

    assert imported(cli("import", "offers", offers)) == (
        "offers: 3 created, 0 updated, 0 unchanged; 2 organisations created"
    )
    # 复旦大学 exists already: organisations named in ``org`` are created once.
    assert imported(cli("import", "demands", demands)) == (
        "demands: 3 created, 0 updated, 0 unchanged; 1 organisations created"
    )

    result = cli("stats", "counts", "--json")
    assert result.exit_code == 0
    assert result.stdout == '{"organisations":3,"offers":3,"demands":3}\n'

    with unit_of_work(engine_for(env["TECHBRIDGE_DATABASE_URL"])) as session:
        (patent,) = service.list_offers(session, service.ListingFilter(kind="patent")).items
        assert patent.external_id == "CN1001A"
        assert patent.organisation is not None
        assert patent.organisation.name == "复旦大学"
        assert patent.listed_on.isoformat() == "2023-05-04"
        assert patent.tags == ["新材料", "石墨烯"]
        assert patent.extras == {"ipc": ["C01B32/184", "H01L23/373"]}
        english = service.list_offers(session, service.ListingFilter(lang="en")).items
        assert [(o.external_id, o.price_fen, o.status) for o in english] == [
            ("CN1002B", 50_000_000, "published"),  # newest first
            ("nasa-LEW-1", None, "draft"),
        ]
        power = service.list_organisations(session, name_contains="上海电力").items[0]
        assert power.credit_code == "91110000100017643K"
        assert power.kind is None
        # Imports are audited once per file, with the actor of the command line.
        (entry,) = audit_trail(session, entity_type="offer")
        assert (entry.actor, entry.action, entry.changes) == (
            Actor.OPERATOR,
            "import",
            {"created": 3, "updated": 0},
        )


def test_gzipped_file(env: dict[str, str], tmp_path: Path) -> None:
    offers = write_jsonl(tmp_path / "offers.jsonl.gz", OFFERS)
    assert imported(cli("import", "offers", offers)).startswith("offers: 3 created, 0 updated")
    assert counts()["offers"] == 3


def test_reimport_is_a_no_op(env: dict[str, str], tmp_path: Path) -> None:
    url = env["TECHBRIDGE_DATABASE_URL"]
    offers = write_jsonl(tmp_path / "offers.jsonl", OFFERS)
    demands = write_jsonl(tmp_path / "demands.jsonl.gz", DEMANDS)
    imported(cli("import", "offers", offers))
    imported(cli("import", "demands", demands))
    before = snapshot(url)

    assert imported(cli("import", "offers", offers)) == (
        "offers: 0 created, 0 updated, 3 unchanged; 0 organisations created"
    )
    assert imported(cli("import", "demands", demands)) == (
        "demands: 0 created, 0 updated, 3 unchanged; 0 organisations created"
    )
    assert snapshot(url) == before  # same rows, same updated_at, no new audit entries


def test_changed_line_updates_just_that_record(env: dict[str, str], tmp_path: Path) -> None:
    url = env["TECHBRIDGE_DATABASE_URL"]
    imported(cli("import", "offers", write_jsonl(tmp_path / "v1.jsonl", OFFERS)))
    before = snapshot(url)

    changed = copy.deepcopy(OFFERS)
    changed[1]["title"] = "Laser welding of aluminium and magnesium alloys"
    changed[1]["tags"] = ["laser", "magnesium"]
    result = cli("import", "offers", write_jsonl(tmp_path / "v2.jsonl", changed))

    assert imported(result) == "offers: 0 created, 1 updated, 2 unchanged; 0 organisations created"
    after = snapshot(url)
    key = ("test-patents", "CN1002B")
    assert after["offers"][key][1:] == (changed[1]["title"], {}, ["laser", "magnesium"])
    assert after["offers"][key][0] > before["offers"][key][0]
    others = {k: v for k, v in after["offers"].items() if k != key}
    assert others == {k: v for k, v in before["offers"].items() if k != key}
    assert after["audit"] == before["audit"] + 1


def test_unknown_fields_are_kept_and_exported(env: dict[str, str], tmp_path: Path) -> None:
    imported(cli("import", "offers", write_jsonl(tmp_path / "offers.jsonl", OFFERS)))
    out = tmp_path / "export.jsonl"
    result = cli("export", "offers", "--all", "--out", out)
    assert result.exit_code == 0, result.output
    assert "3 offers exported" in result.stderr

    lines = {line["id"]: line for line in map(json.loads, out.read_text("utf-8").splitlines())}
    assert lines["CN1001A"]["ipc"] == ["C01B32/184", "H01L23/373"]
    assert lines["nasa-LEW-1"]["meta"] == OFFERS[2]["meta"]
    assert "ipc" not in lines["CN1002B"]
    for record in OFFERS:
        exported = lines[record["id"]]
        assert {name: exported[name] for name in record} == record


def test_export_then_reimport_changes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    url = env["TECHBRIDGE_DATABASE_URL"]
    imported(cli("import", "offers", write_jsonl(tmp_path / "offers.jsonl", OFFERS)))
    imported(cli("import", "demands", write_jsonl(tmp_path / "demands.jsonl", DEMANDS)))
    with unit_of_work(engine_for(url)) as session:
        # Listings made on the platform round-trip too, with their organisation's credit code.
        organisation = factories.organisation(session, "腾讯", credit_code="914403001922038216")
        made = factories.offer(
            session, "平台发布", status="draft", organisation_id=organisation.id, trl=3
        )
        service.withdraw_offer(session, SYSTEM, made.id)
    before = snapshot(url)

    for kind, total in (("offers", 4), ("demands", 3)):
        out = tmp_path / f"all-{kind}.jsonl"
        assert cli("export", kind, "--all", "-o", out).exit_code == 0
        assert len(out.read_text("utf-8").splitlines()) == total
        assert imported(cli("import", kind, out)) == (
            f"{kind}: 0 created, 0 updated, {total} unchanged; 0 organisations created"
        )
        again = tmp_path / f"again-{kind}.jsonl"
        assert cli("export", kind, "--all", "-o", again).exit_code == 0
        assert again.read_bytes() == out.read_bytes()  # the export is deterministic
    assert snapshot(url) == before


def test_export_all_carries_moderation_into_another_database(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listing waiting for review (or refused) stays out of sight when an ``--all`` export
    is loaded elsewhere; a record without ``review`` leaves a stored review as it is."""
    imported(cli("import", "offers", write_jsonl(tmp_path / "offers.jsonl", OFFERS)))
    with unit_of_work(engine_for(env["TECHBRIDGE_DATABASE_URL"])) as session:
        by_id = {o.external_id: o for o in service.list_offers(session, per_page=10).items}
        by_id["CN1001A"].review = "pending"
        by_id["CN1002B"].review, by_id["CN1002B"].review_reason = "rejected", "广告内容"
    out = tmp_path / "all.jsonl"
    assert cli("export", "offers", "--all", "-o", out).exit_code == 0
    lines = {line["id"]: line for line in map(json.loads, out.read_text("utf-8").splitlines())}
    assert lines["CN1001A"]["review"] == "pending" and "review_reason" not in lines["CN1001A"]
    assert (lines["CN1002B"]["review"], lines["CN1002B"]["review_reason"]) == (
        "rejected",
        "广告内容",
    )
    assert "review" not in lines["nasa-LEW-1"]  # nothing to review: the line is as before

    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("TECHBRIDGE_DATABASE_URL", elsewhere)
    assert cli("db", "upgrade").exit_code == 0
    imported(cli("import", "offers", out))
    # A plain file (no review field) over it changes no review.
    imported(cli("import", "offers", write_jsonl(tmp_path / "plain.jsonl", OFFERS)))
    with unit_of_work(engine_for(elsewhere)) as session:
        reviews = {
            o.external_id: (o.review, o.review_reason)
            for o in service.list_offers(session, per_page=10).items
        }
    assert reviews == {
        "CN1001A": ("pending", None),
        "CN1002B": ("rejected", "广告内容"),
        "nasa-LEW-1": (None, None),
    }
    # Of the three only CN1001A was ever public (nasa-LEW-1 is a draft): now none is.
    assert cli("export", "offers").stdout == ""


def test_export_without_all_is_public_only(env: dict[str, str], tmp_path: Path) -> None:
    imported(cli("import", "offers", write_jsonl(tmp_path / "offers.jsonl", OFFERS)))
    imported(cli("import", "demands", write_jsonl(tmp_path / "demands.jsonl", DEMANDS)))
    with unit_of_work(engine_for(env["TECHBRIDGE_DATABASE_URL"])) as session:
        welding = service.list_offers(session, service.ListingFilter(title_contains="welding"))
        service.withdraw_offer(session, SYSTEM, welding.items[0].id)

    offers = cli("export", "offers")
    demands = cli("export", "demands")
    assert offers.exit_code == demands.exit_code == 0
    assert [json.loads(line)["id"] for line in offers.stdout.splitlines()] == ["CN1001A"]
    assert [json.loads(line)["id"] for line in demands.stdout.splitlines()] == ["D1"]
    assert "保密" not in demands.stdout  # the confidential demand's text never leaves
    assert "寻求电池材料技术" not in demands.stdout  # a public export lists public demands
    assert "1 demands exported" in demands.stderr


# --- bad files ----------------------------------------------------------------------------


def _new(listing: str, number: int, /, **fields: Any) -> dict[str, Any]:
    """A valid record that is not in the database yet, naming a new organisation."""
    record: dict[str, Any] = {
        "id": f"new-{number}",
        "title": f"新记录 {number}",
        "lang": "zh",
        "date": "2024-04-01",
        "org": "新机构",
        "tags": ["新"],
        "source": "test-bad",
    }
    record["abstract" if listing == "offers" else "description"] = "正文"
    return record | fields


def _without(record: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != name}


BAD_LINES = [
    # (kind, third line of the file, what the message must say)
    pytest.param("offers", '{"id": "new-3", "title": ', ["line 3:", "malformed JSON"], id="json"),
    pytest.param("offers", _without(_new("offers", 3), "title"), ["line 3: title:"], id="no-title"),
    pytest.param("offers", _without(_new("offers", 3), "id"), ["line 3: id:"], id="no-id"),
    pytest.param("demands", _without(_new("demands", 3), "lang"), ["line 3: lang:"], id="no-lang"),
    pytest.param(
        "offers",
        _new("offers", 3, tags="新材料"),
        ["line 3: tags:", "valid array"],
        id="tags-string",
    ),
    pytest.param("offers", _new("offers", 3, trl="3"), ["line 3: trl:", "integer"], id="trl-str"),
    pytest.param(
        "demands",
        _new("demands", 3, confidential="yes"),
        ["line 3: confidential:", "boolean"],
        id="confidential-yes",
    ),
    pytest.param(
        "offers",
        _new("offers", 3, abstract="长" * (MAX_TEXT + 1)),
        ["line 3: abstract:", f"at most {MAX_TEXT} characters"],
        id="long-abstract",
    ),
    pytest.param(
        "offers", _new("offers", 3, lang="fr"), ["line 3: lang:", "'zh' or 'en'"], id="fr"
    ),
    pytest.param("offers", _new("offers", 3, kind="gadget"), ["line 3: kind:"], id="kind-gadget"),
    pytest.param(
        "demands",
        _new("demands", 3, org_credit_code="91350100M000100Y44"),
        ["line 3: org_credit_code:", "统一社会信用代码", "should be '3'"],
        id="credit-code",
    ),
    pytest.param("offers", _new("offers", 3, date="2020-13-45"), ["line 3: date:"], id="date"),
    pytest.param(
        "demands",
        _new("demands", 1),
        ["line 3: id:", "duplicate id 'new-1'", "first on line 1"],
        id="duplicate-id",
    ),
    pytest.param(
        "offers",
        b'{"id": "new-3", "title": "caf\xe9", "lang": "en", "source": "test-bad"}',
        ["line 3:", "not UTF-8"],
        id="latin-1",
    ),
    pytest.param("offers", [_new("offers", 3)], ["line 3:", "JSON object, got list"], id="array"),
    pytest.param(
        "offers",
        _new("offers", 3, title="前\u0000后"),
        ["line 3: title:", "NUL"],
        id="nul-title",
    ),
    pytest.param(
        "offers",
        _new("offers", 3, note="a\u0000b"),
        ["line 3:", "unknown field 'note'", "NUL"],
        id="nul-extra",
    ),
    pytest.param(
        "offers",
        json.dumps(_new("offers", 3, score=float("nan")), ensure_ascii=False),
        ["line 3:", "unknown field 'score'", "NaN or infinity"],
        id="nan-extra",
    ),
    pytest.param(
        "offers",
        json.dumps(_new("offers", 3), ensure_ascii=False)[:-1] + ', "big": {"x": [1e400]}}',
        ["line 3:", "unknown field 'big'", "NaN or infinity"],
        id="infinite-extra",
    ),
    pytest.param(
        "offers",
        _new("offers", 3, price_fen=-1),
        ["line 3: price_fen:", "greater than or equal to 0"],
        id="negative-price",
    ),
    pytest.param(
        "offers",
        _new("offers", 3, price_fen=12.5),
        ["line 3: price_fen:", "integer"],
        id="float-price",
    ),
    pytest.param(
        "demands",
        _new("demands", 3, budget_min_fen=900, budget_max_fen=100),
        ["line 3:", "budget_min_fen must not exceed budget_max_fen"],
        id="budget-reversed",
    ),
]


@pytest.mark.parametrize(("kind", "bad_line", "expected"), BAD_LINES)
def test_bad_line_rejects_the_whole_file(
    env: dict[str, str], tmp_path: Path, kind: str, bad_line: Any, expected: list[str]
) -> None:
    good = OFFERS if kind == "offers" else DEMANDS
    imported(cli("import", kind, write_jsonl(tmp_path / "good.jsonl", good)))
    before = counts()

    path = write_jsonl(tmp_path / "bad.jsonl", [_new(kind, 1), _new(kind, 2), bad_line])
    result = cli("import", kind, path)

    assert result.exit_code == Invalid.exit_code, result.output
    message = flat(result.stderr)
    assert "file rejected, nothing imported" in message
    for fragment in expected:
        assert fragment in message
    assert "line 1:" not in message.replace("first on line 1", "")  # good lines are not blamed
    assert counts() == before


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.jsonl", b"", "is empty: nothing to import"),
        ("blank.jsonl", b"  \n\t\n\n", "is empty: nothing to import"),
        ("blank.jsonl.gz", gzip.compress(b"\n\n"), "is empty: nothing to import"),
        ("plain.jsonl.gz", b'{"id": "x"}\n', "cannot read"),
        ("cut.jsonl.gz", gzip.compress(b'{"id": "x"}\n' * 50)[:30], "cannot read"),
        ("missing.jsonl", None, "no such file"),
    ],
)
def test_unreadable_files_are_rejected(
    env: dict[str, str], tmp_path: Path, name: str, content: bytes | None, expected: str
) -> None:
    imported(cli("import", "offers", write_jsonl(tmp_path / "good.jsonl", OFFERS)))
    before = counts()
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)

    result = cli("import", "offers", path)

    assert result.exit_code == Invalid.exit_code, result.output
    assert "error: file:" in flat(result.stderr)
    assert expected in flat(result.stderr)
    assert counts() == before


def test_problems_are_listed_and_capped(env: dict[str, str], tmp_path: Path) -> None:
    lines = [_new("offers", number, lang="fr") for number in range(1, 13)]
    result = cli("import", "offers", write_jsonl(tmp_path / "bad.jsonl", lines))
    assert result.exit_code == Invalid.exit_code
    message = flat(result.stderr)
    assert all(f"line {number}: lang:" in message for number in range(1, 11))
    assert "line 11:" not in message
    assert "… and 2 more problem(s)" in message
    assert counts() == {"organisations": 0, "offers": 0, "demands": 0}


@pytest.mark.parametrize("text", ["[/x]", "[bold]x"])
def test_messages_quote_the_file_literally(env: dict[str, str], tmp_path: Path, text: str) -> None:
    """Text from the file that looks like console markup is shown as is, not interpreted."""
    lines = [_new("offers", 1, id=text), _new("offers", 2, id=text)]
    result = cli("import", "offers", write_jsonl(tmp_path / "bad.jsonl", lines))
    assert result.exit_code == Invalid.exit_code, result.output
    assert f"line 2: id: duplicate id '{text}' (first on line 1)" in flat(result.stderr)


def test_conflict_while_writing_rolls_back_everything(env: dict[str, str], tmp_path: Path) -> None:
    """A problem found only when writing (two organisations, one credit code) changes nothing."""
    imported(cli("import", "offers", write_jsonl(tmp_path / "good.jsonl", OFFERS)))
    before = counts()
    code = "914403001922038216"
    lines = [
        _new("offers", 1, org="甲公司", org_credit_code=code),
        _new("offers", 2),
        _new("offers", 3, org="乙公司", org_credit_code=code),
    ]
    result = cli("import", "offers", write_jsonl(tmp_path / "bad.jsonl", lines))
    assert result.exit_code == Conflict.exit_code, result.output
    assert "credit_code" in flat(result.stderr)
    assert counts() == before


def test_unmigrated_database_says_to_run_db_upgrade(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TECHBRIDGE_DATABASE_URL", empty_database_url)
    path = write_jsonl(tmp_path / "offers.jsonl", OFFERS)

    for args in (("import", "offers", path), ("stats", "counts"), ("export", "offers")):
        result = cli(*args)
        assert result.exit_code == Invalid.exit_code, result.output
        assert "not migrated" in flat(result.stderr)
        assert "run `techbridge db upgrade`" in flat(result.stderr)

    assert cli("db", "upgrade").exit_code == 0
    assert imported(cli("import", "offers", path)).startswith("offers: 3 created")


def test_credit_code_for_a_known_organisation(env: dict[str, str], tmp_path: Path) -> None:
    """A code fills in an organisation that had none; a different code is refused, not dropped."""
    imported(
        cli(
            "import", "offers", write_jsonl(tmp_path / "a.jsonl", [_new("offers", 1, org="丙公司")])
        )
    )
    code = "914403001922038216"
    lines = [_new("offers", 2, org="丙公司", org_credit_code=code)]
    imported(cli("import", "offers", write_jsonl(tmp_path / "b.jsonl", lines)))
    assert snapshot(env["TECHBRIDGE_DATABASE_URL"])["organisations"]["丙公司"][1] == code
    before = snapshot(env["TECHBRIDGE_DATABASE_URL"])
    other = "91350100M000100Y43"
    lines = [_new("offers", 3, org="丙公司", org_credit_code=other)]
    result = cli("import", "offers", write_jsonl(tmp_path / "c.jsonl", lines))
    assert result.exit_code == Invalid.exit_code, result.output
    assert "org_credit_code" in flat(result.stderr) and other in flat(result.stderr)
    assert snapshot(env["TECHBRIDGE_DATABASE_URL"]) == before
