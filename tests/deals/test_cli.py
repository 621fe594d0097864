"""``techbridge deals list | show | move``: the operator's view of dockings, with the
error mapping's exit codes for bad input (2), a missing docking (3) and conflicts (5)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from techbridge.cli import app
from techbridge.db import engine_for, unit_of_work

from .conftest import SECRET_TITLE, World, request


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_the_operator_lists_shows_and_moves_dockings(
    env: dict[str, str], database_url: str, world: World
) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        docking_id = request(session, world).id
    code, output = run("deals", "list", "--json")
    assert code == 0, output
    (line,) = output.splitlines()
    assert json.loads(line)["id"] == docking_id and json.loads(line)["state"] == "requested"
    code, output = run("deals", "list", "--state", "declined", "--json")
    assert (code, output) == (0, "")
    assert run("deals", "list", "--state", "lost")[0] == 2

    code, output = run("deals", "show", str(docking_id))
    assert code == 0 and json.loads(output)["version"] == 1
    assert SECRET_TITLE in output  # the operator is an administrator
    assert run("deals", "show", "999")[0] == 3

    # An illegal move, a stale version and a bad reason change nothing.
    assert run("deals", "move", str(docking_id), "meet", "--version", "1")[0] == 2
    assert (
        run("deals", "move", str(docking_id), "close", "--version", "3", "--reason", "price")[0]
        == 5
    )
    code, output = run(
        "deals", "move", str(docking_id), "close", "--version", "1", "--reason", "bored"
    )
    assert code == 2 and "reason" in output
    code, output = run(
        "deals", "move", str(docking_id), "close", "--version", "1", "--reason", "timing"
    )
    assert code == 0 and json.loads(output) == {
        "id": docking_id,
        "state": "closed_lost",
        "version": 2,
    }
    code, output = run(
        "deals", "move", str(docking_id), "assign", "--version", "2", "--manager", "1"
    )
    assert code == 5 and "closed_lost" in output
