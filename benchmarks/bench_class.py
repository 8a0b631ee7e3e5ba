"""Issue 5: grade a generated class; compare with one fresh process per submission.

    python benchmarks/bench_class.py [--students 200] [--only broadcasting] [--baseline 8]

Each student gets, per exercise, one of: the solution, a correct variant, a planted bug, the
untouched stub, a module that crashes at import, or one whose functions loop forever (1% of the
files hang, 4% crash). Every file except the untouched stub carries a line naming its student, so no
two students share a file and nothing is graded once for many. Reported:

- `import torch` in a fresh interpreter, measured in the same run (before and after the classes);
- the class graded by `autograder grade CLASS --out DIR` (all cores): wall time, seconds per
  submission, peak memory (PSS) of the whole process tree;
- the same for a class a quarter the size (peak memory must not grow with the class); from the
  two, what each further submission costs once start-up and exports are paid;
- a sample of submissions graded the naive way, one fresh `python -m autograder grade SUB --json`
  process each (fresh interpreter, fresh torch), as seconds per submission;
- how many calls ran into their deadline: a hanging call is given the whole ``--timeout`` (once
  per function of a hanging file that the suites call), spinning on a core, so that much of the
  class's time is set by the deadline policy rather than by the grader's speed.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, import_torch_seconds
from mutation import correct_variants, planted_bugs

from autograder.gradebook import Gradebook

HANG = "def __getattr__(name):\n    def hang(*a, **k):\n        while True:\n            pass\n    return hang\n"
CRASH = "raise RuntimeError('this module crashes at import')\n"


def make_class(root: Path, students: int, exercises: list[str], seed: int = 0) -> Path:
    rng = random.Random(seed)
    for i in range(students):
        folder = root / f"student{i:04d}"
        folder.mkdir(parents=True)
        for ex in exercises:
            roll = rng.random()
            if roll < 0.01:
                text = HANG
            elif roll < 0.05:
                text = CRASH
            elif roll < 0.18:
                shutil.copy(ROOT / "assignments" / f"{ex}.py", folder / f"{ex}.py")   # untouched stub
                continue
            elif roll < 0.55:
                text = rng.choice(planted_bugs(ex)).source()
            elif roll < 0.75:
                text = rng.choice(correct_variants(ex)).source()
            else:
                text = (ROOT / "solutions" / f"{ex}.py").read_text()
            (folder / f"{ex}.py").write_text(f"{text}\n# submitted by student{i:04d}\n")
    return root


def tree_memory(pid: int) -> int:
    """Proportional set size (shared pages counted once, split among their sharers) of a
    process and all its descendants, in bytes: what the process tree costs the machine."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                children.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:")) * 1024
        except (OSError, StopIteration, ValueError):
            pass
        stack += children.get(p, [])
    return total


def deadline_hits(gradebook: Path, timeout: float) -> int:
    """How many calls of the class ran into their deadline: each cost ``timeout`` seconds of
    waiting, with the hanging worker spinning on a core all that time."""
    with Gradebook(gradebook) as gb:
        return sum(t["output"].startswith("While running") and f"within {timeout:g} s" in t["output"]
                   for grade in gb.current() for t in grade.tests)


def run_measured(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak tree RSS of a command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0

    def sample():
        nonlocal peak
        while proc.poll() is None:
            peak = max(peak, tree_memory(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    proc.wait()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{cmd} failed with {proc.returncode}")
    return time.perf_counter() - start, peak


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--only", nargs="+", default=None, help="exercises of the assignment (default: all six)")
    parser.add_argument("--baseline", type=int, default=8, help="submissions graded the naive way")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds one call may take")
    args = parser.parse_args()
    exercises = args.only or ["broadcasting", "gradients", "sgd", "losses", "masked_softmax", "attention"]
    _, import_before = import_torch_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = []
        for n in (max(args.students // 4, 1), args.students):
            cls = make_class(tmp / f"class{n}", n, exercises)
            cmd = [sys.executable, "-m", "autograder", "grade", str(cls), "--out", str(tmp / f"out{n}"),
                   "--timeout", str(args.timeout), "--only", *exercises]
            wall, peak = run_measured(cmd)
            rows.append((n, wall, peak, deadline_hits(tmp / f"out{n}" / "gradebook.sqlite", args.timeout)))
        sample = sorted((tmp / f"class{args.students}").iterdir())[: args.baseline]
        naive = []
        for sub in sample:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--json", str(tmp / "r.json"),
                            "--timeout", str(args.timeout), "--only", *exercises], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            naive.append(time.perf_counter() - start)
    _, import_after = import_torch_seconds()
    torch_import = (import_before + import_after) / 2      # these VMs' speed drifts within a run
    print(f"exercises: {', '.join(exercises)}; {os.cpu_count()} cores")
    print(f"python -c 'import torch' (fresh)         {torch_import:7.3f} s "
          f"(mean of {import_before:.3f} s before the classes and {import_after:.3f} s after)")
    cores = os.cpu_count() or 1
    for n, wall, peak, hits in rows:
        print(f"class of {n:4d}: {wall:7.1f} s wall, {wall / n:6.3f} s per submission, "
              f"peak memory {peak / 2**20:6.0f} MiB; {hits} calls hit the {args.timeout:g} s deadline "
              f"({hits * args.timeout / cores / n:.3f} s per submission of the {cores} cores' time)")
    per_naive = statistics.mean(naive)
    print(f"one fresh process per submission ({len(naive)} of them): {per_naive:6.3f} s per submission")
    n, wall, _, hits = rows[-1]
    best, waiting = wall / n, hits * args.timeout / cores / n
    print(f"per submission vs import torch: {best / torch_import:.2f} (target <= 0.10); "
          f"vs fresh process: {per_naive / best:.1f}x faster")
    (n_small, wall_small, _, _), (n_big, wall_big, _, _) = rows
    if n_big > n_small:
        further = (wall_big - wall_small) / (n_big - n_small)
        print(f"  each further submission (from the two class sizes; start-up and exports paid once): "
              f"{further:.3f} s, {further / torch_import:.2f} of import torch")
    print(f"  deadlines alone (a hanging call spins for {args.timeout:g} s, a policy, not grading work): "
          f"{waiting / torch_import:.2f} of import torch; the rest {(best - waiting) / torch_import:.2f}")


if __name__ == "__main__":
    main()
