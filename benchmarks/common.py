"""Helpers shared by the benchmark scripts (run them from the repository root)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))       # mutation.py: the planted bugs


def timed_command(cmd: list[str], repeat: int = 3) -> float:
    """Median wall seconds of a command (its output discarded); fails loudly if it fails."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def import_torch_seconds(repeat: int = 3) -> tuple[float, float]:
    """(python -c pass, python -c 'import torch') median wall seconds, measured now."""
    return (timed_command([sys.executable, "-c", "pass"], repeat),
            timed_command([sys.executable, "-c", "import torch"], repeat))


def machine_cpu_seconds() -> float:
    """CPU time used on the whole machine so far (busy time of every core, from /proc/stat):
    counts the grader, the zygote and every worker, which the grader's own rusage cannot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]                               # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
