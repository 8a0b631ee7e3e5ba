"""One pytest session grades a whole queue of submissions (the suites are collected once), and
each gets exactly what it would get graded alone."""

from __future__ import annotations

from autograder.client import Timeouts
from autograder.grading import GradeResult, Grader, GradingError
from autograder.plugin import GradingPlugin
from conftest import EXERCISES, ROOT, submission_with
from mutation import planted_bugs


def _feedback(result: GradeResult):
    return [(t.nodeid, t.score, t.status, t.output) for t in result.tests]


def test_one_session_grades_each_submission_as_if_alone(grader, tmp_path):
    buggy = submission_with(tmp_path, {ex: planted_bugs(ex)[0].source() for ex in EXERCISES})
    folders = [ROOT / "solutions", buggy, ROOT / "assignments"]
    alone = []
    for folder in folders:
        submission = grader.prepare(folder)
        alone.append(grader.grade(submission))
    queue = [(grader.prepare(folder), None) for folder in folders]
    together = []
    grader.grade_each(queue, lambda task, outcome: together.append(outcome))
    assert [r.score for r in together] == [r.score for r in alone]
    assert alone[0].score == alone[0].max_score and alone[2].score == 0 and 0 < alone[1].score < alone[1].max_score
    assert [_feedback(r) for r in together] == [_feedback(r) for r in alone]


def test_a_task_that_cannot_be_graded_does_not_stop_the_next(grader):
    queue = [(grader.prepare(ROOT / "solutions"), ["no_such_exercise"]),
             (grader.prepare(ROOT / "solutions"), ["broadcasting"])]
    outcomes = []
    grader.grade_each(queue, lambda task, outcome: outcomes.append(outcome))
    assert isinstance(outcomes[0], GradingError) and "no_such_exercise" in str(outcomes[0])
    assert outcomes[1].by_exercise() == {"broadcasting": (20.0, 20.0)}


def test_a_task_whose_grading_breaks_leaves_nothing_behind_for_the_next(grader, monkeypatch):
    finished = []

    def grader_bug(self, nodeid, location):
        finished.append(nodeid)
        if len(finished) == 1:
            raise RuntimeError("a bug in the grader")

    monkeypatch.setattr(GradingPlugin, "pytest_runtest_logfinish", grader_bug, raising=False)
    queue = [(grader.prepare(ROOT / "solutions"), ["broadcasting"]),     # stops with its suite set up
             (grader.prepare(ROOT / "solutions"), ["gradients"])]
    outcomes = []
    grader.grade_each(queue, lambda task, outcome: outcomes.append(outcome))
    assert isinstance(outcomes[0], GradingError) and "a bug in the grader" in str(outcomes[0])
    assert outcomes[1].by_exercise() == {"gradients": (20.0, 20.0)}


def test_a_module_importing_another_of_the_students_is_graded_alike_when_that_one_is_not(course, grader, tmp_path):
    """``attention.py`` may import the student's own ``masked_softmax.py``: grading attention
    alone (``--only attention``) must still find it."""
    source = (ROOT / "solutions" / "attention.py").read_text().replace(
        "def masked_softmax(", "from masked_softmax import masked_softmax\n\n\ndef _unused_masked_softmax(", 1)
    folder = submission_with(tmp_path, {"attention": source})
    whole = grader.grade_path(folder).by_exercise()["attention"]
    with Grader(course, exercises=["attention"], zygote=grader.zygote.clone()) as alone:
        assert alone.grade_path(folder).by_exercise() == {"attention": whole} == {"attention": (20.0, 20.0)}


def test_a_misspelt_function_is_named_as_missing(grader, tmp_path):
    """The tests call a name the module does not define: feedback says so in words, hidden tests
    too, whether the test expects a value or an error."""
    source = (ROOT / "solutions" / "broadcasting.py").read_text().replace("def can_broadcast(", "def can_broadcst(")
    result = grader.grade(grader.prepare(submission_with(tmp_path, {"broadcasting": source})), ["broadcasting"])
    missing = [t for t in result.tests if "can_broadcast" in t.covers]
    assert missing and all(t.score == 0 and t.output.startswith("`can_broadcast` is not defined in your module")
                           for t in missing), [t.output for t in missing]
    assert all(t.status == "passed" for t in result.tests if "can_broadcast" not in t.covers)


def test_a_module_that_never_finishes_loading_is_told_where_to_look(grader, tmp_path, monkeypatch):
    monkeypatch.setattr(grader, "timeouts", Timeouts(call=4.0, start=2.0))
    source = (ROOT / "solutions" / "broadcasting.py").read_text() + "\nwhile True:\n    pass\n"
    result = grader.grade(grader.prepare(submission_with(tmp_path, {"broadcasting": source})), ["broadcasting"])
    outputs = {t.output for t in result.tests}
    assert result.score == 0 and outputs == {
        "loading broadcasting.py did not finish within 2 s: code at the top level of the file (not in a function) "
        "runs forever or for long (a training run, a download); put it under `if __name__ == \"__main__\":`"}, outputs


def test_a_failing_test_shows_what_the_code_printed_during_it(course, tmp_path):
    """Public feedback shows what student code printed while that test ran (a notebook's training
    demo printed while it loaded is not repeated under every test)."""
    source = (ROOT / "solutions" / "broadcasting.py").read_text().replace(
        "def can_broadcast(*shapes) -> bool:", "def can_broadcast(*shapes):\n    print('checking', len(shapes))\n"
        "    return not _can_broadcast(*shapes)\n\n\ndef _can_broadcast(*shapes) -> bool:") + "\nprint('epoch 0: loss 1.0')\n"
    assert "def _can_broadcast" in source
    with Grader(course, exercises=["broadcasting"], redact=False) as grader:
        result = grader.grade(grader.prepare(submission_with(tmp_path, {"broadcasting": source})))
    failed = [t.output for t in result.tests if t.status == "failed"]
    assert len(failed) >= 2 and all("Your code printed:\nchecking" in o for o in failed), failed
    assert sum("epoch 0" in o for o in failed) <= 1, failed


