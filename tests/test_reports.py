"""The one CSV writer behind every export, and a CLI that loads only what a command needs."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest

from server.reports import EXPORT_KINDS, export
from server.reports.table import csv_text
from server.settings import ROOT


def test_every_cell_and_header_is_neutralised_and_lines_end_as_asked() -> None:
    text = csv_text(["=name", "n"], [["=HYPERLINK(\"http://x\")", 1], ["Ana, Okafor", None]])
    assert text.endswith("\r\n") and text.count("\r\n") == 3
    assert list(csv.reader(io.StringIO(text))) == [
        ["'=name", "n"], ["'=HYPERLINK(\"http://x\")", "1"], ["Ana, Okafor", ""]]
    assert csv_text(["a"], [["-1"]], line_end="\n") == '"a"\n"\'-1"\n'


async def test_an_unknown_export_kind_is_a_bad_request_naming_the_kinds() -> None:
    from server.errors import BadRequest

    with pytest.raises(BadRequest, match="attendance, credits"):
        await export("bogus", None, None, session_id=None, fmt="csv")  # type: ignore[arg-type]
    assert EXPORT_KINDS == ("attendance", "credits")


def test_help_loads_neither_the_web_stack_nor_storage() -> None:
    probe = ("import sys\nfrom server.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('aiohttp', 'socketio', 'sqlalchemy', 'reportlab', 'server.app') "
             "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_http_layer_does_not_import_the_cli() -> None:
    probe = ("import sys\nimport server.app\nimport server.http.attendance, server.http.credit_reports\n"
             "print('server.cli' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
