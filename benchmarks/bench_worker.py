"""The fixed costs of calling student code in a worker, apart from the suites' own work.

    python benchmarks/bench_worker.py [--workers 40]

Reported:

- starting one worker (fork from the zygote, namespaces, confinement, import of the solution's
  module, one call), in wall time and in CPU time of the whole machine, without and with the
  exercise's forbidden-call watch (losses: the rule list with the most torch functions);
- encoding and decoding one request and its answer on the wire (what each side pays per call),
  for a call with no tensors and for one sending 2 tensors and receiving 3 (mode "detailed").
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from common import ROOT, machine_cpu_seconds

import torch

from autograder import wire
from autograder.client import ExerciseSession, Remote
from autograder.course import instructor_course
from autograder.grading import make_workdir
from autograder.zygote import Zygote


def worker_start(zygote: Zygote, folder: str, watch, count: int) -> tuple[float, float]:
    """Mean (wall, machine CPU) seconds of starting a losses worker and calling it once."""
    start, start_cpu = time.perf_counter(), machine_cpu_seconds()
    for _ in range(count):
        session = ExerciseSession(zygote, folder, "losses", "losses.py", watch=watch)
        Remote(session, None, ()).softmax(torch.ones(2, 3))
        session.close()
    return (time.perf_counter() - start) / count, (machine_cpu_seconds() - start_cpu) / count


def codec_round_trip(request: tuple[dict, dict], answer: dict, repeat: int = 20000) -> float:
    """Seconds to encode and decode a request and its answer (best of three runs)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            sent = wire.encode(*request)
            wire.decode(sent[8:], make_ref=lambda i: None, make_iter=iter)
            back = wire.encode({"ok": True}, answer, contiguous=True)
            wire.decode(back[8:])
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(1)
    losses = instructor_course(ROOT).exercises["losses"]
    workdir = make_workdir()
    folder = workdir / "sub"
    folder.mkdir()
    os.chmod(folder, 0o755)
    shutil.copy(ROOT / "solutions" / "losses.py", folder / "losses.py")
    zygote = Zygote()
    try:
        zygote.wait_ready()
        watch = {"rules": losses.forbidden, "names": list(losses.names)}
        worker_start(zygote, str(folder), watch, 5)                     # warm-up
        plain = worker_start(zygote, str(folder), None, args.workers)
        watched = worker_start(zygote, str(folder), watch, args.workers)
    finally:
        zygote.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"one worker started and called once ({args.workers} in a row):")
    print(f"  without the forbidden-call watch  {plain[0] * 1000:6.1f} ms wall {plain[1] * 1000:6.1f} ms CPU")
    print(f"  with the losses watch             {watched[0] * 1000:6.1f} ms wall {watched[1] * 1000:6.1f} ms CPU")
    x, y = torch.randn(4, 5), torch.randn(5)
    target = {"ref": None, "path": ["softmax"]}
    bare = codec_round_trip(({"op": "call", "target": {"ref": 3, "path": ["step"]}, "mode": "ignore",
                              "deferred": True, "batch": 0}, {"args": [], "kwargs": {}}), {})
    tensors = codec_round_trip(({"op": "call", "target": target, "mode": "detailed", "deferred": True, "batch": 0},
                                {"args": [x, y], "kwargs": {"dim": -1}}),
                               {"value": x, "args": [x, y], "kwargs": {"dim": None}})
    print("encoding and decoding a request and its answer (both sides together):")
    print(f"  a call without tensors            {bare * 1e6:6.1f} us")
    print(f"  2 tensors there, 3 back           {tensors * 1e6:6.1f} us")


if __name__ == "__main__":
    main()