def test_a_syntax_error_names_its_line_once(grader, tmp_path):
    source = (ROOT / "solutions" / "broadcasting.py").read_text().replace("def can_broadcast(*shapes) -> bool:",
                                                                         "def can_broadcast(*shapes) -> bool")
    line = source.splitlines().index("def can_broadcast(*shapes) -> bool") + 1
    result = grader.grade(grader.prepare(submission_with(tmp_path, {"broadcasting": source})), ["broadcasting"])
    assert {t.output for t in result.tests} == {
        f"broadcasting.py could not be imported: SyntaxError: expected ':' (broadcasting.py, line {line}, in "
        "<module>: def can_broadcast(*shapes) -> bool)"}


def test_a_renamed_parameter_is_named_in_hidden_feedback(grader, tmp_path):
    """A call that does not fit the function's parameters fails before any student code runs, with
    a message Python writes from names alone: hidden tests show it, so the student can act."""
    source = next(m for m in planted_bugs("masked_softmax") if m.name == "masked_softmax_x_lowercase").source()
    result = grader.grade(grader.prepare(submission_with(tmp_path, {"masked_softmax": source})), ["masked_softmax"])
    failed = [t.output for t in result.tests if t.status == "failed"]
    assert failed and all("got an unexpected keyword argument 'X'" in o and "contract's names" in o for o in failed), \
        failed


def test_hidden_feedback_names_the_function_that_raised_but_not_its_line(course, grader, tmp_path):
    """Which line raised could spell out a hidden test's inputs (one line per value, as a red team
    did), like the error's message: hidden feedback names the file and function only, public
    feedback (``autograder check``) the line and its code too."""
    source = (ROOT / "solutions" / "losses.py").read_text().replace(
        "    e = torch.exp(z)\n", "    e = torch.exp(z)\n    if e.numel() >= 0: raise RuntimeError('boom')\n", 1)
    line = source.splitlines().index("    if e.numel() >= 0: raise RuntimeError('boom')") + 1
    folder = submission_with(tmp_path, {"losses": source})
    hidden = grader.grade(grader.prepare(folder), ["losses"])
    raised = [t.output for t in hidden.tests if "`softmax` raised RuntimeError" in t.output]
    assert raised and all("in losses.py, in softmax" in o and "line" not in o.replace("nor the line", "")
                          and "numel" not in o and "boom" not in o for o in raised), raised
    with Grader(course, exercises=["losses"], redact=False, zygote=grader.zygote.clone()) as public:
        shown = [t.output for t in public.grade_path(folder).tests if "`softmax` raised RuntimeError" in t.output]
    assert shown and all(f"at losses.py, line {line}, in softmax: if e.numel() >= 0: raise RuntimeError('boom')"
                         in o for o in shown), shown


def test_a_result_of_the_wrong_type_is_told_as_what_was_returned(course, grader, tmp_path):
    """A numpy array or a list where a tensor belongs is what the student returned, not an error
    the function raised: feedback says so in the words of a wrong result, public and hidden alike,
    in tests that read the value and tests that take its gradient."""
    losses = (ROOT / "solutions" / "losses.py").read_text().replace(
        "def binary_cross_entropy(", "def binary_cross_entropy(*args, **kwargs):\n"
        "    return _binary_cross_entropy(*args, **kwargs).detach().numpy()\n\n\n"
        "def _binary_cross_entropy(", 1)
    masked = (ROOT / "solutions" / "masked_softmax.py").read_text().replace(
        "def masked_softmax(", "def masked_softmax(X, valid_lens=None):\n"
        "    return _masked_softmax(X, valid_lens).tolist()\n\n\ndef _masked_softmax(", 1)
    folder = submission_with(tmp_path, {"losses": losses, "masked_softmax": masked})
    with Grader(course, exercises=["losses", "masked_softmax"], redact=False, zygote=grader.zygote.clone()) as public:
        results = {"hidden": grader.grade(grader.prepare(folder), ["losses", "masked_softmax"]),
                   "public": public.grade_path(folder)}
    for shown, result in results.items():
        for name, kind in (("binary_cross_entropy", "a numpy array"), ("masked_softmax", "a list")):
            failed = [t.output for t in result.tests if t.covers == (name,) and t.status == "failed"]
            assert failed and all(name in o and "should be a tensor" in o and f"but it is {kind}" in o
                                  and "raised" not in o and "Unreadable" not in o for o in failed), (shown, failed)


def test_a_helper_made_with_torch_compile_imports_in_the_worker(grader, full_marks, tmp_path):
    """torch.compile makes its cache folder in the temporary folder at once: the worker's is its
    scratch folder, not the zygote's /tmp, where a worker may not write (an honest, unused
    ``@torch.compile`` helper failed the import: 0/20)."""
    source = (ROOT / "solutions" / "broadcasting.py").read_text() + "\n\n@torch.compile\ndef unused(x):\n    return x\n"
    folder = submission_with(tmp_path, {"broadcasting": source})
    result = grader.grade(grader.prepare(folder), ["broadcasting"])
    assert result.by_exercise()["broadcasting"] == full_marks["broadcasting"], result.summary()
