"""Organizer's credit report benchmark: 10,000 learners x 40 sessions, batch path vs per-learner path.

The report (``server.credit_report.report_rows``: per session, every learner's watched and counted
time, disclosure acknowledgement, eligible and claimed credit, status) is built from the batch path,
``server.transcript.compute_all`` then ``server.credit_transcript.transcripts``, in one pass over
every learner, and rendered to the organizer's table (HTML rows, autoescaped). The same run then
builds session reports the way the organizer page did before (per learner: the learner's whole
transcript recomputed with ``server.transcript.compute`` and ``server.credit_transcript.transcript``
for every row of every session report), for ``--baseline-sessions`` sessions (default 2: the
per-learner path for all 40 would take many minutes) and gives its time per session and the
projection to 40. Both paths must give identical rows; the script fails otherwise.

Evidence is generated in memory (as ``credit_compute.py`` does); reading it from SQL is not timed
(the page's loader reads it with a handful of queries whatever the number of learners).

    python tests/bench/credit_report.py                       # 10,000 x 40
    python tests/bench/credit_report.py --learners 1000       # a quick look
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import jinja2
from credit_compute import DAY1, PROFESSIONS, catalogue, evidence

from server.credit_report import Attendee, evaluation_seconds, measured_of, report_rows
from server.credit_transcript import learner_of, transcript
from server.transcript import compute

ROWS = jinja2.Environment(autoescape=True).from_string(
    "{% for r in rows %}<tr><td>{{ r.name }}</td><td>{{ r.email }}</td><td>{{ r.profession }}</td>"
    "<td>{{ (r.watch_seconds // 60)|int }} min</td><td>{{ (r.counted_seconds // 60)|int }} min</td>"
    "<td>{% for t, a in r.eligible.items() %}{{ a }} {{ t }} {% endfor %}</td>"
    "<td>{% for t, a in r.claimed.items() %}{{ a }} {{ t }} {% endfor %}</td><td>{{ r.status }}</td></tr>"
    "{% endfor %}")


def people(n: int, cat: Any, seed: int = 12) -> list[Attendee]:
    rng = random.Random(seed)
    out = []
    for uid in range(1, n + 1):
        recorded = {s.id: evidence(rng, s) for s in cat.sessions}
        spans = {s.id: (s.end.timestamp(), s.end.timestamp() + rng.uniform(60, 900))
                 for s in cat.sessions if s.evaluation}
        profession = PROFESSIONS[uid % len(PROFESSIONS)]
        out.append(Attendee(uid, f"Learner {uid} <&>", f"l{uid}@example.org", profession, learner_of(profession),
                            frozenset(), recorded, spans, (), {}, {}))
    return out


def per_learner_row(a: Attendee, cat: Any, sid: str, until: float, now: Any) -> dict[str, Any]:
    """One row the way the per-session page built it: the learner's whole transcript, again."""
    t = compute(a.user_id, cat, a.recorded, until)
    entries = transcript(cat, a.learner, a.faculty_of, measured_of(t, a.ack_starts),
                         evaluation_seconds(t, a.evaluation_spans), a.claims, now)
    entry = next((e for e in entries if e.session.id == sid), None)
    line = t.session(sid)
    return {"user_id": a.user_id, "name": a.name, "email": a.email, "profession": a.profession,
            "watch_seconds": int(line.watch_seconds) if line else 0,
            "counted_seconds": int(line.counted_seconds) if line else 0,
            "faculty_seconds": int(line.faculty_seconds) if line else 0,
            "disclosure_version": None, "disclosure_acknowledged_at": None,
            **(entry.json() if entry else {"eligible": {}, "claimed": {}, "status": "not_attended"})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--baseline-sessions", type=int, default=2)
    args = parser.parse_args()
    cat = catalogue()
    now = DAY1 + timedelta(days=10)
    until = now.timestamp()
    t0 = time.perf_counter()
    learners = people(args.learners, cat)
    print(f"generated {args.learners:,} learners x {len(cat.sessions)} sessions in {time.perf_counter() - t0:.1f} s")

    c0, t0 = time.process_time(), time.perf_counter()
    report = report_rows(cat, learners, until, now)
    built = time.perf_counter() - t0
    html = {sid: ROWS.render(rows=rows) for sid, rows in report.items()}
    batch_wall, batch_cpu = time.perf_counter() - t0, time.process_time() - c0
    rows = sum(len(r) for r in report.values())
    print(f"batch path: {len(report)} session reports, {rows:,} rows, {sum(map(len, html.values())) / 1e6:.0f} MB "
          f"of HTML in {batch_wall:.2f} s wall ({built:.2f} s building rows), {batch_cpu:.2f} s CPU")

    sample = [s.id for s in cat.sessions][: args.baseline_sessions]
    c0, t0 = time.process_time(), time.perf_counter()
    for sid in sample:
        mine = [per_learner_row(a, cat, sid, until, now) for a in learners if sid in a.recorded]
        rendered = ROWS.render(rows=mine)
        if mine != report[sid] or rendered != html[sid]:
            sys.exit(f"the per-learner path disagrees with the batch path for {sid}")
    base_wall, base_cpu = time.perf_counter() - t0, time.process_time() - c0
    per = base_wall / max(1, len(sample))
    print(f"per-learner path: {len(sample)} session reports in {base_wall:.2f} s wall ({base_cpu:.2f} s CPU), "
          f"{per:.2f} s each; all {len(cat.sessions)} would take ~{per * len(cat.sessions):.0f} s "
          f"({per * len(cat.sessions) / batch_wall:.0f}x the batch path); rows identical")
    batch_one = batch_wall / len(report)
    print(f"one session's report: batch path {batch_one:.2f} s of the shared pass (all 40 in {batch_wall:.2f} s) "
          f"vs per-learner {per:.2f} s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
