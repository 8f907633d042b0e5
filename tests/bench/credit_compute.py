"""Credit recompute benchmark: 10,000 attendees x 40 sessions of recorded evidence -> transcripts + credit.

Each attendee has stored evidence (the watch-time feature's ``Recorded``: media start/stop
events, closed page stretches, an open tab checkpoint, sometimes an attention prompt) in each of
40 accredited sessions on two parallel tracks. The timed part recomputes, for every attendee,
the whole transcript from that evidence (``server.transcript.compute``: watch intervals, faculty
time, parallel sessions counted once) and the credit of every session and credit type with
status and claimed totals (``server.credit_transcript.transcript``). Generating the evidence is
not timed; reading it from SQL is not part of this benchmark.

Work is split over worker processes (default 2, the machine's cores); each builds its share of
evidence, all start together at a barrier, and the time printed is the wall time from the
barrier to the last worker's finish. Peak memory is the largest worker's maximum resident set.

    python tests/bench/credit_compute.py                    # 10,000 x 40, 2 processes
    python tests/bench/credit_compute.py --processes 1      # single process
    python tests/bench/credit_compute.py --attendees 1000   # a quick look
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.attendance import AttentionPrompt, Interval, MediaEvent, TabState
from server.catalogue import (
    Catalogue,
    Conference,
    EvaluationQuestion,
    Format,
    Session,
    Span,
    Track,
)
from server.credit_transcript import certificate_totals, learner_of, transcript
from server.http.credit_service import measured_of
from server.store.attendance import Recorded
from server.transcript import compute

SESSIONS = 40
DAY1 = datetime(2026, 6, 11, 14, 0, tzinfo=UTC)
PROFESSIONS = ("physician", "nurse", "pharmacist", "physician assistant")


def catalogue() -> Catalogue:
    """40 accredited sessions: 4 days x 5 slots x 2 parallel tracks, 60-90 minutes, some with breaks."""
    sessions = []
    for i in range(SESSIONS):
        day, slot, track = i // 10, (i % 10) // 2, i % 2
        start = DAY1 + timedelta(days=day, minutes=100 * slot + 10 * track)
        minutes = 60 + 30 * ((i // 3) % 2)
        end = start + timedelta(minutes=minutes)
        breaks = (Span(start + timedelta(minutes=40), start + timedelta(minutes=45)),) if minutes == 90 else ()
        maximum = Decimal(minutes) / 60
        sessions.append(Session(
            id=f"s{i:02d}", title=f"Session {i}", track=f"t{track}", format=Format.LECTURE, start=start, end=end,
            faculty=(), faculty_names=(), moderators=(),
            credits={"ama_pra_1": maximum, "ancc": maximum, "acpe": maximum}, accredited=True, breaks=breaks,
            evaluation=(EvaluationQuestion("q", "Useful?", "scale"),) if i % 2 else (),
        ))
    conference = Conference("bench", "Bench", "UTC", "Provider", "online", "acc", {}, ("ama_pra_1", "ancc", "acpe"))
    return Catalogue(conference, (Track("t0", "A"), Track("t1", "B")), tuple(sessions), ())


def evidence(rng: random.Random, session: Session) -> Recorded:
    """What the server stores for one attendee in one session: a player, page stretches, a tab, a prompt."""
    s, e = session.start.timestamp(), session.end.timestamp()
    joined = s + rng.uniform(-300, 900)
    left = e - rng.uniform(-300, 1200)
    rec = Recorded()
    rec.media = [MediaEvent(joined - 2, "p1", True), MediaEvent(left + 1, "p1", False)]
    # Page stretches as heartbeats close them: a gap or two (tab hidden, network drop).
    cut1 = rng.uniform(joined, left)
    cut2 = rng.uniform(cut1, left)
    rec.stretches = [Interval(joined, cut1 - 60), Interval(cut1, cut2 - 30)]
    rec.tabs = {"tab-1": TabState(left, True, cut2)}
    if rng.random() < 0.5:
        shown = rng.uniform(joined, left)
        rec.prompts = {"a1": AttentionPrompt(shown, shown + rng.uniform(2, 60))}
    return rec


def work(first: int, count: int, barrier: Any, out: Any) -> None:
    """One worker: build evidence for attendees [first, first+count), wait, recompute, report."""
    cat = catalogue()
    now = DAY1 + timedelta(days=10)
    people = []
    for uid in range(first, first + count):
        rng = random.Random(uid)
        recorded = {s.id: evidence(rng, s) for s in cat.sessions}
        evaluations = {s.id: rng.uniform(60, 400) for s in cat.sessions if s.evaluation}
        learner = learner_of(PROFESSIONS[uid % len(PROFESSIONS)], "1234567", 3, 14)
        people.append((uid, recorded, evaluations, learner))
    session_ids = [s.id for s in cat.sessions]
    until = now.timestamp()
    barrier.wait()
    started, cpu = time.perf_counter(), time.process_time()
    watch_cpu = 0.0
    quarters = 0
    statuses = 0
    for uid, recorded, evaluations, learner in people:
        c0 = time.process_time()
        t = compute(uid, cat, recorded, until)
        watch_cpu += time.process_time() - c0
        entries = transcript(cat, learner, (), measured_of(t), evaluations, (), now)
        for entry in entries:
            for amount in entry.eligible.values():
                quarters += int(amount * 4)
            statuses += 1
        certificate_totals((), session_ids)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    out.put((elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, count, statuses, quarters, cpu,
             watch_cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attendees", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(args.processes + 1), ctx.Queue()
    share = -(-args.attendees // args.processes)
    workers = [ctx.Process(target=work, args=(i * share, min(share, args.attendees - i * share), barrier, out))
               for i in range(args.processes)]
    for w in workers:
        w.start()
    barrier.wait(timeout=600)  # every worker has built its evidence
    started = time.perf_counter()
    results = []
    for _ in workers:
        try:
            results.append(out.get(timeout=600))
        except queue.Empty:  # a worker died: its traceback is above
            sys.exit("a worker failed")
    wall = time.perf_counter() - started
    for w in workers:
        w.join()
    pairs = sum(r[3] for r in results)
    peak_mb = max(r[1] for r in results) / 1024
    print(f"attendees: {args.attendees}, sessions: {SESSIONS}, session transcripts: {pairs}, "
          f"processes: {args.processes}")
    print(f"recompute wall time: {wall:.2f} s (slowest worker {max(r[0] for r in results):.2f} s); "
          f"{wall / pairs * 1e6:.1f} us per attendee-session")
    cpu, watch_cpu = sum(r[5] for r in results), sum(r[6] for r in results)
    print(f"CPU: {cpu:.2f} s in all workers ({watch_cpu:.2f} s transcripts from evidence, "
          f"{cpu - watch_cpu:.2f} s credit); {cpu / pairs * 1e6:.1f} us CPU per attendee-session")
    print(f"peak memory (largest worker, max RSS incl. its evidence): {peak_mb:.0f} MiB")
    print(f"eligible credit checksum: {sum(r[4] for r in results)} quarters")
    print("target < 5 s:", "met" if wall < 5 else "NOT met")


if __name__ == "__main__":
    main()
