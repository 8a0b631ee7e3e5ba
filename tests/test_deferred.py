"""Requests that do not wait for their answers: they run in order, their errors and failed checks
surface at the next request that waits at the latest (naming the call), and the stream of
answers stays in step after any error. Workers asked for ahead of time start in the background
and never leak."""

from __future__ import annotations

import os
import shutil
import time

import pytest
import torch

from autograder.client import (CallStopped, ExerciseSession, ExerciseUnavailable, Remote, StudentError, Timeouts,
                               WorkerFailure, WrongResult)
from autograder.grading import make_workdir
from autograder.testing import (GradingFailure, expect_answer_or_raises_later, expect_close, expect_raises,
                                expect_raises_later)

MODULE = '''
import torch

calls = []

def log(x):
    calls.append(x)
    return len(calls)

def fail(message):
    raise ValueError(message)

def check_positive(x):
    if x <= 0:
        raise ValueError("x must be positive")
    return x

def check_positive_slowly(x):
    import time
    time.sleep(0.5)
    return check_positive(x)

def batches(n):
    if n < 0:
        raise ValueError("n must be >= 0")
    yield from range(n)

def ident(x):
    return x

def hang():
    while True:
        pass

def crash():
    import os
    os._exit(3)

class Box:
    def __init__(self, v):
        if v is None:
            raise TypeError("no value")
        self.v = v

    def bump(self):
        self.v = self.v + 1
'''


@pytest.fixture
def folder():
    """A prepared submission folder holding MODULE as ``m.py``."""
    workdir = make_workdir()
    (workdir / "sub").mkdir()
    (workdir / "sub" / "m.py").write_text(MODULE)
    os.chmod(workdir / "sub", 0o755)
    yield str(workdir / "sub")
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def module(grader, folder):
    """``(session, module)``: a hardened worker running MODULE as ``m.py``."""
    session = ExerciseSession(grader.zygote, folder, "m", "m.py", timeouts=Timeouts(call=2.0, start=10.0))
    yield session, Remote(session, None, ())
    session.close()


def test_deferred_requests_run_in_order_and_answers_stay_in_step(module):
    session, m = module
    seen = []
    for i in range(3 * 32 + 5):                 # more than may be in flight at once
        m.log.later(seen.append, i)
    box = m.Box.new_later(torch.tensor([1.0]))
    box.bump.call_later()
    box.v.set_later(box.v.get() * 10)            # the get waits: bump has run
    assert m.calls.get() == list(range(3 * 32 + 5))
    assert seen == list(range(1, 3 * 32 + 6))
    assert box.v.get().tolist() == [20.0]


def test_large_requests_and_answers_in_flight_do_not_deadlock(module):
    """Requests and answers of 1 MiB each, many in flight: both socket buffers fill up unless the
    grader takes in answers while it waits to send."""
    session, m = module
    got = []
    for i in range(12):
        m.ident.later(lambda v: got.append(int(v[0])), torch.full((1 << 17,), float(i), dtype=torch.float64))
    session.settle()
    assert got == list(range(12))


def test_a_deferred_error_is_raised_at_the_next_wait_and_names_its_call(module):
    session, m = module
    with pytest.raises(StudentError, match="first"):     # at a later send if it arrived by then
        m.fail.call_later("first")
        m.log.call_later("skipped")
        m.fail.call_later("second")
        m.log(1)
    assert session.last_call == "fail"
    assert m.log(2) == 1                         # the stream is in step


def test_after_a_deferred_failure_the_rest_is_skipped_until_it_is_reported(module):
    session, m = module
    with pytest.raises(StudentError, match="first"):
        m.fail.call_later("first")
        for i in range(5):
            m.log.call_later(i)                  # not run: the test fails at "first" anyway
        m.calls.get()
    assert m.calls.get() == []                   # reported: requests run again
    m.log.call_later("after")
    assert m.calls.get() == ["after"]


