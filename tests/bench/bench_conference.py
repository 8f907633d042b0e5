"""The demo conference as the benchmarks use it: no demo accounts, no attention checks (their
prompts are not what is measured)."""

from __future__ import annotations

import re
from pathlib import Path

from server.settings import ROOT

__all__ = ["conference_without_checks"]


def conference_without_checks(directory: Path) -> Path:
    """A copy of the demo conference in ``directory`` without demo accounts or attention checks."""
    text = (ROOT / "config" / "demo-conference.toml").read_text(encoding="utf-8")
    text = text.replace('logo = "logos/', f'logo = "{ROOT}/config/logos/')  # copied elsewhere
    text = re.split(r"\n# -+ demo accounts", text)[0] + "\n"
    text = re.sub(r"\nattention_checks = \{[^}]*\}", "", text)
    path = directory / "conference.toml"
    path.write_text(text, encoding="utf-8")
    return path
