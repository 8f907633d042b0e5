"""Credit recompute benchmark: 10,000 attendees x 40 sessions of recorded evidence -> transcripts + credit.

Each attendee has stored evidence (the watch-time feature's ``Recorded``: media start/stop
events, closed page stretches, an open tab checkpoint, sometimes an attention prompt) in each of
40 accredited sessions on two parallel tracks. The timed part recomputes, for every attendee,
the whole transcript from that evidence (watch intervals, faculty time, parallel sessions
counted once) and the credit of every session and credit type with status and claimed totals.
Generating the evidence is not timed; reading it from SQL is not part of this benchmark.

Two phases, each timed from a barrier that starts every worker together:

- **batch**: the batch path, ``server.transcript.compute_all`` then
  ``server.credit_transcript.transcripts``, streamed over all attendees;
- **baseline** (same run, same evidence, unless ``--no-baseline``): the per-attendee recompute as
  it was before the batch path (``naive_compute`` / ``naive_transcript`` below: the timeline
  rebuilt from datetimes per attendee-session, every sweep run even on empty evidence), so the
  figure is a ratio as well as an absolute time on a noisy machine. Both phases must give the
  same checksums (eligible quarters, statuses, counted seconds); the script fails otherwise.

Work is split over worker processes (default 2, the machine's cores). Times are wall times from
the barrier to the last worker's finish. Peak memory is the largest worker's maximum resident set.

    python tests/bench/credit_compute.py                    # 10,000 x 40, 2 processes
    python tests/bench/credit_compute.py --processes 1      # single process
    python tests/bench/credit_compute.py --attendees 1000   # a quick look
    python tests/bench/credit_compute.py --no-baseline      # the batch path only
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import random
import resource
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.attendance import (
    AttentionPrompt,
    Interval,
    MediaEvent,
    TabState,
    attention_gaps,
    attribute_once,
    from_spans,
    media_intervals,
    publishing_intervals,
    watch_intervals,
)  # fmt: skip
from server.catalogue import (
    Catalogue,
    Conference,
    EvaluationQuestion,
    Format,
    Session,
    Span,
    Track,
)
from server.credit import Basis, CreditClaim, Learner, SessionStatus, session_entry
from server.credit_transcript import (
    CreditInputs,
    Measured,
    TranscriptEntry,
    certificate_totals,
    eligible_for,
    learner_of,
    session_rule,
    transcripts,
)  # fmt: skip
from server.http.credit_service import measured_of
from server.store.attendance import Recorded
from server.transcript import SessionTime, Transcript, compute_all

SESSIONS = 40
DAY1 = datetime(2026, 6, 11, 14, 0, tzinfo=UTC)
PROFESSIONS = ("physician", "nurse", "pharmacist", "physician assistant")
INF = float("inf")


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


# -- the baseline: the per-attendee recompute before the batch path (public rules only) ---------


def naive_compute(user_id: int, cat: Catalogue, recorded: dict[str, Recorded], until: float) -> Transcript:
    """``server.transcript.compute`` as it was: timelines from datetimes per call, every sweep run."""
    found = [(s, recorded[s.id]) for s in sorted(cat.sessions, key=lambda s: (s.start, s.id)) if s.id in recorded]
    lines = {}
    for s, rec in found:
        seen = watch_intervals(media_intervals(rec.media, INF), rec.pages(), from_spans(s.accredited_timeline()),
                               attention_gaps(rec.prompts.values(), INF))
        lines[s.id] = (seen, publishing_intervals(rec.publishing, from_spans(s.accredited_timeline()), until))
    counted = attribute_once({sid: w for sid, (w, _) in lines.items()})
    return Transcript(user_id, tuple(SessionTime(s, lines[s.id][0], counted[s.id], lines[s.id][1])
                                     for s, _ in found))


def naive_transcript(cat: Catalogue, learner: Learner, measured: dict[str, Measured],
                     evaluations: dict[str, float], claims: tuple[CreditClaim, ...],
                     now: datetime) -> list[TranscriptEntry]:
    """``server.credit_transcript.transcript`` as it was: per-call lookups of order and rules."""
    entries = []
    for session in sorted(cat.sessions, key=lambda s: (s.start, s.id)):
        m = measured.get(session.id)
        if m is None or not (m.watch_seconds > 0 or m.presenting_seconds > 0):
            continue
        rule = session_rule(session, cat.conference)
        evaluation = evaluations.get(session.id)
        eligible = {} if rule is None else eligible_for(rule, Basis.LEARNER, learner.profession, m, evaluation)
        status = session_entry(rule, eligible, {}, live=session.start <= now < session.end,
                               evaluation_required=bool(session.evaluation), evaluation_done=evaluation is not None)
        entries.append(TranscriptEntry(session, Basis.LEARNER, m, evaluation, eligible, {}, status))
    return entries


# -- workers --------------------------------------------------------------------------------


Person = tuple[int, dict[str, Recorded], dict[str, float], Learner]
Sums = list[float]  # eligible quarters, session entries, counted seconds, claimable entries


def tally(sums: Sums, entries: list[TranscriptEntry]) -> None:
    """Checksums both phases must agree on."""
    for entry in entries:
        for amount in entry.eligible.values():
            sums[0] += int(amount * 4)
        sums[1] += 1
        sums[2] += entry.measured.watch_seconds
        sums[3] += entry.status is SessionStatus.CLAIMABLE


def batch_phase(cat: Catalogue, people: list[Person], until: float, now: datetime, ids: list[str]
                ) -> tuple[float, Sums]:
    """The batch path over all attendees; returns CPU spent on transcripts from evidence."""
    watch_cpu, sums = 0.0, [0, 0, 0.0, 0]
    times = compute_all(cat, ((uid, rec) for uid, rec, _, _ in people), until)

    def asked() -> Iterator[CreditInputs]:
        nonlocal watch_cpu
        for _, _, evaluations, learner in people:
            c0 = time.process_time()
            t = next(times)
            watch_cpu += time.process_time() - c0
            yield learner, (), measured_of(t), evaluations, ()

    for entries in transcripts(cat, asked(), now):
        tally(sums, entries)
        certificate_totals((), ids)
    return watch_cpu, sums


def baseline_phase(cat: Catalogue, people: list[Person], until: float, now: datetime, ids: list[str]
                   ) -> tuple[float, Sums]:
    """The per-attendee recompute as it was; returns CPU spent on transcripts from evidence."""
    watch_cpu, sums = 0.0, [0, 0, 0.0, 0]
    for uid, recorded, evaluations, learner in people:
        c0 = time.process_time()
        t = naive_compute(uid, cat, recorded, until)
        watch_cpu += time.process_time() - c0
        tally(sums, naive_transcript(cat, learner, measured_of(t), evaluations, (), now))
        certificate_totals((), ids)
    return watch_cpu, sums


def work(first: int, count: int, baseline: bool, barrier: Any, out: Any) -> None:
    """One worker: build evidence for attendees [first, first+count), then each phase from a barrier."""
    cat = catalogue()
    now = DAY1 + timedelta(days=10)
    people: list[Person] = []
    for uid in range(first, first + count):
        rng = random.Random(uid)
        recorded = {s.id: evidence(rng, s) for s in cat.sessions}
        evaluations = {s.id: rng.uniform(60, 400) for s in cat.sessions if s.evaluation}
        learner = learner_of(PROFESSIONS[uid % len(PROFESSIONS)], "1234567", 3, 14)
        people.append((uid, recorded, evaluations, learner))
    ids = [s.id for s in cat.sessions]
    until = now.timestamp()
    for phase in (batch_phase, baseline_phase) if baseline else (batch_phase,):
        barrier.wait()
        started, cpu = time.perf_counter(), time.process_time()
        watch_cpu, sums = phase(cat, people, until, now, ids)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        out.put((phase.__name__, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, cpu, watch_cpu, sums))


def run_phase(name: str, workers: int, barrier: Any, out: Any) -> tuple[float, list[Any]]:
    """Release the workers into one phase and wait for all of them; wall time and their reports."""
    barrier.wait(timeout=600)  # every worker is ready
    started = time.perf_counter()
    results = []
    for _ in range(workers):
        try:
            results.append(out.get(timeout=600))
        except queue.Empty:  # a worker died: its traceback is above
            sys.exit("a worker failed")
    assert all(r[0] == name for r in results), results
    return time.perf_counter() - started, results


def report(label: str, wall: float, results: list[Any]) -> Sums:
    """Print one phase's figures; returns its checksums summed over workers."""
    sums = [sum(r[5][i] for r in results) for i in range(4)]
    pairs = sums[1]
    cpu, watch_cpu = sum(r[3] for r in results), sum(r[4] for r in results)
    print(f"{label}: wall {wall:.2f} s (slowest worker {max(r[1] for r in results):.2f} s), "
          f"{wall / pairs * 1e6:.1f} us per attendee-session; CPU {cpu:.2f} s "
          f"({watch_cpu:.2f} s transcripts from evidence, {cpu - watch_cpu:.2f} s credit), "
          f"{cpu / pairs * 1e6:.1f} us CPU per attendee-session; "
          f"peak RSS so far {max(r[2] for r in results) / 1024:.0f} MiB")
    return sums


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attendees", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true", help="time the batch path only")
    args = parser.parse_args()
    baseline = not args.no_baseline
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(args.processes + 1), ctx.Queue()
    share = -(-args.attendees // args.processes)
    workers = [ctx.Process(target=work, args=(i * share, min(share, args.attendees - i * share), baseline,
                                              barrier, out))
               for i in range(args.processes)]
    for w in workers:
        w.start()
    wall, results = run_phase("batch_phase", len(workers), barrier, out)
    peak_mb = max(r[2] for r in results) / 1024
    if baseline:
        base_wall, base_results = run_phase("baseline_phase", len(workers), barrier, out)
    for w in workers:
        w.join()
    print(f"attendees: {args.attendees}, sessions: {SESSIONS}, processes: {args.processes}")
    sums = report("batch path", wall, results)
    print(f"session transcripts: {sums[1]}; eligible credit checksum: {sums[0]} quarters; "
          f"counted watch time {sums[2]:.0f} s; claimable {sums[3]}")
    print(f"peak memory (largest worker, max RSS incl. its evidence, batch phase): {peak_mb:.0f} MiB")
    if baseline:
        base = report("baseline (per-attendee, as before)", base_wall, base_results)
        if base != sums:
            sys.exit(f"checksums differ: batch {sums} != baseline {base}")
        print(f"same results as the baseline; batch path {base_wall / wall:.2f}x faster (wall), "
              f"{sum(r[3] for r in base_results) / sum(r[3] for r in results):.2f}x less CPU")
    print(f"recompute wall time: {wall:.2f} s; target < 5 s:", "met" if wall < 5 else "NOT met")


if __name__ == "__main__":
    main()
