"""Issue 4: what the hardened worker costs per submission, against the same suites run with the
student's modules imported into the grading process itself (no isolation at all).

    python benchmarks/bench_isolation.py [--rounds 5]

Both sides grade the same submissions (solutions/ and one planted bug per exercise) in one run,
alternating, with the same wire format; the difference is the fork from the warm zygote, the
namespaces, Landlock, seccomp, the uid switch, and the socket between the two processes.

Wall time is what a student or a CI job waits. A hardened worker runs beside the grader (it
computes answers while the grader checks earlier ones), so the CPU time of the whole machine is
reported too: that is what the isolation costs a class run that keeps every core busy.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import ROOT, machine_cpu_seconds
from mutation import planted_bugs

from autograder import wire
from autograder.client import ExerciseSession, ExerciseUnavailable
from autograder.course import instructor_course
from autograder.grading import Grader
from autograder.plugin import GradingPlugin
from autograder.worker import Worker, load_module


class InProcessSession(ExerciseSession):
    """The same requests answered by a Worker living in the grading process (no isolation)."""

    _worker_here = None

    def prepare(self):
        pass

    def _start(self):
        if self._worker_here is None:
            path = Path(self.submission_dir) / self.module_file
            if not path.is_file():
                raise ExerciseUnavailable(f"{self.module_file} is missing")
            try:
                self._worker_here = Worker(load_module(str(path), f"inproc_{self.exercise}_{id(self)}")[0])
            except BaseException as e:  # noqa: BLE001
                raise ExerciseUnavailable(f"import failed: {e}") from None
            self._answers = collections.deque()

    def _send(self, header, values, name):
        self._start()
        self._answers.append(self._worker_here.handle(wire.encode(header, values)[8:]))  # no length prefix

    def _read(self):
        return wire.decode(self._answers.popleft()[8:])

    def _answer_arrived(self):
        return bool(self._answers)

    def close(self):
        pass


def submissions(tmp: Path) -> list[Path]:
    subs = [ROOT / "solutions"]
    for exercise in sorted(p.name for p in (ROOT / "tests" / "mutants").iterdir()):
        first = planted_bugs(exercise)[0]
        folder = tmp / f"{exercise}-{first.name}"
        shutil.copytree(ROOT / "solutions", folder)
        (folder / f"{exercise}.py").write_text(first.source())
        subs.append(folder)
    return subs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    course = instructor_course(ROOT)
    with tempfile.TemporaryDirectory() as tmp, Grader(course) as grader:
        subs = submissions(Path(tmp))
        times = {"hardened": [], "in-process": []}
        cpu = {"hardened": [], "in-process": []}
        scores = {}
        for round_ in range(args.rounds + 1):                   # round 0 warms both up, not counted
            for mode in ("hardened", "in-process"):
                GradingPlugin.session_class = ExerciseSession if mode == "hardened" else InProcessSession
                start, start_cpu = time.perf_counter(), machine_cpu_seconds()
                for sub in subs:
                    scores[(mode, sub.name)] = grader.grade_path(sub).score
                if round_:
                    times[mode].append((time.perf_counter() - start) / len(subs))
                    cpu[mode].append((machine_cpu_seconds() - start_cpu) / len(subs))
        GradingPlugin.session_class = ExerciseSession
    assert all(scores[("hardened", s.name)] == scores[("in-process", s.name)] for s in subs), scores
    wall = {mode: statistics.median(t) for mode, t in times.items()}
    busy = {mode: statistics.median(t) for mode, t in cpu.items()}
    print(f"{len(subs)} submissions x {args.rounds} rounds, all six exercises each, same scores both ways")
    print(f"{'':28}{'wall':>10}{'CPU (all cores)':>18}   per submission, median of rounds")
    for mode in ("in-process", "hardened"):
        print(f"{mode + (' (no isolation)' if mode == 'in-process' else ' worker'):28}"
              f"{wall[mode] * 1000:8.1f} ms{busy[mode] * 1000:13.1f} ms")
    print(f"{'cost of isolation':28}{(wall['hardened'] - wall['in-process']) * 1000:8.1f} ms"
          f"{(busy['hardened'] - busy['in-process']) * 1000:13.1f} ms")


if __name__ == "__main__":
    main()
