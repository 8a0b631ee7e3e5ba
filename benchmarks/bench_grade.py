"""Issue 3: wall time of grading solutions/, and how much of it is interpreter start and torch.

    python benchmarks/bench_grade.py [--repeat 3]

Prints: `python -c pass`, `python -c "import torch"`, the full command
`python -m autograder grade solutions --json ...` (one submission, all six exercises, a cold
start), and the same grading repeated in a warm process (what each further submission costs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from common import ROOT, import_torch_seconds, timed_command


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bare, torch_import = import_torch_seconds(args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        cold = timed_command([sys.executable, "-m", "autograder", "grade", "solutions", "--json",
                              f"{tmp}/r.json"], args.repeat)
    from autograder.course import instructor_course
    from autograder.grading import Grader

    with Grader(instructor_course(ROOT)) as grader:
        grader.grade_path(ROOT / "solutions")                     # warm-up: zygote ready, suites imported
        warm = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = grader.grade_path(ROOT / "solutions")
            warm.append(time.perf_counter() - start)
        assert result.score == result.max_score
        per_exercise = {}
        for t in result.tests:
            per_exercise[t.exercise] = per_exercise.get(t.exercise, 0) + t.seconds
    warm_s = statistics.median(warm)
    print(f"python -c pass                      {bare:7.3f} s")
    print(f"python -c 'import torch'            {torch_import:7.3f} s")
    print(f"autograder grade solutions (cold)   {cold:7.3f} s")
    print(f"  of which interpreter + torch      {torch_import:7.3f} s ({torch_import / cold:.0%})")
    print(f"grading solutions in a warm process {warm_s:7.3f} s ({len(result.tests)} tests, "
          f"{result.score:g}/{result.max_score:g})")
    for ex, s in per_exercise.items():
        print(f"  {ex:<16} tests {s:6.3f} s")


if __name__ == "__main__":
    main()
