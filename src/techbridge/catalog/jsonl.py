"""Reading and writing the JSON Lines import format (plain or gzipped).

A file is validated whole before anything is written: the first bad lines are reported with
their line number and field, and the caller writes nothing.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from techbridge.errors import Invalid

Record = TypeVar("Record", bound=BaseModel)
MAX_REPORTED = 10  # enough to fix a file, few enough to read
MAX_LINE_BYTES = 2_000_000  # far above a record at the field limits (20,000 CJK characters: ~60 kB)


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]  # GzipFile is a binary IO
    return path.open("rb")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        with _open_binary(path) as handle:
            yield from enumerate(handle, start=1)
    except FileNotFoundError as error:
        raise Invalid(f"no such file: {path}", field="file") from error
    except (gzip.BadGzipFile, EOFError, OSError) as error:
        raise Invalid(f"cannot read {path}: {error}", field="file") from error


def read_records(
    path: Path, model: type[Record], *, progress: Callable[[int], None] | None = None
) -> list[Record]:
    """Parse and validate every line; raise :class:`Invalid` naming the bad lines and fields."""
    records: list[Record] = []
    problems: list[tuple[int, str, str]] = []  # (line, field, message)
    first_line_of: dict[tuple[str, str], int] = {}
    seen_content = False
    for number, raw in _lines(path):
        if progress is not None:
            progress(len(raw))
        if not raw.strip():
            continue
        seen_content = True
        record = _parse_line(number, raw, model, problems)
        if record is None:
            continue
        key = (getattr(record, "source", ""), getattr(record, "id", ""))
        if key in first_line_of:
            problems.append(
                (number, "id", f"duplicate id {key[1]!r} (first on line {first_line_of[key]})")
            )
            continue
        first_line_of[key] = number
        records.append(record)
    if not seen_content:
        raise Invalid(f"{path} is empty: nothing to import", field="file")
    if problems:
        raise Invalid(_describe(problems))
    return records


def _parse_line(
    number: int, raw: bytes, model: type[Record], problems: list[tuple[int, str, str]]
) -> Record | None:
    if len(raw) > MAX_LINE_BYTES:
        problems.append(
            (number, "-", f"line is {len(raw):,} bytes, over the {MAX_LINE_BYTES:,} limit")
        )
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        problems.append((number, "-", f"not UTF-8 (byte {error.start + 1} of the line)"))
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        problems.append((number, "-", f"malformed JSON: {error.msg} at column {error.colno}"))
        return None
    if not isinstance(value, dict):
        problems.append((number, "-", f"expected a JSON object, got {type(value).__name__}"))
        return None
    try:
        # Strict validation of the already-parsed JSON value, with JSON semantics for dates.
        return model.model_validate_json(text)
    except ValidationError as error:
        for detail in error.errors():
            field = ".".join(str(part) for part in detail["loc"]) or "-"
            problems.append((number, field, detail["msg"]))
        return None


def _describe(problems: list[tuple[int, str, str]]) -> str:
    shown = [f"line {line}: {field}: {message}" for line, field, message in problems[:MAX_REPORTED]]
    hidden = len(problems) - len(shown)
    if hidden:
        shown.append(f"… and {hidden} more problem(s)")
    return "file rejected, nothing imported:\n  " + "\n  ".join(shown)


def write_records(handle: IO[str], lines: Iterable[dict[str, Any]]) -> int:
    count = 0
    for line in lines:
        handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count
