"""Hostile submissions are contained: 0 for the exercise they attack, full marks elsewhere,
nothing written outside the sandbox, no connection out, the grader's files unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from autograder.client import ExerciseSession, Remote, Timeouts
from autograder.grading import make_workdir
from autograder.sandbox import WORKER_UID_BASE
from conftest import ROOT, submission_with

HOSTILE = sorted((ROOT / "tests" / "hostile").glob("*.py"))
GUARDED = ["autograder", "assignments", "hidden", "reference", "solutions"]
ALWAYS_PASS_CONFTEST = """
import pytest
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.outcome = "passed"
    return report
"""


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for top in GUARDED:
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(str(path).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


class Listener:
    """A loopback listener and a UNIX socket anyone may connect to (as a host's D-Bus or syslog
    socket), which count connections (none may arrive)."""

    def __init__(self):
        self.folder = tempfile.mkdtemp()
        os.chmod(self.folder, 0o755)
        self.unix_path = os.path.join(self.folder, "host.sock")
        self.socks = [socket.create_server(("127.0.0.1", 0)), socket.socket(socket.AF_UNIX)]
        self.socks[1].bind(self.unix_path)
        self.socks[1].listen()
        os.chmod(self.unix_path, 0o777)
        self.port = self.socks[0].getsockname()[1]
        self.accepted = 0
        self._stop = False
        self._threads = [threading.Thread(target=self._run, args=(s,), daemon=True) for s in self.socks]
        for thread in self._threads:
            thread.start()

    def _run(self, sock):
        sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = sock.accept()
                self.accepted += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self._stop = True
        for thread in self._threads:
            thread.join()
        for sock in self.socks:
            sock.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def worker_processes(zygote_pid: int) -> list[int]:
    """Processes still running under a worker uid of this grader (the uid names the worker's
    keeper, a child of the zygote) or orphaned by their keeper."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            uid = os.stat(f"/proc/{pid}").st_uid if pid.isdigit() else 0
        except OSError:
            continue
        if uid >= WORKER_UID_BASE:
            keeper_parent = parent_of(uid - WORKER_UID_BASE)
            if keeper_parent is None or keeper_parent == zygote_pid:
                found.append(int(pid))
    return found