def test_a_failure_that_has_arrived_stops_the_test_at_its_next_request(module):
    session, m = module
    m.fail.call_later("first")
    deadline = time.monotonic() + 5
    while not session.worker.has_answer() and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(StudentError, match="first"):
        m.log.call_later("not sent")
    assert session.last_call == "fail"
    assert m.calls.get() == []


def test_a_deferred_error_never_passes_for_the_error_a_later_call_expects(module):
    session, m = module
    m.fail.call_later("an earlier call failed")
    with pytest.raises(StudentError, match="an earlier call failed"):
        expect_raises(ValueError, m.check_positive, 3)    # check_positive(3) returns: not the ValueError


def test_a_failed_check_fails_once_and_skips_the_checks_after_it(module):
    session, m = module
    ran = []
    with pytest.raises(GradingFailure, match="count"):
        m.log.later(lambda v: expect_close(torch.tensor(float(v)), torch.tensor(5.0), what="count"), "a")
        m.log.later(ran.append, "b")
        session.settle()
    assert ran == []
    session.settle()                             # nothing left: no error twice
    calls = m.calls.get()                        # "b" ran, unless its "later" found the failure already in
    assert calls in (["a", "b"], ["a"])
    assert m.log("c") == len(calls) + 1          # the answers are still in step


def test_settle_without_raising_drains_everything(module):
    session, m = module
    m.fail.call_later("x")
    try:
        m.log.later(lambda v: 1 / 0, "y")
    except StudentError:
        pass                                     # "x" had failed already: "y" was not sent
    session.settle(raise_errors=False)
    assert m.log("z") == 1                       # "y" came after the failure: skipped


def test_expect_raises_later(module):
    session, m = module
    expect_raises_later(ValueError, m.check_positive, -1)
    expect_raises_later(ValueError, m.batches, -1)        # a generator's error shows when it runs
    expect_raises_later(TypeError, m.Box, None)
    session.settle()
    expect_raises_later(ValueError, m.check_positive, 3, call=("check_positive", (3,)))
    with pytest.raises(GradingFailure, match="returned normally"):
        session.settle()
    expect_raises_later(TypeError, m.check_positive, -1)
    with pytest.raises(GradingFailure, match="raised ValueError: x must be positive"):
        session.settle()
    expect_raises_later(TypeError, m.Box, 1)             # not a TypeError of the student's
    with pytest.raises(WrongResult, match="`Box`: the result should be a tensor or a plain Python value .* but it "
                                          "is an object of type m.Box") as wrong:
        session.settle()
    assert wrong.value.redacted.endswith("but it is an object of a type the grader cannot read")   # a class made
    # at run time could spell the inputs in its name
    assert m.check_positive(2) == 2                      # each failure above ended only what was sent with it


def test_expect_answer_or_raises_later(module):
    """For inputs the contract lets a function refuse: the expected error passes, an answer is
    checked, any other error fails; what was sent behind an accepted error or answer runs."""
    session, m = module
    answers = []
    expect_answer_or_raises_later(ValueError, m.check_positive, answers.append, -1)
    expect_answer_or_raises_later(ValueError, m.check_positive, answers.append, 4)
    m.log.later(answers.append, "behind")
    session.settle()
    assert [a.value for a in answers[:1]] == [4] and answers[1:] == [1]
    expect_answer_or_raises_later(ValueError, m.check_positive, lambda res: expect_close(res.value, 5), 4)
    with pytest.raises(GradingFailure, match="expected 5, got 4"):
        session.settle()
    expect_answer_or_raises_later(TypeError, m.check_positive, answers.append, -1, hint="refuse it")
    with pytest.raises(GradingFailure, match="expected TypeError, but it raised ValueError: x must be positive"):
        session.settle()
    assert m.check_positive(2) == 2


def test_a_check_of_an_expected_error_may_call_student_code_itself(module):
    session, m = module
    seen = []
    m.check_positive.error_later(lambda exc: seen.append((exc.type_name, m.ident(7))), -1)
    m.check_positive.later(seen.append, 3)
    session.settle()
    assert sorted(seen, key=str) == [("ValueError", 7), 3]


