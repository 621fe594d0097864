"""Settings from TECHBRIDGE_* variables (and .env): where the database and indexes live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from pydantic import ValidationError
from typer.testing import CliRunner

from techbridge.cli import app
from techbridge.config import Settings

VARIABLES = ("DATABASE_URL", "DATA_DIR", "INDEX_DIR", "LANGUAGE", "SECRET_KEY")


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No TECHBRIDGE_* variables, and a working directory without a .env file."""
    for name in VARIABLES:
        monkeypatch.delenv(f"TECHBRIDGE_{name}", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def offer_line(external_id: str) -> str:
    record = {"id": external_id, "title": f"供给 {external_id}", "lang": "zh", "source": "s"}
    return json.dumps(record, ensure_ascii=False) + "\n"


def test_defaults_are_under_var_in_the_working_directory(clean_env: Path) -> None:
    settings = Settings()
    assert settings.resolved_database_url == f"sqlite:///{clean_env.resolve()}/var/techbridge.db"
    assert settings.resolved_index_dir == Path("var/index")
    assert settings.language == "zh"


def test_data_dir_moves_the_sqlite_file_and_the_index(
    clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "elsewhere"
    monkeypatch.setenv("TECHBRIDGE_DATA_DIR", str(data))
    settings = Settings()
    assert settings.resolved_database_url == f"sqlite:///{data.resolve()}/techbridge.db"
    assert settings.resolved_index_dir == data / "index"

    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert (data / "techbridge.db").is_file()
    assert not (clean_env / "var").exists()


def test_index_dir_can_be_set_on_its_own(
    clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TECHBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TECHBRIDGE_INDEX_DIR", str(tmp_path / "fast-disk"))
    assert Settings().resolved_index_dir == tmp_path / "fast-disk"


def test_database_url_wins_over_data_dir(
    clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "chosen.db"
    monkeypatch.setenv("TECHBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TECHBRIDGE_DATABASE_URL", f"sqlite:///{chosen}")
    assert Settings().resolved_database_url == f"sqlite:///{chosen}"
    # The index still follows the data directory.
    assert Settings().resolved_index_dir == tmp_path / "data" / "index"

    assert cli("db", "upgrade").exit_code == 0
    assert chosen.is_file()
    assert not (tmp_path / "data" / "techbridge.db").exists()


def test_dotenv_is_read_and_the_environment_wins(
    clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text(
        f"TECHBRIDGE_DATA_DIR={tmp_path / 'from-dotenv'}\nTECHBRIDGE_LANGUAGE=en\n",
        encoding="utf-8",
    )
    assert Settings().data_dir == tmp_path / "from-dotenv"
    assert Settings().language == "en"
    monkeypatch.setenv("TECHBRIDGE_LANGUAGE", "zh")
    assert Settings().language == "zh"


@pytest.mark.parametrize(("name", "value"), [("LANGUAGE", "fr"), ("SECRET_KEY", "short")])
def test_bad_settings_are_refused(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"TECHBRIDGE_{name}", value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert caught.value.errors()[0]["loc"] == (name.lower(),)


def test_two_databases_do_not_see_each_others_data(
    database_url: str, clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    first = tmp_path / "first.jsonl"
    first.write_text(offer_line("a1") + offer_line("a2"), encoding="utf-8")
    second = tmp_path / "second.jsonl"
    second.write_text(offer_line("b1"), encoding="utf-8")

    def run(url: str, *args: str) -> Result:
        monkeypatch.setenv("TECHBRIDGE_DATABASE_URL", url)
        result = cli(*args)
        assert result.exit_code == 0, result.output
        return result

    def offers(url: str) -> int:
        count: int = json.loads(run(url, "stats", "counts", "--json").stdout)["offers"]
        return count

    run(other, "db", "upgrade")
    run(database_url, "import", "offers", str(first))
    assert (offers(database_url), offers(other)) == (2, 0)
    run(other, "import", "offers", str(second))
    assert (offers(database_url), offers(other)) == (2, 1)
    exported = run(other, "export", "offers").stdout
    assert [json.loads(line)["id"] for line in exported.splitlines()] == ["b1"]