def hostile_source(path: Path, out: Path, canary: Path, port: int, unix_socket: str = "") -> tuple[str, str]:
    text = path.read_text()
    exercise = text.splitlines()[0].split("exercise:")[1].split("--")[0].strip()
    for key, value in {"__COURSE__": str(ROOT), "__OUT__": str(out), "__CANARY__": str(canary),
                       "__PORT__": str(port), "__UNIX_SOCKET__": unix_socket}.items():
        text = text.replace(key, value)
    return exercise, text


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_submission_is_contained(path, grader, full_marks, tmp_path):
    out, canary = tmp_path / "out", tmp_path / "canary"
    out.mkdir()
    (out / "results.json").write_text("original")
    listener = Listener()
    before = tree_digest(ROOT)
    try:
        exercise, source = hostile_source(path, out, canary, listener.port, listener.unix_path)
        folder = submission_with(tmp_path, {exercise: source})
        (folder / "conftest.py").write_text(ALWAYS_PASS_CONFTEST)
        result = grader.grade_path(folder)
    finally:
        listener.close()

    scores = result.by_exercise()
    assert scores[exercise][0] == 0, f"{path.stem} scored {scores[exercise]} in {exercise}"
    assert scores[exercise][1] == full_marks[exercise][1]
    for other, marks in full_marks.items():
        if other != exercise:
            assert scores[other] == marks, f"{path.stem} changed the score of {other}"
    assert not canary.exists(), "the submission wrote outside its sandbox"
    assert (out / "results.json").read_text() == "original"
    assert listener.accepted == 0, "a connection left the worker"
    assert tree_digest(ROOT) == before, "the grader's files changed"
    zygote_pid = grader.zygote.wait_ready()["pid"]
    deadline = time.monotonic() + 5
    while worker_processes(zygote_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert worker_processes(zygote_pid) == [], "worker processes outlived grading"


PROCESS_LIST = """
import os
def processes():
    found = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    found[pid] = f.read().decode(errors="replace")
            except OSError:
                found[pid] = ""
    return found
"""


def test_a_worker_sees_only_its_own_processes(grader):
    """/proc in the worker lists the submission's processes alone: not the grader's, not the
    zygote's, not other students' workers (their command lines name folders and students)."""
    workdir = make_workdir()
    (workdir / "m.py").write_text(PROCESS_LIST)
    os.chmod(workdir, 0o755)
    sessions = [ExerciseSession(grader.zygote, str(workdir), "m", "m.py") for _ in range(2)]
    try:
        seen = [Remote(s, None, ()).processes() for s in sessions]
    finally:
        for s in sessions:
            s.close()
        shutil.rmtree(workdir, ignore_errors=True)
    assert all(list(found) == ["1"] for found in seen), seen
    assert str(os.getpid()) not in seen[0] and sessions[0].protections["private /proc"] == "on"


LEAK_INPUTS = """
import torch
MARK = "LE" + "AK:"     # the source line shown with an error has these parts apart
def broadcast_shape(*shapes):
    raise type(MARK + repr(shapes), (ValueError,), {})(MARK + repr(shapes))
def can_broadcast(*shapes):
    return MARK + repr(shapes)
def broadcast_to(x, shape):
    return torch.zeros(*[len(repr(shape))] * 3)
def unbroadcast(grad, shape):
    return (MARK, repr(grad.tolist()), repr(shape))
"""


LEAK_THROUGH_THE_WORKER = {
    # the line of code shown with an error, from a linecache entry of its own
    "linecache": """
import linecache
def broadcast_shape(*shapes):
    linecache.cache[__file__] = (1, None, [MARK + repr(shapes) + "\\n"] * 400, __file__)
    raise ValueError("no")
""",
    # a 'missing' name of its own making
    "missing": """
import sys
def broadcast_shape(*shapes):
    worker = vars(sys)["".join(reversed("seludom"))]["autograder.worker"]
    raise worker.MissingName(MARK.strip(":") + "_" + "_".join(str(n) for s in shapes for n in s))
""",
    # a forbidden-call note of its own making
    "forbidden": """
import sys
_watch = vars(sys)["".join(reversed("seludom"))]["autograder.forbidden_watch"].ForbiddenWatch
_leaked = []
def broadcast_shape(*shapes):
    _leaked.append(MARK + repr(shapes))
    return (1,)
_watch.take = lambda self: [{"used": _leaked[-1], "names": [_leaked[-1]], "line": 10 ** 9}] if _leaked else []
""",
}


@pytest.mark.parametrize("how", ["returned", *LEAK_THROUGH_THE_WORKER])
def test_hidden_feedback_shows_nothing_student_code_can_fill_with_the_inputs(grader, tmp_path, how):
    """What a call returned or raised (message, exception class name, a tensor's shape) can carry
    the hidden inputs, and so can all the worker says of an error (student code in it can forge
    that); a student who read them could hard-code the answers in the next submission."""
    source = LEAK_INPUTS if how == "returned" else LEAK_INPUTS + LEAK_THROUGH_THE_WORKER[how]
    result = grader.grade_path(submission_with(tmp_path, {"broadcasting": source}))
    outputs = [t.output for t in result.tests if t.exercise == "broadcasting"]
    assert outputs
    assert not any("LEAK" in o.replace('"LE" + "AK:"', "") or "(2, 1)" in o or "[2, 1]" in o or "_2_1_3" in o
                   for o in outputs), outputs
    assert any("raised " in o or "forbidden" in o for o in outputs)


def test_hostile_failures_are_explained(grader, tmp_path):
    """A student whose code hangs, exits or floods output is told so, in words."""
    messages = {}
    for name in ("busy_loop_ignoring_signals", "os_exit_in_call", "output_flood", "exit_at_import"):
        _, source = hostile_source(ROOT / "tests" / "hostile" / f"{name}.py", tmp_path, tmp_path / "c", 1)
        folder = submission_with(tmp_path / name, {"broadcasting": source})
        result = grader.grade_path(folder)
        messages[name] = " ".join(t.output for t in result.tests if t.exercise == "broadcasting")
    assert "did not answer within" in messages["busy_loop_ignoring_signals"]
    assert "exited" in messages["os_exit_in_call"]
    assert "output" in messages["output_flood"]
    assert "could not be imported: SystemExit" in messages["exit_at_import"]


def test_a_function_that_loops_forever_costs_only_the_tests_that_run_it(grader, tmp_path, monkeypatch):
    """SGD.step never returns: the tests that step lose their points, the correct minibatches
    keeps all of its own."""
    monkeypatch.setattr(grader, "timeouts", Timeouts(call=1.0, start=10.0))
    source = (ROOT / "solutions" / "sgd.py").read_text()
    start, end = source.index("    def step(self):"), source.index("    def zero_grad(")
    folder = submission_with(tmp_path, {"sgd": source[:start] + "    def step(self):\n        while True:\n"
                                                                "            pass\n\n" + source[end:]})
    result = grader.grade(grader.prepare(folder), ["sgd"])
    minibatches = [t for t in result.tests if "minibatches" in t.covers]
    steps = [t for t in result.tests if t.covers == ("SGD",)]
    assert minibatches and all(t.status == "passed" for t in minibatches)
    assert steps and all(t.score == 0 for t in steps)
    assert any("`SGD.step` was not run again after an earlier call of it failed" in t.output for t in steps)


def test_functions_that_loop_forever_cost_only_the_tests_that_run_them(grader, course, tmp_path, monkeypatch):
    """relu_backward, sigmoid_backward and tanh_backward never return, and so neither does
    mlp_backward, which calls relu_backward: the tests of the other functions keep their points,
    however many functions hung before them, and every function runs into its deadline once."""
    monkeypatch.setattr(grader, "timeouts", Timeouts(call=1.0, start=10.0))
    hang = "".join(f"\n\ndef {name}(dout, x):\n    while True:\n        pass\n"
                   for name in ("relu_backward", "sigmoid_backward", "tanh_backward"))
    folder = submission_with(tmp_path, {"gradients": (ROOT / "solutions" / "gradients.py").read_text() + hang})
    result = grader.grade(grader.prepare(folder), ["gradients"])
    hanging = {"relu_backward", "sigmoid_backward", "tanh_backward", "mlp_backward"}
    spared = [t for t in result.tests if not hanging & set(t.covers)]
    assert any("softmax_cross_entropy_backward" in t.covers for t in spared)
    assert all(t.status == "passed" for t in spared), [(t.name, t.output) for t in spared if t.status != "passed"]
    assert all(t.score == 0 for t in result.tests if hanging & set(t.covers))
    assert sum("did not answer within 1 s" in t.output and "not run again" not in t.output
               for t in result.tests) <= len(hanging)


def test_a_module_whose_every_function_hangs_runs_each_into_its_deadline_once(grader, course, tmp_path, monkeypatch):
    """No strike ends an exercise early: what bounds a submission of nothing but endless loops is
    that each function is called once (then the submission's time budget)."""
    monkeypatch.setattr(grader, "timeouts", Timeouts(call=1.0, start=10.0))
    hang = "def __getattr__(name):\n    def hang(*a, **k):\n        while True:\n            pass\n    return hang\n"
    result = grader.grade(grader.prepare(submission_with(tmp_path, {"gradients": hang})), ["gradients"])
    timed_out = [t for t in result.tests if "did not answer within 1 s" in t.output and "not run again" not in t.output]
    assert result.score == 0 and 0 < len(timed_out) <= len(course.exercises["gradients"].names), \
        [t.output for t in result.tests]


def test_cli_grades_a_hostile_submission_and_exits_zero(tmp_path):
    """The command finishes with exit 0 and a results.json even when the grader is attacked."""
    _, source = hostile_source(ROOT / "tests" / "hostile" / "kill_parent.py", tmp_path, tmp_path / "c", 1)
    folder = submission_with(tmp_path, {"broadcasting": source})
    results = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder), "--json", str(results),
                           "--course", str(ROOT), "--timeout", "4"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(results.read_text())
    broadcasting = [t for t in data["tests"] if t["tags"] == ["broadcasting"]]
    assert broadcasting and all(t["score"] == 0 for t in broadcasting)
    assert data["score"] == data["max_score"] - sum(t["max_score"] for t in broadcasting)


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs unshare, run as root")
def test_an_ordinary_user_gets_the_same_protections_and_scores(tmp_path):
    """Run the grader inside a user namespace where it is uid 1000, not root: the worker takes the
    unprivileged path (a user namespace of its own) and contains the same attack."""
    _, source = hostile_source(ROOT / "tests" / "hostile" / "fork_flood.py", tmp_path, tmp_path / "c", 1)
    folder = submission_with(tmp_path, {"broadcasting": source})
    results = tmp_path / "results.json"
    proc = subprocess.run(["unshare", "--user", "--map-user=1000", "--map-group=1000", sys.executable, "-m",
                           "autograder", "grade", str(folder), "--json", str(results), "--course", str(ROOT),
                           "--only", "broadcasting", "masked_softmax", "--timeout", "4"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(results.read_text())
    scores = {}
    for t in data["tests"]:
        scores[t["tags"][0]] = scores.get(t["tags"][0], 0) + t["score"]
    assert scores == {"broadcasting": 0, "masked_softmax": 20}
    protections = data["extra_data"]["protections"]
    assert protections["unprivileged uid"] == "on (started as an ordinary user)"
    assert all(v.startswith("on") for v in protections.values()), protections


def test_calls_that_each_end_just_in_time_stop_at_the_submissions_budget(grader, tmp_path, monkeypatch):
    """Every step() takes a while, never past the call deadline: the time budget of the submission
    is checked at each request, not only when a test starts (one test of hundreds of calls ran
    for an hour)."""
    monkeypatch.setattr(grader, "timeouts", Timeouts(call=2.0, start=10.0, submission=3.0))
    source = (ROOT / "solutions" / "sgd.py").read_text().replace(
        "    def step(self):", "    def step(self):\n        import time\n        time.sleep(1.0)\n        return self._step()\n\n"
                              "    def _step(self):", 1)
    assert "def _step(self):" in source
    result = grader.grade(grader.prepare(submission_with(tmp_path, {"sgd": source})), ["sgd"])
    first = result.tests[0]
    assert first.covers == ("SGD",) and "used up its time budget (3 s)" in first.output, first
