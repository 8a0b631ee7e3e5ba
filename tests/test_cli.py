"""The command line: exit codes, one-line reasons, results.json, and `check` for students."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from autograder.check import render
from autograder.cli import _parser
from autograder.grading import GradeResult
from autograder import plugin
from autograder.sandbox import WORKER_UID_BASE
from autograder.zygote import Zygote
from conftest import ROOT
from mutation import planted_bugs


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_grade_writes_gradescope_results_for_one_exercise_file(tmp_path):
    proc = run("grade", str(ROOT / "solutions" / "masked_softmax.py"), "--json", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    by_tag = {}
    for t in data["tests"]:
        assert set(t) >= {"name", "score", "max_score", "status", "output", "visibility", "tags"}
        by_tag.setdefault(t["tags"][0], []).append(t)
    assert sum(t["score"] for t in by_tag["masked_softmax"]) == 20
    assert all(t["score"] == 0 and "missing" in t["output"] for t in by_tag["attention"])
    assert data["score"] == 20 and data["max_score"] == 120


def test_output_read_by_a_command_that_stops_early_ends_quietly_with_results_written(tmp_path):
    """`autograder grade ... | head -1`: the reader is gone before the summary is printed; the
    command exits as one killed by SIGPIPE would (141), says nothing, and results.json is whole."""
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(ROOT / "solutions" / "sgd.py"),
                             "--json", str(tmp_path / "r.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, text=True)
    proc.stdout.close()                          # the reader stops before anything is printed
    err = proc.stderr.read()
    assert proc.wait(timeout=600) == 141, err
    assert err == ""
    assert json.loads((tmp_path / "r.json").read_text())["score"] == 20


def test_file_names_in_a_zip_cannot_drive_the_terminal(tmp_path):
    """A zip member named with terminal escapes (clear the screen, print a forged score) appears
    in the summary and in results.json as plain text."""
    forged = "../\x1b[2J\x1b[H\x1b[1;32mScore: 120 / 120\x1b[0m"
    with zipfile.ZipFile(tmp_path / "sub.zip", "w") as zf:
        zf.writestr("masked_softmax.py", (ROOT / "solutions" / "masked_softmax.py").read_text())
        zf.writestr(forged, "x")
    proc = run("grade", str(tmp_path / "sub.zip"), "--json", str(tmp_path / "r.json"), "--only", "masked_softmax")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr + (tmp_path / "r.json").read_text()
    assert "Score: 120" in text and "\x1b" not in text and "\\u001b" not in text


def test_grade_cannot_grade_gives_one_line_and_non_zero(tmp_path):
    proc = run("grade", str(tmp_path / "nothing-here"), "--json", str(tmp_path / "r.json"))
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1 and "does not exist" in proc.stderr
    proc = run("grade", str(ROOT / "solutions"), "--json", str(tmp_path / "r.json"), "--only", "calculus")
    assert proc.returncode != 0 and "unknown exercise" in proc.stderr and proc.stderr.count("\n") == 1
    assert run("grade", str(ROOT / "solutions")).returncode != 0


def test_bad_options_and_output_places_give_one_line_before_any_grading(tmp_path):
    """A typo must not cost a class run (a timeout of 0 would give everybody 0) or end in a traceback
    after the grading is done."""
    sub, not_a_gradebook = str(ROOT / "solutions"), tmp_path / "notes.txt"
    not_a_gradebook.write_text("these are not grades")
    folder = tmp_path / "folder"
    folder.mkdir()
    cases = [
        (("grade", sub, "--json", str(tmp_path / "r.json"), "--timeout", "0"), "positive number of seconds"),
        (("grade", sub, "--json", str(tmp_path / "r.json"), "--timeout", "soon"), "not a number of seconds"),
        (("grade", sub, "--out", str(tmp_path / "o"), "--jobs", "-1"), "0 (one per core) or more"),
        (("grade", sub, "--json", str(folder)), "is a folder"),
        (("grade", sub, "--json", str(not_a_gradebook / "r.json")), "cannot write"),
        (("grade", sub, "--out", str(not_a_gradebook)), "is a file"),
        (("grade", sub, "--out", str(tmp_path / "o"), "--gradebook", str(not_a_gradebook)), "not a gradebook"),
        (("merge", str(not_a_gradebook), "--out", str(tmp_path / "m")), "not a gradebook"),
        (("merge", str(not_a_gradebook), "--out", str(not_a_gradebook)), "is a file"),
        (("grade", sub, "--out", str(not_a_gradebook / "o")), "cannot write --out"),
        (("grade", sub, "--json", str(tmp_path / ("x" * 300 + ".json"))), "File name too long"),
        (("grade", sub, "--json", str(tmp_path / "r.json"), "--out", str(tmp_path / "o")), "not both"),
    ]
    for args, reason in cases:
        proc = run(*args)
        assert proc.returncode == 2 and reason in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
        assert "Graded" not in proc.stdout, args
    assert not_a_gradebook.read_text() == "these are not grades"
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "m").exists()


def test_check_explains_failures_and_passes_when_done(tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(ROOT / "assignments", mine)
    bug = next(m for m in planted_bugs("masked_softmax") if m.name == "off_by_one_mask")
    (mine / "masked_softmax.py").write_text(bug.source())
    proc = run("check", "--only", "masked_softmax", cwd=mine)
    assert proc.returncode == 1
    assert "✗" in proc.stdout and "expected" in proc.stdout and "Hint:" in proc.stdout
    shutil.copy(ROOT / "solutions" / "masked_softmax.py", mine / "masked_softmax.py")
    proc = run("check", str(mine), "--only", "masked_softmax")
    assert proc.returncode == 0, proc.stdout
    assert " 0 failed" in proc.stdout


def test_check_quotes_the_line_that_raised_below_a_comment_holding_a_line_separator(tmp_path):
    """Python ends lines at \\n and \\r alone, not at the \\u2028 a pasted comment may hold."""
    mine = tmp_path / "mine"
    shutil.copytree(ROOT / "assignments", mine)
    first = "    shapes = [_check_shape(s) for s in shapes]\n"
    source = (ROOT / "solutions" / "broadcasting.py").read_text()
    (mine / "broadcasting.py").write_text(source.replace(first, "    # a\u2028b\u2029c\n    raise RuntimeError\n" + first, 1))
    proc = run("check", "--only", "broadcasting", cwd=mine)
    line = source[: source.index(first)].count("\n") + 2
    assert f"at broadcasting.py, line {line}, in broadcast_shape: raise RuntimeError\n" in proc.stdout, proc.stdout


def test_check_says_once_what_failed_every_test_of_an_exercise():
    """A missing file fails each of an exercise's tests with one message: said once, not per
    test; failures of their own are listed test by test."""
    def test(name, exercise, output):
        return plugin.TestResult(name, name, exercise, 0.0 if output else 1.0, 1.0, "failed" if output else "passed", output)

    missing = "sgd.py is missing from your submission"
    result = GradeResult([test("t1", "sgd", missing), test("t2", "sgd", missing), test("t3", "losses", "off by 1"),
                          test("t4", "losses", "off by 2"), test("t5", "losses", "")], ["sgd", "losses"])
    out = io.StringIO()
    render(result, out)
    assert out.getvalue().count(missing) == 1 and "t1" not in out.getvalue()
    assert "every test failed for one reason" in out.getvalue()
    assert all(line in out.getvalue() for line in ("✗ t3", "off by 1", "✗ t4", "off by 2", "✓ t5"))


def test_check_without_an_exercises_public_tests_checks_the_others_and_says_so(tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(ROOT / "assignments", mine)
    shutil.copy(ROOT / "solutions" / "broadcasting.py", mine)
    (mine / "tests" / "test_sgd.py").unlink()
    proc = run("check", "--only", "sgd", "broadcasting", cwd=mine)
    assert proc.returncode == 1 and " 0 failed" in proc.stdout, proc.stdout
    assert "sgd was not checked: its public tests, tests/test_sgd.py, are missing from your folder" in proc.stdout
    proc = run("check", "--only", "sgd", cwd=mine)
    assert proc.returncode == 2 and "sgd was not checked" in proc.stderr and "Traceback" not in proc.stderr


def test_check_outside_an_assignments_folder_says_where_to_run(tmp_path):
    proc = run("check", str(tmp_path))
    assert proc.returncode == 2 and "course.toml" in proc.stderr


def _stat(pid) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()          # state, ppid, pgrp, ...


def workers_of(command_pid: int) -> set[str]:
    """Live workers started for the command: their uid names their keeper, which is in the
    process group of the command's zygote (a child of the command, a group of its own)."""
    found = set()
    for pid in os.listdir("/proc"):
        try:
            uid = os.stat(f"/proc/{pid}").st_uid if pid.isdigit() else 0
            if uid >= WORKER_UID_BASE and _stat(pid)[0] != "Z" and \
                    _stat(uid - WORKER_UID_BASE)[2] in zygote_groups(command_pid):
                found.add(pid)
        except OSError:
            continue
    return found


