"""Polls in a session: prepared (conference file) or ad hoc, answered once, results released.

Plain rules, values in and values out. Who may do what (docs/access.md's actions): the session's
moderators, its faculty and organizers run polls (open, close, release); anyone who may ask in
the session's Q&A answers. Results are counts only, for the audience and the presenter alike;
who answered what is for organizers' export only.

A poll marked ``attention`` is the session's attention check in poll form: when it opens, every
attendee watching the accredited session gets an attention prompt (their clock stops, as for any
attention check) that answering the poll answers; one still open when the poll closes is closed
then, so not answering costs the time the poll was open. Each answer is kept with the seconds it
took from the poll's opening, and the export says so (``attention_check``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import BadRequest, Conflict

__all__ = [
    "MAX_OPTIONS", "MAX_OPTION_TEXT", "MAX_QUESTION", "Answer", "Poll", "PollStatus", "PreparedPoll",
    "attention_prompt_id", "attention_prompt_prefix", "check_answer", "draft", "is_poll_prompt", "prepared_polls", "results", "tally",
]  # fmt: skip

MAX_QUESTION = 300
MAX_OPTION_TEXT = 120
MAX_OPTIONS = 8


# attention_prompt_id's shape; a random prompt id (secrets.token_urlsafe) could start with "poll".
_POLL_PROMPT = re.compile(r"poll[0-9]+-[0-9]+")


def attention_prompt_prefix(poll_id: int) -> str:
    """What the ids of one attention poll's prompts start with."""
    return f"poll{poll_id}-"


def attention_prompt_id(poll_id: int, user_id: int) -> str:
    """The id of the attention prompt an attention poll gives one attendee (one per poll and person)."""
    return attention_prompt_prefix(poll_id) + str(user_id)


def is_poll_prompt(prompt_id: str) -> bool:
    """Whether an attention prompt is answered by answering a poll (not by the watch page's dialog)."""
    return _POLL_PROMPT.fullmatch(prompt_id) is not None


class PollStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class PreparedPoll:
    """A poll written in the conference file, ready to open."""

    session: str
    question: str
    options: tuple[str, ...]
    attention: bool = False

    def json(self) -> dict[str, Any]:
        return {"question": self.question, "options": list(self.options), "attention": self.attention}


@dataclass(frozen=True, slots=True)
class Poll:
    id: int
    session: str
    question: str
    options: tuple[str, ...]
    status: PollStatus
    released: bool
    attention: bool
    opened_at: datetime
    opened_by: int

    def json(self) -> dict[str, Any]:
        """As anyone in the session sees it (no results: those go with ``results``)."""
        return {"id": self.id, "session": self.session, "question": self.question, "options": list(self.options),
                "status": self.status.value, "released": self.released, "attention": self.attention,
                "opened_at": self.opened_at.isoformat()}


@dataclass(frozen=True, slots=True)
class Answer:
    poll_id: int
    user_id: int
    option: int
    answered_at: datetime


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not " ".join(value.split()):
        raise BadRequest(f"the {field} needs text", field=field)
    text = " ".join(value.split())
    if len(text) > limit:
        raise BadRequest(f"the {field} has at most {limit} characters", field=field)
    return text


def draft(question: object, options: object) -> tuple[str, tuple[str, ...]]:
    """A poll's question and options, checked: 2 to 8 distinct options."""
    text = _text(question, "question", MAX_QUESTION)
    if not isinstance(options, list | tuple):
        raise BadRequest("a poll needs a list of options", field="options")
    choices = tuple(_text(o, "options", MAX_OPTION_TEXT) for o in options)
    if not 2 <= len(choices) <= MAX_OPTIONS:
        raise BadRequest(f"a poll has 2 to {MAX_OPTIONS} options", field="options")
    if len({c.casefold() for c in choices}) != len(choices):
        raise BadRequest("two options read the same", field="options")
    return text, choices


def check_answer(poll: Poll, option: object, earlier: Answer | None) -> int:
    """The chosen option's index, if this answer may be recorded; raises with the reason."""
    if poll.status is not PollStatus.OPEN:
        raise Conflict("this poll is closed", field="poll")
    if earlier is not None:
        raise Conflict("you have already answered this poll; each person answers once", field="poll")
    if isinstance(option, bool) or not isinstance(option, int) or not 0 <= option < len(poll.options):
        raise BadRequest(f"option must be a number from 0 to {len(poll.options) - 1}", field="option")
    return option


def tally(poll: Poll, answers: Iterable[int]) -> list[int]:
    """Count per option, in the poll's order."""
    counts = [0] * len(poll.options)
    for option in answers:
        if 0 <= option < len(counts):
            counts[option] += 1
    return counts


def results(poll: Poll, counts: list[int]) -> dict[str, Any]:
    """Anonymous results: counts and whole percentages per option."""
    total = sum(counts)
    return {"poll": poll.id, "session": poll.session, "total": total, "counts": counts,
            "percent": [round(100 * c / total) if total else 0 for c in counts], "released": poll.released,
            "status": poll.status.value}


def prepared_polls(data: Mapping[str, Any]) -> list[PreparedPoll]:
    """The ``[[polls]]`` tables of a parsed conference file (``session``, ``question``,
    ``options``, optional ``attention``); a malformed one is refused with its index."""
    raw = data.get("polls", [])
    if not isinstance(raw, list):
        raise BadRequest("polls must be an array of tables ([[polls]])", field="polls")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("session"), str):
            raise BadRequest(f"polls[{i}] needs a session id", field=f"polls[{i}].session")
        try:
            question, options = draft(item.get("question"), item.get("options"))
        except BadRequest as exc:
            raise BadRequest(f"polls[{i}]: {exc.reason}", field=f"polls[{i}]") from None
        attention = item.get("attention", False)
        if not isinstance(attention, bool):
            raise BadRequest(f"polls[{i}].attention must be true or false", field=f"polls[{i}].attention")
        out.append(PreparedPoll(item["session"], question, options, attention))
    return out

