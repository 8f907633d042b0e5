"""The ``rounds`` command: each subcommand, one-line errors, and a token the running server accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from server.settings import ROOT
from tests.processes import clean_env, run_rounds, serving

DEMO = ROOT / "config" / "demo-conference.toml"


def rounds(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = clean_env(ROUNDS_DATA_DIR=str(data_dir), **env)
    return subprocess.run([sys.executable, "-m", "server.cli", *args], check=False, capture_output=True, text=True,
                          env=environ, cwd=ROOT, timeout=60)


def test_import_then_list_people_by_assignment(tmp_path: Path) -> None:
    done = rounds(tmp_path, "import", str(DEMO))
    assert done.returncode == 0, done.stderr
    assert "sessions: 10" in done.stdout and "accounts created: 11" in done.stdout
    faculty = rounds(tmp_path, "users", "list", "--role", "faculty", "--session", "hypertension-panel")
    assert faculty.stdout.split() == ["ana.okafor@demo.rounds", "raj.patel@demo.rounds"]
    staff = rounds(tmp_path, "users", "list", "--booth", "meridian")
    assert staff.stdout.split() == ["pat.lee@demo.rounds"]
    again = rounds(tmp_path, "import", str(DEMO))
    assert "accounts created: 0" in again.stdout


def test_users_add_and_token(tmp_path: Path) -> None:
    added = rounds(tmp_path, "users", "add", "Nurse@Example.org", "--role", "attendee", "--name", "N. Urse",
                   "--password", "long enough password")
    assert added.returncode == 0 and "created nurse@example.org" in added.stdout
    token = rounds(tmp_path, "token", "nurse@example.org", "--ttl", "60")
    assert token.returncode == 0 and token.stdout.count("\n") == 1 and len(token.stdout.strip()) > 40


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("users", "add", "not-an-email", "--role", "attendee"), "enter a valid email address"),
        (("users", "add", "a@example.org", "--role", "attendee", "--password", "short"), "at least 10"),
        (("token", "ghost@example.org"), "no account 'ghost@example.org'"),
        (("import", "/no/such/file.toml"), "cannot read"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(tmp_path: Path, args: tuple[str, ...], reason: str) -> None:
    done = rounds(tmp_path, *args)
    assert done.returncode != 0
    assert reason in done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr


def test_invalid_conference_file_names_field_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(DEMO.read_text().replace('format = "workshop"', 'format = "hackathon"', 1))
    line = 1 + bad.read_text().splitlines().index('format = "hackathon"')
    done = rounds(tmp_path, "import", str(bad))
    assert done.returncode == 2
    assert f"line {line}, sessions[4].format: unknown format 'hackathon'" in done.stderr


def test_every_command_has_help(tmp_path: Path) -> None:
    for args in (("--help",), ("serve", "--help"), ("users", "add", "--help"), ("users", "list", "--help"),
                 ("token", "--help"), ("import", "--help")):
        done = rounds(tmp_path, *args)
        assert done.returncode == 0 and "usage: rounds" in done.stdout


async def test_token_from_the_command_works_against_a_running_server(tmp_path: Path) -> None:
    env = clean_env(ROUNDS_DATA_DIR=str(tmp_path), ROUNDS_ICE_ADDRESSES="127.0.0.1")
    async with serving(env) as server:
        code, token, err = await run_rounds(env, "token", "organizer@demo.rounds")
        assert code == 0, err
        headers = {"Authorization": f"Bearer {token.strip()}"}
        async with aiohttp.ClientSession() as http, http.get(server.url + "api/me", headers=headers) as r:
            assert r.status == 200
            assert (await r.json())["email"] == "organizer@demo.rounds"
