"""The access table in docs/access.md is the rule: every cell is checked against the code."""

from __future__ import annotations

import pytest

from server.accounts import User
from server.authz import Action, allowed, require
from server.catalogue import Role
from server.errors import NotAllowed, NotAuthenticated
from server.settings import ROOT


def _table() -> dict[tuple[str, str], str]:
    lines = (ROOT / "docs" / "access.md").read_text().splitlines()
    rows = [line for line in lines if line.startswith("| ")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    cells = {}
    for row in rows[2:]:
        values = [c.strip() for c in row.strip("|").split("|")]
        for role, value in zip(header[1:], values[1:], strict=True):
            cells[(values[0], role)] = value
    return cells


TABLE = _table()


def _user(role: Role, assigned: str | None) -> User:
    own = frozenset({assigned}) if assigned else frozenset()
    return User(1, "x@example.org", "X", role, faculty_of=own, moderates=own, staffs=own)


def test_every_action_and_role_is_in_the_docs_table() -> None:
    assert {(a.value, r.value) for a in Action for r in Role} == set(TABLE)


@pytest.mark.parametrize(("action", "role"), [(a, r) for a in Action for r in Role],
                         ids=lambda v: v.name if hasattr(v, "name") else str(v))
def test_access_matches_docs_cell(action: Action, role: Role) -> None:
    cell = TABLE[(action.value, role.value)]
    target = "target-1"
    on_own = allowed(_user(role, target), action, target)
    on_other = allowed(_user(role, "elsewhere"), action, target)
    expected = {"yes": (True, True), "own": (True, False), "no": (False, False)}[cell]
    assert (on_own, on_other) == expected


def test_require_refuses_anonymous_with_401_and_others_with_403() -> None:
    with pytest.raises(NotAuthenticated):
        require(None, Action.WATCH)
    with pytest.raises(NotAllowed, match="exhibitor may not ask"):
        require(_user(Role.EXHIBITOR, None), Action.ASK, "s1")


def test_assigned_action_without_target_is_refused() -> None:
    assert not allowed(_user(Role.FACULTY, "s1"), Action.PUBLISH, None)