def test_requests_sent_behind_an_expected_error_run_and_those_behind_another_failure_are_skipped(module):
    """The worker waits, after a failed request, for the grader's verdict: only an unexpected
    failure skips what was sent behind it."""
    session, m = module
    results = []
    expect_raises_later(ValueError, m.check_positive, -1)
    m.check_positive.later(results.append, 5)
    session.settle()
    assert results == [5]
    m.check_positive_slowly.later(results.append, -1)    # fails the test: what follows is not run
    m.log.call_later(1)                                  # (sent before that failure is back: it is slow)
    with pytest.raises(StudentError, match="x must be positive"):
        session.settle()
    assert m.log(2) == 1                                 # log(1) did not run


def test_a_hanging_deferred_call_is_stopped_and_objects_made_before_die_with_it(module):
    session, m = module
    box = m.Box.new_later(1)
    m.hang.call_later()
    with pytest.raises(WorkerFailure, match="did not answer"):
        m.log(1)
    assert session.last_call == "hang"
    with pytest.raises(WorkerFailure, match="lost"):
        box.v.get()
    assert m.log(2) == 1                          # a fresh worker


def test_a_function_that_failed_is_not_run_again_and_the_others_still_are(grader, folder):
    """A student whose functions loop forever or crash is graded on the others: a function is not
    called again after it timed out or crashed, however many others did."""
    session = ExerciseSession(grader.zygote, folder, "m", "m.py", timeouts=Timeouts(call=1.0, start=10.0))
    m = Remote(session, None, ())
    try:
        with pytest.raises(WorkerFailure, match="did not answer within 1 s"):
            m.hang()
        start = time.monotonic()
        with pytest.raises(CallStopped, match="`hang` was not run again after an earlier call of it failed: your "
                                              "code did not answer within 1 s"):
            m.hang.call_later()
        assert time.monotonic() - start < 0.5
        assert m.log(1) == 1
        box = m.Box.new(1)
        box.v.set(None)
        with pytest.raises(StudentError, match="TypeError"):
            box.bump()
        assert session.last_call == "Box.bump"            # a kept object's calls are named after its class
        with pytest.raises(WorkerFailure, match="exited"):
            m.crash()
        assert m.log(2) == 1                              # a fresh worker, after two functions failed
    finally:
        session.close()


def test_a_worker_whose_forbidden_rules_cannot_be_looked_up_is_refused_and_the_zygote_goes_on(grader, folder):
    session = ExerciseSession(grader.zygote, folder, "m", "m.py", watch={"rules": {"*": [7]}, "names": ["log"]})
    with pytest.raises(ExerciseUnavailable, match="forbidden calls could not be looked up"):
        Remote(session, None, ()).log(1)
    session.close()
    session = ExerciseSession(grader.zygote, folder, "m", "m.py", watch={"rules": {"*": ["torch.softmax"]},
                                                                         "names": ["log"]})
    assert Remote(session, None, ()).log(1) == 1
    session.close()


def test_workers_asked_for_ahead_start_in_the_background_and_never_leak(grader, folder):
    sessions = [ExerciseSession(grader.zygote, folder, "m", "m.py") for _ in range(4)]
    for s in sessions:
        s.prepare()
    assert Remote(sessions[2], None, ()).log(7) == 1          # taken out of order
    pids = [s.worker.pid for s in sessions if s.worker]
    for s in sessions:
        s.close()                                            # the unused ones are taken and stopped
    assert all(s._pending_spawn is None and s.worker is None for s in sessions)
    after = ExerciseSession(grader.zygote, folder, "m", "m.py")
    assert Remote(after, None, ()).log(1) == 1                # the zygote's answers stayed in step
    after.close()
    deadline = time.monotonic() + 5
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_running(pid) for pid in pids)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