def zygote_groups(command_pid: int) -> set[str]:
    groups = set()
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and _stat(pid)[1] == str(command_pid):
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if b"autograder.zygote" in f.read():
                        groups.add(_stat(pid)[2])
        except OSError:
            continue
    return groups


def alive(pids) -> list[str]:
    left = []
    for pid in pids:
        try:
            if _stat(pid)[0] != "Z":
                left.append(pid)
        except OSError:
            continue
    return left


def test_ctrl_c_stops_cleanly_at_any_point(tmp_path):
    """Ctrl-C reaches every process of the terminal's group: while torch loads or while a call
    hangs, for one submission or a class, the command says one line (after the class's progress
    lines), exits 130 and leaves no worker running; no process prints a traceback."""
    hang = "def __getattr__(name):\n    def hang(*a, **k):\n        while True:\n            pass\n    return hang\n"
    cls = tmp_path / "class"
    for student, text in (("ann", (ROOT / "solutions" / "broadcasting.py").read_text()), ("bob", hang)):
        (cls / student).mkdir(parents=True)
        (cls / student / "broadcasting.py").write_text(text)
    commands = [("grade", str(cls / "bob"), "--json", str(tmp_path / "r.json")),
                ("grade", str(cls), "--out", str(tmp_path / "out"), "--jobs", "2")]
    for args in commands:
        for wait in (0.3, 1.0, "a worker runs the hanging call"):
            proc = subprocess.Popen([sys.executable, "-m", "autograder", *args, "--only", "broadcasting",
                                     "--timeout", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True)
            if isinstance(wait, float):
                time.sleep(wait)
            else:                                   # however long torch takes to load on a busy machine
                deadline = time.monotonic() + 50
                while not workers_of(proc.pid) and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(1.0)                     # bob's call is under way
            workers = workers_of(proc.pid)
            os.killpg(proc.pid, signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 130, (args, wait, proc.returncode, err)
            assert err.splitlines()[-1] == "autograder: interrupted" and "Traceback" not in err, (args, wait, err)
            deadline = time.monotonic() + 10
            while alive(workers) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert alive(workers) == [], (args, wait)
            assert isinstance(wait, float) or workers, "the hanging call had a worker running"


def test_an_interrupt_that_ended_source_text_run_by_exec_still_exits_130(tmp_path):
    """CPython remembers a KeyboardInterrupt that ended an ``exec`` of source text (dataclasses
    and namedtuples are made so, while pytest and torch load lazily), and under ``python -m``
    ended the process by SIGINT (status -2) even after ``main`` had caught it and said so."""
    (tmp_path / "interrupted").mkdir()
    (tmp_path / "interrupted" / "__main__.py").write_text(
        "import sys\nfrom autograder import cli\n"
        "cli._main = lambda argv: exec('raise KeyboardInterrupt')\nsys.exit(cli.main([]))\n")
    proc = subprocess.run([sys.executable, "-m", "interrupted"], cwd=tmp_path, capture_output=True, text=True)
    assert (proc.returncode, proc.stderr) == (130, "autograder: interrupted\n")


def test_a_zygote_asked_for_nothing_is_stopped_at_once_not_waited_for():
    """A command that stops before grading (Ctrl-C while torch loads, a course that is none)
    kills its zygote, still loading torch, instead of waiting up to 5 s for it to notice."""
    zygote = Zygote()
    zygote.close()
    assert zygote._proc.returncode == -signal.SIGKILL


def test_a_path_after_only_is_not_taken_for_an_exercise(capsys):
    for command in (["check", "--only", "sgd", "losses", "."], ["grade", "--only", "sgd", "sub/", "--json", "r.json"]):
        with pytest.raises(SystemExit):
            _parser().parse_args(command)
        assert "is not an exercise; --only takes every name after it, so give the paths before --only" \
            in capsys.readouterr().err


def test_an_existing_path_after_only_is_not_taken_for_an_exercise(tmp_path, monkeypatch, capsys):
    """A folder or file whose name is a word (``hw2``, ``chk``) is a path, not an exercise."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hw2").mkdir()
    (tmp_path / "notes").write_text("")
    for command in (["grade", "--only", "broadcasting", "hw2", "--json", "r.json"], ["check", "--only", "sgd", "notes"]):
        with pytest.raises(SystemExit):
            _parser().parse_args(command)
        assert f"{command[3]!r} is not an exercise; --only takes every name after it, so give the paths before " \
            "--only" in capsys.readouterr().err
    assert _parser().parse_args(["check", "--only", "sgd", "hw3"]).only == ["sgd", "hw3"]


def test_only_given_twice_grades_both():
    for command in (["grade", "SUB", "--json", "r.json"], ["check"]):
        args = _parser().parse_args([*command, "--only", "sgd", "--only", "losses", "masked_softmax"])
        assert args.only == ["sgd", "losses", "masked_softmax"]
