"""Issue 5: grade a generated class; compare with one fresh process per submission.

    python benchmarks/bench_class.py [--students 200] [--only broadcasting] [--baseline 8]

Each student gets, per exercise, one of: the solution, a correct variant, a planted bug, the
untouched stub, a module that crashes at import, or one whose functions loop forever (1% of the
files hang, 4% crash). Every file except the untouched stub carries a line naming its student, so no
two students share a file and nothing is graded once for many. Reported:

- `import torch` in a fresh interpreter, measured in the same run (before and after the classes);
- the class graded by `autograder grade CLASS --out DIR` (all cores): wall time, seconds per
  submission, peak memory (PSS) of the whole process tree;
- the machine CPU each submission cost (every core, from /proc/stat), and how much of it the
  grader processes (trusted side) and the main process used; the rest is the zygote with its
  workers (untrusted side), and the kernel;
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
from dataclasses import dataclass
from pathlib import Path

from common import ROOT, import_torch_seconds, machine_cpu_seconds
from mutation import correct_variants, planted_bugs

from autograder.gradebook import Gradebook

HANG = "def __getattr__(name):\n    def hang(*a, **k):\n        while True:\n            pass\n    return hang\n"
CRASH = "raise RuntimeError('this module crashes at import')\n"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def _tree(pid: int) -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds it used itself) of a process and all its descendants."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
        except (OSError, ValueError, IndexError):
            continue
    children: dict[int, list[int]] = {}
    for p, (parent, _) in stats.items():
        children.setdefault(parent, []).append(p)
    tree, stack = {}, [pid]
    while stack:
        p = stack.pop()
        if p in stats:
            tree[p] = stats[p]
            stack += children.get(p, [])
    return tree


def tree_memory(tree) -> int:
    """Proportional set size (shared pages counted once, split among their sharers) of the
    processes of ``tree``, in bytes: what the process tree costs the machine."""
    total = 0
    for p in tree:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:")) * 1024
        except (OSError, StopIteration, ValueError):
            pass
    return total


def deadline_hits(gradebook: Path, timeout: float) -> int:
    """How many calls of the class ran into their deadline: each cost ``timeout`` seconds of
    waiting, with the hanging worker spinning on a core all that time."""
    with Gradebook(gradebook) as gb:
        return sum(t["output"].startswith("While running") and f"within {timeout:g} s" in t["output"]
                   for grade in gb.current() for t in grade.tests)


@dataclass
class Measured:
    """A command's wall seconds, the peak memory of its process tree, and the CPU seconds the
    machine spent while it ran (every core; the sampler's own left out), with the part of the
    long-lived processes, sampled while they ran."""

    wall: float
    peak: int
    cpu: float
    cpu_main: float          # the main process: finding students, the gradebook, the exports
    cpu_graders: float       # the grader processes (trusted side): suites, references, the wire

    @property
    def cpu_rest(self) -> float:
        """The zygote and its workers (untrusted side: student code, the wire; their processes come
        and go too fast to sample), and whatever else the machine ran meanwhile (the kernel)."""
        return self.cpu - self.cpu_main - self.cpu_graders


def _is_zygote(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"autograder.zygote" in f.read()
    except OSError:
        return False


def run_measured(cmd: list[str]) -> Measured:
    """Run ``cmd``, sampling its process tree every 0.2 s."""
    start, start_cpu, start_own = time.perf_counter(), machine_cpu_seconds(), time.process_time()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak, main_cpu, graders = 0, 0.0, {}        # grader pid -> its CPU seconds when last seen

    def sample():
        nonlocal peak, main_cpu
        while proc.poll() is None:
            tree = _tree(proc.pid)
            peak = max(peak, tree_memory(tree))
            main_cpu = tree.get(proc.pid, (0, main_cpu))[1]
            for p, (parent, cpu) in tree.items():
                if parent == proc.pid:
                    if _is_zygote(p):       # seen between its fork and its exec, it looked like a grader
                        graders.pop(p, None)
                    else:
                        graders[p] = cpu
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    proc.wait()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{cmd} failed with {proc.returncode}")
    cpu = machine_cpu_seconds() - start_cpu - (time.process_time() - start_own)
    return Measured(time.perf_counter() - start, peak, cpu, main_cpu, sum(graders.values()))


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
            rows.append((n, run_measured(cmd), deadline_hits(tmp / f"out{n}" / "gradebook.sqlite", args.timeout)))
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
    for n, run, hits in rows:
        print(f"class of {n:4d}: {run.wall:7.1f} s wall, {run.wall / n:6.3f} s per submission, "
              f"peak memory {run.peak / 2**20:6.0f} MiB; {hits} calls hit the {args.timeout:g} s deadline "
              f"({hits * args.timeout / cores / n:.3f} s per submission of the {cores} cores' time)")
        print(f"  CPU per submission, the machine's {run.cpu / n:.3f} s: grader processes (suites, references, "
              f"wire) {run.cpu_graders / n:.3f} s, main process (students, gradebook, exports) "
              f"{run.cpu_main / n:.3f} s, the rest (zygote and workers, deadlines {hits * args.timeout / n:.3f} s "
              f"included; the kernel) {run.cpu_rest / n:.3f} s")
    per_naive = statistics.mean(naive)
    print(f"one fresh process per submission ({len(naive)} of them): {per_naive:6.3f} s per submission")
    n, run, hits = rows[-1]
    best, waiting = run.wall / n, hits * args.timeout / cores / n
    print(f"per submission vs import torch: {best / torch_import:.2f} (target <= 0.10); "
          f"vs fresh process: {per_naive / best:.1f}x faster")
    (n_small, small, _), (n_big, big, _) = rows
    if n_big > n_small:
        further = (big.wall - small.wall) / (n_big - n_small)
        print(f"  each further submission (from the two class sizes; start-up and exports paid once): "
              f"{further:.3f} s, {further / torch_import:.2f} of import torch")
    print(f"  deadlines alone (a hanging call spins for {args.timeout:g} s, a policy, not grading work): "
          f"{waiting / torch_import:.2f} of import torch; the rest {(best - waiting) / torch_import:.2f}")


if __name__ == "__main__":
    main()
