"""Grading a class: every input form, every bad input, resume after a kill, regrade, shards,
exports and the report in a real browser. Only `broadcasting` is graded here, to keep it quick."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import unicodedata
import warnings
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import nbformat
import pytest

from autograder.batch import grade_class, merge_gradebooks, module_keys
from autograder.client import Timeouts
from autograder.collect import Candidate, discover, find_class, infer_exercise, parse_lms_name, student_id
from autograder.course import instructor_course
from autograder.exports import write_exports
from autograder.gradebook import Gradebook, GradebookError, Provenance
from autograder.grading import GradeResult, GradingError
from autograder import plugin
from conftest import ROOT

ONLY = ["broadcasting"]
SOLUTION = (ROOT / "solutions" / "broadcasting.py").read_text()
STUB = (ROOT / "assignments" / "broadcasting.py").read_text()
TIMEOUTS = Timeouts(call=5.0, start=20.0)
IMPORTS_SIBLING = "from masked_softmax import broadcast_shape, broadcast_to, can_broadcast, unbroadcast\n"


def notebook(source: str, magic: bool = True) -> str:
    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_markdown_cell("# Broadcasting")]
    if magic:
        cells.append(nbformat.v4.new_code_cell("%matplotlib inline\n!pip install nothing"))
    cells.append(nbformat.v4.new_code_cell(source))
    test_cell = nbformat.v4.new_code_cell("assert False, 'an nbgrader test cell must not run at import'")
    test_cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "t1",
                                      "points": 1, "schema_version": 3}
    cells.append(test_cell)
    nb.cells = cells
    return nbformat.writes(nb)


def write_zip(path: Path, files: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def grade(paths, out: Path, **kwargs) -> dict:
    summary, _ = grade_class(paths, kwargs.pop("course"), out, exercises=ONLY, jobs=2, timeouts=TIMEOUTS, **kwargs)
    assert summary.failed == []
    return read_grades(out)


def read_grades(out: Path) -> dict:
    with open(out / "grades.csv") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def feedback(out: Path, student: str) -> str:
    return (out / "feedback" / f"{student}.md").read_text()


# --------------------------------------------------------------------------- input forms


def test_every_input_form(course, tmp_path):
    cls = tmp_path / "class"
    (cls / "alice").mkdir(parents=True)
    (cls / "alice" / "broadcasting.py").write_text(SOLUTION)
    write_zip(cls / "bob.zip", {"hw1/broadcasting.py": SOLUTION})
    (cls / "carol.ipynb").write_text(notebook(SOLUTION))                 # named after the student
    (cls / "dan").mkdir()
    (cls / "dan" / "broadcasting.ipynb").write_text(notebook(SOLUTION))  # named after the exercise
    (cls / "erin").mkdir()
    (cls / "erin" / "broadcasting.py").write_text(STUB)
    (cls / "gina").mkdir()                      # her graded module imports one of hers that is not graded
    (cls / "gina" / "broadcasting.py").write_text(IMPORTS_SIBLING)
    (cls / "gina" / "masked_softmax.py").write_text(SOLUTION)
    book = nbformat.v4.new_notebook()           # a setup cell that fails here: the other cells still run
    book.cells = [nbformat.v4.new_code_cell("from d2l import torch as d2l"), nbformat.v4.new_code_cell(SOLUTION)]
    (cls / "hana.ipynb").write_text(nbformat.writes(book))
    canvas = write_zip(tmp_path / "course-hw submissions.zip", {
        "smithbob_340934_208490284_broadcasting.py": STUB,
        "smithbob_340934_208490999_broadcasting-1.py": SOLUTION,           # the newer upload wins
        "jonesann_LATE_12_77_broadcasting.py": SOLUTION,
        "anon_x9y8_55_broadcasting.ipynb": notebook(SOLUTION),
        "smithbob_340934_text.html": "<p>see files</p>",
    })
    moodle = write_zip(tmp_path / "moodle.zip", {
        "Jane Doe_12345_assignsubmission_file/broadcasting.py": SOLUTION,
        "Max Mustermann_777_assignsubmission_file_broadcasting.py": SOLUTION,
    })
    single = tmp_path / "frank" / "broadcasting.py"
    single.parent.mkdir()
    single.write_text(SOLUTION)
    out = tmp_path / "out"
    grades = grade([cls, canvas, moodle, single.parent], out, course=course)
    expected_full = ["alice", "bob", "carol", "dan", "smithbob_340934", "jonesann_12", "anon_x9y8",
                     "Jane_Doe_12345", "Max_Mustermann_777", "frank", "gina", "hana"]
    for student in expected_full:
        assert grades[student]["broadcasting"] == "20", (student, feedback(out, student))
    assert grades["erin"]["broadcasting"] == "0"
    assert "hana.ipynb, cell 1 raised ModuleNotFoundError: No module named 'd2l'" in feedback(out, "hana")
    assert grades["jonesann_12"]["late"] == "yes"
    results = json.loads((out / "results" / "alice.json").read_text())
    assert results["score"] == 20 and all({"name", "score", "max_score", "status", "output", "visibility", "tags"}
                                          <= set(t) for t in results["tests"])
    junit = (out / "junit.xml").read_text()
    assert junit.count("<testsuite ") == len(grades)
    assert (out / "report.html").is_file()


def test_layouts_found_in_real_downloads_give_one_row_per_student(course, tmp_path):
    """Moodle's folders (named ``..._file_``, an online-text folder beside them), a download of one
    student's folder, students' own zips and folders with the work one level down beside a
    README, files named almost like the exercise, macOS's ``._`` copies, a UTF-8 BOM, decomposed accents (macOS), an nbconvert export
    beside its notebook, and the ``--out`` folder inside the class folder."""
    moodle = write_zip(tmp_path / "moodle.zip", {
        "Jane Doe_12345_assignsubmission_file_/broadcasting.py": SOLUTION,
        "Jane Doe_12345_assignsubmission_onlinetext_/onlinetext.html": "<p>done</p>",
        "Ann Lee_34567_assignsubmission_file_/broadcasting.py": SOLUTION,
    })
    moodle_one = write_zip(tmp_path / "moodle_one.zip", {"Ivo Ek_999_assignsubmission_file_/broadcasting.py": SOLUTION})
    alice = write_zip(tmp_path / "alice.zip", {"src/broadcasting.py": SOLUTION, "README.md": "mine"})
    bob = tmp_path / "bob"
    (bob / "hw2").mkdir(parents=True)
    (bob / "hw2" / "broadcasting.py").write_text(STUB)
    (bob / "README.md").write_text("mine too")
    export = "get_ipython().system('pip install nothing')\n"
    cls = tmp_path / "class"
    for name in ("zoe", "zoe\u0308", "Jose\u0301 Garci\u0301a", "kim", "lee"):
        (cls / name).mkdir(parents=True)
    (cls / "zoe" / "broadcasting.py").write_text(SOLUTION)
    (cls / "zoe\u0308" / "broadcasting.py").write_text(STUB)
    (cls / "Jose\u0301 Garci\u0301a" / "broadcasting.py").write_text(SOLUTION)
    for student, exported in (("kim", export + SOLUTION), ("lee", export + SOLUTION.replace("from __future__", "#"))):
        (cls / student / "broadcasting.ipynb").write_text(notebook(SOLUTION))
        (cls / student / "broadcasting.py").write_text(exported)
    (cls / "mia.py").write_bytes(b"\xef\xbb\xbf" + SOLUTION.encode())
    (cls / "nell").mkdir()                                    # a notebook with a BOM (red team: "not a valid notebook")
    (cls / "nell" / "broadcasting.ipynb").write_bytes(b"\xef\xbb\xbf" + notebook(SOLUTION).encode())
    write_zip(cls / "nina.zip", {"Broadcasting (1).ipynb": notebook(SOLUTION),       # with the public tests
                                 "tests/test_broadcasting.py": (ROOT / "assignments" / "tests" / "test_broadcasting.py").read_text()})
    (cls / "omar").mkdir()
    (cls / "omar" / "hw1_broadcasting.py").write_text(SOLUTION)
    (cls / "pat").mkdir()                                    # Jupyter's Duplicate, beside a file no exercise takes
    (cls / "pat" / "broadcasting-Copy2.ipynb").write_text(notebook(SOLUTION))
    (cls / "pat" / "plot.png").write_bytes(b"\x89PNG")               # no one's code: not named
    (cls / "pat" / "helpers.py").write_text("")
    canvas = write_zip(tmp_path / "canvas.zip", {
        "smithjohn_12_34_broadcasting.py": SOLUTION,
        "._smithjohn_12_34_broadcasting.py": b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X" + bytes(40),
    })
    out = cls / "grading"
    paths = [moodle, moodle_one, alice, bob, cls, canvas]
    grades = grade(paths, out, course=course)
    grades = grade(paths, out, course=course)                 # once more, with the output in the class folder
    full = ["Jane_Doe_12345", "Ann_Lee_34567", "Ivo_Ek_999", "alice", "zoe", "Jos\u00e9_Garc\u00eda", "kim", "lee",
            "mia", "nell", "nina", "omar", "pat", "smithjohn_12"]
    assert sorted(grades) == sorted(full + ["bob", "zo\u00eb"])
    for student in full:
        assert grades[student]["broadcasting"] == "20", (student, feedback(out, student))
    assert grades["bob"]["broadcasting"] == grades["zo\u00eb"]["broadcasting"] == "0"
    assert "broadcasting.py is an export of a notebook" in feedback(out, "lee")
    assert "mia.py was graded as broadcasting" in feedback(out, "mia")
    assert "hw1_broadcasting.py was graded as broadcasting.py" in feedback(out, "omar")
    assert "broadcasting-Copy2.ipynb was graded as broadcasting.ipynb" in feedback(out, "pat")
    assert "helpers.py was not graded: only each exercise's own file is" in feedback(out, "pat")
    assert "plot.png" not in feedback(out, "pat")


def test_names_in_another_case_are_graded(course, tmp_path):
    """Suffixes and names in capitals, as systems that ignore case save them: a Canvas download's
    ``.PY`` module and ``.ZIP`` upload, and a student's folder or single PATH holding
    ``Broadcasting.PY``: each is its student's module, graded with a note, not ignored."""
    download = tmp_path / "download"
    download.mkdir()
    (download / "smithjo_11_101_broadcasting.PY").write_text(SOLUTION)
    write_zip(download / "leekim_12_102_HW2.ZIP", {"Broadcasting.py": SOLUTION})
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "Broadcasting.PY").write_text(SOLUTION)
    (tmp_path / "bo").mkdir()
    (tmp_path / "bo" / "broadcasting.IPYNB").write_text(notebook(SOLUTION))
    out = tmp_path / "out"
    grades = grade([download, tmp_path / "ann", tmp_path / "bo" / "broadcasting.IPYNB"], out, course=course)
    assert {student: row["broadcasting"] for student, row in grades.items()} == \
        {"smithjo_11": "20", "leekim_12": "20", "ann": "20", "broadcasting": "20"}
    assert "smithjo_11_101_broadcasting.PY was graded as broadcasting.py" in feedback(out, "smithjo_11")
    assert "Broadcasting.PY was graded as broadcasting.py" in feedback(out, "ann")


def test_every_file_of_a_class_is_graded_or_named_to_the_instructor(course, tmp_path):
    """Folders given as PATHs keep their whole names (john.doe and john.smith are two students);
    a zip upload in a Moodle student folder is opened as the flat one would be; of a student's
    two Canvas uploads the higher file id wins, flat, zipped or a folder down in its zip; a zip
    without its suffix (one with a dot in its name too), or named .7z, is graded; another archive is a student with the reason; any other file, and
    what a class zip left out, is named to the instructor."""
    for student, source in (("john.doe", SOLUTION), ("john.smith", STUB)):
        (tmp_path / student).mkdir()
        (tmp_path / student / "broadcasting.py").write_text(source)
    moodle = tmp_path / "moodle"
    (moodle / "Jane Doe_12345_assignsubmission_file_").mkdir(parents=True)
    write_zip(moodle / "Jane Doe_12345_assignsubmission_file_" / "hw1.zip", {"hw1/broadcasting.py": SOLUTION})
    (moodle / "Ann Lee_34567_assignsubmission_file_").mkdir()
    (moodle / "Ann Lee_34567_assignsubmission_file_" / "broadcasting.py").write_text(SOLUTION)
    canvas = write_zip(tmp_path / "canvas.zip", {
        "smithbob_340934_208490284_hw1.zip": write_zip(tmp_path / "old.zip", {"broadcasting.py": STUB}).read_bytes(),
        "smithbob_340934_208490999_broadcasting.py": SOLUTION, "jonesann_12_77_broadcasting.py": SOLUTION,
        "carl_21_100_broadcasting.py": STUB,
        "carl_21_200_hw.zip": write_zip(tmp_path / "new.zip", {"hw/broadcasting.py": SOLUTION}).read_bytes()})
    odd = tmp_path / "odd"
    odd.mkdir()
    for name in ("erin", "dave.7z", "john.lee"):
        write_zip(odd / name, {"broadcasting.py": SOLUTION})
    (odd / "bob.tar.gz").write_bytes(b"\x1f\x8b" + bytes(30))
    (odd / "carol.py.txt").write_text(SOLUTION)
    (odd / "essay.docx").write_bytes(write_zip(tmp_path / "doc.zip", {"word/document.xml": "<w/>"}).read_bytes())
    class_zip = tmp_path / "class.zip"
    with zipfile.ZipFile(class_zip, "w") as zf:
        zf.writestr("kim/broadcasting.py", SOLUTION)
        zf.writestr("lee/broadcasting.py", SOLUTION)
        zf.writestr("../mallory/broadcasting.py", SOLUTION)
    out = tmp_path / "out"
    summary, _ = grade_class([tmp_path / "john.doe", tmp_path / "john.smith", moodle, canvas, odd, class_zip], course,
                             out, exercises=ONLY, jobs=2, timeouts=TIMEOUTS)
    assert {student: row["broadcasting"] for student, row in read_grades(out).items()} == {
        "john.doe": "20", "john.smith": "0", "Jane_Doe_12345": "20", "Ann_Lee_34567": "20", "smithbob_340934": "20",
        "jonesann_12": "20", "carl_21": "20", "erin": "20", "dave": "20", "john.lee": "20", "bob": "0", "kim": "20",
        "lee": "20"}
    assert "bob.tar.gz is an archive the grader cannot open: only .zip archives are read" in feedback(out, "bob")
    assert summary.class_notes == [
        "odd/carol.py.txt was ignored: it is not a folder, a .zip, a module (.py) or a notebook (.ipynb)",
        "odd/essay.docx was ignored: it is not a folder, a .zip, a module (.py) or a notebook (.ipynb)",
        "class.zip: ../mallory/broadcasting.py points outside the archive and was ignored"]


class _NoUtf8Flag(zipfile.ZipInfo):
    """A member whose name is UTF-8 bytes without the UTF-8 flag, as Windows Explorer and
    Info-ZIP write it (``zipfile`` would set the flag)."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("utf-8"), self.flag_bits


def test_zip_names_without_the_utf8_flag_are_read_as_utf8(course, tmp_path):
    cls = tmp_path / "class"     # an LMS download of the whole class
    cls.mkdir()
    with zipfile.ZipFile(cls / "download.zip", "w") as zf:
        zf.writestr(_NoUtf8Flag("\u00c9lodie M\u00fcller_4567_assignsubmission_file_/broadcasting.py"), SOLUTION)
        zf.writestr(_NoUtf8Flag("Zo\u00eb Li_4568_assignsubmission_file_/broadcasting.py"), STUB)
    grades = grade([cls / "download.zip"], tmp_path / "out", course=course)
    assert grades == {"\u00c9lodie_M\u00fcller_4567": {**grades["\u00c9lodie_M\u00fcller_4567"], "broadcasting": "20"},
                      "Zo\u00eb_Li_4568": {**grades["Zo\u00eb_Li_4568"], "broadcasting": "0"}}


def test_a_file_named_by_its_student_is_taken_for_the_exercise_it_implements(course):
    """Helpers named like another exercise's functions (masked_softmax beside its own softmax and
    log_softmax, two of losses' names) do not make it that exercise."""
    source = (ROOT / "solutions" / "masked_softmax.py").read_text()
    source += "\ndef softmax(X, dim=-1):\n    return X.softmax(dim)\n\ndef log_softmax(X, dim=-1):\n    return X\n"
    assert infer_exercise(source, course.exercises) == "masked_softmax"


def test_lms_names():
    assert parse_lms_name("smithbob_LATE_340934_208490284_model.py") == ("smithbob_340934", "model.py", 208490284, True)
    assert parse_lms_name("anon_abc_1_2_x.py") is None or parse_lms_name("anon_abc_1_2_x.py")[0].startswith("anon")
    assert parse_lms_name("Jane Doe_12345_assignsubmission_file_sgd.py")[:2] == ("Jane_Doe_12345", "sgd.py")
    assert parse_lms_name("Jane Doe_12345_assignsubmission_file_")[:2] == ("Jane_Doe_12345", None)
    assert parse_lms_name("Mary_Jane Doe_1003_assignsubmission_file_")[:2] == ("Mary_Jane_Doe_1003", None)
    assert parse_lms_name("alice") is None


# --------------------------------------------------------------------------- bad input


def test_no_student_id_starts_as_a_spreadsheet_formula(tmp_path):
    """grades.csv opens in a spreadsheet, where a cell that starts with = + - @ (or a tab or CR
    before one) is a formula: "-1-1" would show as -2."""
    names = ("-1-1", "-A1-B1", "=1+1", "+SUM(A1)", "@SUM(A1)", "\t=1", "\r-2", "-_-x", "a-1")
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "broadcasting.py").write_text(SOLUTION)
    ids = sorted(c.student for c in discover([tmp_path], ONLY))
    assert len(ids) == len(names) and not any(i.startswith(("-", "=", "+", "@", "\t", "\r")) for i in ids)
    assert {"1-1", "A1-B1", "1_1", "1", "2", "x", "a-1"} <= set(ids)      # the two SUM_A1s get a hash each


def test_bad_inputs_become_messages_and_the_batch_goes_on(course, tmp_path):
    cls = tmp_path / "class"
    cls.mkdir()
    (cls / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    subprocess.run(["zip", "-q", "-P", "secret", str(cls / "locked.zip"), "broadcasting.py"],
                   cwd=ROOT / "solutions", check=True)
    write_zip(cls / "slip.zip", {"../../broadcasting.py": SOLUTION, "/etc/broadcasting.py": SOLUTION})
    write_zip(cls / "bomb.zip", {"broadcasting.py": b"#" + b"0" * (64 << 20)})
    (cls / "linker").mkdir()
    (cls / "linker" / "broadcasting.py").symlink_to(ROOT / "solutions" / "broadcasting.py")
    (cls / "latin").mkdir()
    (cls / "latin" / "broadcasting.py").write_bytes(SOLUTION.encode() + b"\n# caf\xe9\n")
    (cls / "cookie").mkdir()    # Latin-1 as its coding line says, which Python honours (red team: it got 0)
    (cls / "cookie" / "broadcasting.py").write_bytes(b"# -*- coding: latin-1 -*-\n" + SOLUTION.encode()
                                                     + b"\n_dur\xe9e = 1\n")
    (cls / "notepad").mkdir()
    (cls / "notepad" / "broadcasting.py").write_bytes(SOLUTION.encode("utf-16"))
    (cls / "badjson").mkdir()
    (cls / "badjson" / "broadcasting.ipynb").write_text("{ not json")
    (cls / "empty").mkdir()
    (cls / "blank").mkdir()
    (cls / "blank" / "broadcasting.py").write_text("\n  \n")
    write_zip(cls / "emptyzip.zip", {})
    write_zip(cls / "zipped.zip", {"homework.zip": b"PK", "readme.txt": b"my homework is in the zip"})
    inner = write_zip(tmp_path / "hw2.zip", {"hw2/broadcasting.py": SOLUTION})      # a zip of a zip: opened
    write_zip(cls / "nested.zip", {"hw2.zip": inner.read_bytes(), "readme.txt": b"zipped twice"})
    with zipfile.ZipFile(cls / "appended.zip", "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # "Duplicate name": the point of this zip
        zf.writestr("broadcasting.py", STUB)
        zf.writestr("broadcasting.py", SOLUTION)            # added later: it supersedes the first
    (cls / "twice").mkdir()
    (cls / "twice" / "broadcasting.py").write_text(STUB)
    os.utime(cls / "twice" / "broadcasting.py", (1_600_000_000, 1_600_000_000))   # older than the zip
    write_zip(cls / "twice.zip", {"broadcasting.py": SOLUTION})
    (cls / "good").mkdir()
    (cls / "good" / "broadcasting.py").write_text(SOLUTION)
    (cls / "deep").mkdir()      # deeper than Python's parser goes: RecursionError, not SyntaxError
    (cls / "deep" / "broadcasting.py").write_text("x = a" + ".b" * 100_000)
    (cls / "garbled").mkdir()   # a message with a lone surrogate (SQLite cannot store it) and control characters
    (cls / "garbled" / "broadcasting.py").write_text(SOLUTION + "\nraise ValueError('odd \\ud800 \\x01 \\x1b[2J text')\n")
    (cls / "deepscan").mkdir()  # parses and imports, but too deep for the forbidden-call scan
    (cls / "deepscan" / "broadcasting.py").write_text(SOLUTION + "\ndef _deep(x):\n    return x" + "[0]" * 700)
    # names of 60 KB (a zip allows 64 KiB): looking for copy marks ("sgd (1).py") in them once took minutes each
    write_zip(cls / "longnames.zip", {"broadcasting.py": SOLUTION, **{f"a{i}{' ' * 60_000}b.txt": b"" for i in range(4)}})
    out = tmp_path / "out"
    grades = grade([cls], out, course=course)
    assert {grades[s]["broadcasting"] for s in ("good", "longnames", "cookie", "nested")} == {"20"}
    assert "UTF-8" not in feedback(out, "cookie")
    reasons = {
        "corrupt": "damaged or not a zip",
        "locked": "password-protected",
        "slip": "outside the archive",
        "bomb": "zip bomb",
        "linker": "symbolic link",
        "latin": "is not UTF-8 text",
        "notepad": "was saved as UTF-16 and read as such",
        "badjson": "not a valid notebook",
        "empty": "no broadcasting.py",
        "blank": "broadcasting.py is empty: save your work in it and submit again",
        "emptyzip": "it is empty",
        "zipped": "homework.zip: the zip file is damaged or not a zip",
        "appended": "the last copy was taken",
        "twice": "more than one entry",
        "deep": "could not be imported: RecursionError",
        "deepscan": "cannot be checked for forbidden calls",
        "garbled": "could not be imported: ValueError: odd \\ud800 \ufffd \ufffd[2J text",
    }
    for student, reason in reasons.items():
        assert student in grades, student
        score = float(grades[student]["broadcasting"])
        if student in ("twice", "latin", "notepad", "appended"):
            assert score == 20, student
        else:
            assert score == 0, student
        assert reason.lower() in feedback(out, student).lower(), (student, feedback(out, student))
    assert "All 20 tests failed for one reason" in feedback(out, "empty")         # said once, not 20 times
    assert feedback(out, "empty").count("no broadcasting.py") <= 2                # (and in the notes)
    ElementTree.parse(out / "junit.xml")                   # every tool can read it
    assert "../" not in "".join(p.name for p in tmp_path.rglob("*"))
    assert not (tmp_path / "broadcasting.py").exists()


def test_files_and_folders_that_cannot_be_read_are_said_in_their_students_rows(tmp_path):
    """A module or a folder the grader may not read (a download unpacked by another user): the
    student's row gives the reason, and the others are graded (red team: the first student had no
    row, and the instructor was told to run the command again; the second got "it is empty").
    Root reads everything, so as root the grader runs without that capability."""
    cls = tmp_path / "class"
    for student, path in (("alice", "broadcasting.py"), ("bob", "broadcasting.py"), ("carol", "hw/broadcasting.py")):
        (cls / student / path).parent.mkdir(parents=True, exist_ok=True)
        (cls / student / path).write_text(SOLUTION)
    (cls / "alice" / "broadcasting.py").chmod(0)
    (cls / "carol" / "hw").chmod(0)
    out = tmp_path / "out"
    no_bypass = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                 "--inh-caps=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    try:
        proc = subprocess.run([*no_bypass, sys.executable, "-m", "autograder", "grade", str(cls), "--out", str(out),
                               "--only", *ONLY, "--jobs", "1", "--course", str(ROOT)],
                              capture_output=True, text=True, timeout=600)
    finally:
        (cls / "carol" / "hw").chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert {s: row["broadcasting"] for s, row in read_grades(out).items()} == {"alice": "0", "bob": "20", "carol": "0"}
    assert "broadcasting.py cannot be read (Permission denied)" in feedback(out, "alice")
    assert "hw cannot be read (Permission denied)" in feedback(out, "carol")


def test_a_student_whose_files_cannot_be_written_is_reported_and_the_others_are_exported(tmp_path):
    """A student file the system refuses (a name too long for it once ``.json`` is added; here a
    folder in its place): the class's exports are whole, the other students' files are written,
    and the run says which are not, in one line, and exits 1 (a script must not upload what is there)."""
    cls = tmp_path / "class"
    for student in ("alice", "bob", "zoe"):
        (cls / student).mkdir(parents=True)
        (cls / student / "broadcasting.py").write_text(SOLUTION)
    out = tmp_path / "out"
    (out / "results" / "bob.json").mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(cls), "--out", str(out), "--only", *ONLY,
                           "--jobs", "1", "--course", str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines()[-1] == ("  exports not written: bob: cannot write their file in results/ "
                                            "(Is a directory) (their row is in grades.csv and junit.xml)")
    assert list(read_grades(out)) == ["alice", "bob", "zoe"]
    suites = ElementTree.parse(out / "junit.xml").getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["alice", "bob", "zoe"]
    assert sorted(p.name for p in (out / "results").iterdir() if p.is_file()) == ["alice.json", "zoe.json"]
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["alice.md", "bob.md", "zoe.md"]
    assert not list(out.rglob("*.partial"))
    umask = os.umask(0o022)
    os.umask(umask)
    assert {p.stat().st_mode & 0o777 for p in out.rglob("*.*") if p.is_file() and p.suffix != ".sqlite"} \
        == {0o666 & ~umask}                  # as open() makes them, readable by a web server


# --------------------------------------------------------------------------- resume, regrade, shards


def make_class(root: Path, n: int) -> Path:
    for i in range(n):
        (root / f"s{i:02d}").mkdir(parents=True)
        # a line of its own in each file, so each is graded (none is a cached copy of another)
        (root / f"s{i:02d}" / "broadcasting.py").write_text(f"{SOLUTION if i % 3 else STUB}\n# s{i:02d}\n")
    return root


def current_grades(path: Path) -> dict:
    with Gradebook(path) as gb:
        return {g.student: (g.score, [(t["name"], t["status"], t["output"]) for t in g.tests]) for g in gb.current()}


def run_count(path: Path) -> int:
    try:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_killed_batch_resumes_to_the_same_gradebook(course, tmp_path):
    cls = make_class(tmp_path / "class", 12)
    reference_out = tmp_path / "uninterrupted"
    grade([cls], reference_out, course=course)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "autograder", "grade", str(cls), "--out", str(out), "--only", *ONLY,
           "--jobs", "1", "--course", str(ROOT)]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while run_count(out / "gradebook.sqlite") < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = run_count(out / "gradebook.sqlite")
    assert 0 < partial < 12, "the kill should land mid-way"
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{partial} unchanged, skipped" in rerun.stdout
    assert current_grades(out / "gradebook.sqlite") == current_grades(reference_out / "gradebook.sqlite")
    assert run_count(out / "gradebook.sqlite") == 12


def test_unchanged_submissions_are_not_regraded_unless_asked(course, tmp_path):
    cls = make_class(tmp_path / "class", 4)
    out = tmp_path / "out"
    grade([cls], out, course=course)
    summary, _ = grade_class([cls], course, out, exercises=ONLY, jobs=2, timeouts=TIMEOUTS)
    assert (summary.graded, summary.skipped) == (0, 4)
    summary, _ = grade_class([cls], course, out, exercises=ONLY, jobs=2, timeouts=TIMEOUTS, regrade=["s01"])
    assert (summary.graded, summary.skipped) == (1, 3)
    (cls / "s02").rename(cls / "Zoë M")                          # named as the instructor knows them
    (cls / "s03").rename(cls / "Zoë_M")                          # another student, whose name is the id of hers
    zoe_m = next(s for s in grade([cls], out, course=course) if s.startswith("Zoë_M-"))
    summary, _ = grade_class([cls], course, out, exercises=ONLY, jobs=2, timeouts=TIMEOUTS, regrade=["Zoë M"])
    assert (summary.graded, summary.skipped) == (1, 3)
    with Gradebook(out / "gradebook.sqlite") as gb:
        assert len(gb.history(zoe_m)) == 2 and len(gb.history("Zoë_M")) == 1
    (cls / "s00" / "broadcasting.py").write_text(SOLUTION)        # s00 fixes their work
    summary, _ = grade_class([cls], course, out, exercises=ONLY, jobs=2, timeouts=TIMEOUTS)
    assert (summary.graded, summary.skipped) == (1, 3)
    with Gradebook(out / "gradebook.sqlite") as gb:
        assert len(gb.history("s01")) == 2 and len(gb.history("s00")) == 2 and len(gb.history("s02")) == 1
        assert [h[3] for h in gb.history("s00")] == [0, 20]
    assert read_grades(out)["s00"]["broadcasting"] == "20"


def test_a_class_graded_with_forbidden_calls_allowed_is_not_taken_for_one_graded_without(course, tmp_path):
    """reference/ uses the calls students may not: --allow-forbidden gives it full marks in a
    class as for one submission, and a run without the flag grades it again (and back)."""
    (tmp_path / "class" / "ref").mkdir(parents=True)
    shutil.copy(ROOT / "reference" / "broadcasting.py", tmp_path / "class" / "ref")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "autograder", "grade", str(tmp_path / "class"), "--out", str(out),
           "--allow-forbidden", "--only", *ONLY, "--jobs", "1", "--course", str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert read_grades(out)["ref"]["broadcasting"] == "20"
    for check_forbidden, score in ((True, "0"), (False, "20"), (True, "0")):
        summary, _ = grade_class([tmp_path / "class"], course, out, exercises=ONLY, jobs=1, timeouts=TIMEOUTS,
                                 check_forbidden=check_forbidden)
        assert (summary.graded, summary.skipped) == (1, 0)
        assert read_grades(out)["ref"]["broadcasting"] == score, check_forbidden
    summary, _ = grade_class([tmp_path / "class"], course, out, exercises=ONLY, jobs=1, timeouts=TIMEOUTS)
    assert (summary.graded, summary.skipped) == (0, 1)


def test_a_class_graded_for_some_exercises_is_graded_for_the_others_when_asked(course, tmp_path):
    """A run made with --only holds those exercises: a later run of more exercises grades the
    students again (they were 'unchanged' and kept 0 for the rest), and the exports of a run show
    its exercises alone, totals included."""
    cls = tmp_path / "class"
    (cls / "ann").mkdir(parents=True)
    for ex in ("broadcasting", "masked_softmax"):
        shutil.copy(ROOT / "solutions" / f"{ex}.py", cls / "ann")
    out = tmp_path / "out"
    for exercises, graded in ((["broadcasting"], 1), (["broadcasting", "masked_softmax"], 1), (["masked_softmax"], 0)):
        summary, _ = grade_class([cls], course, out, exercises=exercises, jobs=1, timeouts=TIMEOUTS)
        assert summary.graded == graded, exercises
        row = read_grades(out)["ann"]
        assert [k for k in row if k not in ("student", "total", "max_total", "late")] == exercises
        assert all(row[ex] == "20" for ex in exercises) and row["total"] == row["max_total"] == str(20 * len(exercises))


def test_one_student_in_two_sections_is_reported(course, tmp_path):
    """Two folders of students given together, with an alice in each: one alice, graded on the
    files of both, told in her feedback and to the instructor (the command prints the summary's list)."""
    for section, other in (("sec1", "bob"), ("sec2", "carl")):
        for student in ("alice", other):
            (tmp_path / section / student).mkdir(parents=True)
            shutil.copy(ROOT / "solutions" / "broadcasting.py", tmp_path / section / student)
    summary, students = grade_class([tmp_path / "sec1", tmp_path / "sec2"], course, tmp_path / "out", exercises=ONLY,
                                    jobs=1, timeouts=TIMEOUTS)
    assert students == 3 and summary.combined == [("alice", "sec1/alice + sec2/alice")]
    assert "more than one entry for alice" in feedback(tmp_path / "out", "alice")


def test_an_exercise_taken_from_the_cache_keeps_the_notes_its_grading_gave(course, tmp_path):
    """A resubmission that changes another file reuses the notebook exercise's results, and the
    note of its failing cell is still in the student's feedback."""
    student = tmp_path / "class" / "s00"
    student.mkdir(parents=True)
    (student / "broadcasting.ipynb").write_text(notebook("from d2l import torch as d2l\n" + SOLUTION, magic=False))
    note = "broadcasting.ipynb, cell 2 raised ModuleNotFoundError: No module named 'd2l'"
    out = tmp_path / "out"
    grade([tmp_path / "class"], out, course=course)
    (student / "masked_softmax.py").write_text("# started on the next exercise\n")
    summary, _ = grade_class([tmp_path / "class"], course, out, exercises=ONLY, jobs=2, timeouts=TIMEOUTS)
    assert summary.graded == 1
    with Gradebook(out / "gradebook.sqlite") as gb:
        [run] = [g for g in gb.current()]
        assert len(gb.history("s00")) == 2
        assert any(n.startswith(note) for n in run.notes)
    assert note in feedback(out, "s00")


def test_an_exercise_is_taken_from_the_cache_only_with_every_module_it_can_reach(course, tmp_path):
    """bob's broadcasting.py and masked_softmax.py are alice's, byte for byte; the functions come
    from losses.py, two imports down, where alice has the solution and bob the stub."""
    cls = tmp_path / "class"
    for student, losses in (("alice", SOLUTION), ("bob", STUB)):
        (cls / student).mkdir(parents=True)
        (cls / student / "broadcasting.py").write_text(IMPORTS_SIBLING)
        (cls / student / "masked_softmax.py").write_text("from losses import *\n")
        (cls / student / "losses.py").write_text(losses)
    bob = cls / "bob"
    shutil.move(bob, tmp_path / "bob")
    out = tmp_path / "out"
    assert grade([cls], out, course=course)["alice"]["broadcasting"] == "20"
    shutil.move(tmp_path / "bob", bob)
    assert grade([cls], out, course=course)["bob"]["broadcasting"] == "0"


def test_a_module_that_loads_code_by_a_computed_name_is_keyed_with_every_module(tmp_path):
    (tmp_path / "broadcasting.py").write_text("import importlib\nm = importlib.import_module('los' + 'ses')\n")
    (tmp_path / "attention.py").write_text("from masked_softmax import masked_softmax\n")
    before = module_keys(tmp_path, ["broadcasting", "attention"], ["losses", "masked_softmax", "sgd"])
    (tmp_path / "losses.py").write_text("x = 1\n")
    after = module_keys(tmp_path, ["broadcasting", "attention"], ["losses", "masked_softmax", "sgd"])
    assert before["broadcasting"] != after["broadcasting"] and before["attention"] == after["attention"]


def test_what_a_missing_module_or_a_spent_budget_gave_is_not_cached_for_others(course, tmp_path):
    """A student without the module is told what their own submission holds, not a classmate's;
    a student whose slow exercise spent the submission's time budget (stopping the next one)
    does not hand that stop to a classmate with the same file, nor to their own fixed resubmission."""
    cls = tmp_path / "class"
    for student, name in (("aaron", "medical_leave_letter.pdf"), ("bella", "notes.txt")):
        (cls / student).mkdir(parents=True)
        (cls / student / name).write_text("x\n")
    gradients = (ROOT / "solutions" / "gradients.py").read_text()
    slow = SOLUTION.replace("def broadcast_shape(*shapes)", "def broadcast_shape(*shapes):\n    import time; "
                            "time.sleep(1.5)\n    return _broadcast_shape(*shapes)\n\n\ndef _broadcast_shape(*shapes)")
    for student, files in (("carl", {"broadcasting.py": slow, "gradients.py": gradients}),
                           ("dora", {"gradients.py": gradients})):
        (cls / student).mkdir()
        for name, text in files.items():
            (cls / student / name).write_text(text)
    out, exercises = tmp_path / "out", ["broadcasting", "gradients"]
    budget = Timeouts(call=5.0, start=20.0, submission=3.0)
    grade_class([cls], course, out, exercises=exercises, jobs=1, timeouts=budget)
    assert "notes.txt" in feedback(out, "bella") and "medical_leave" not in feedback(out, "bella")
    grades = read_grades(out)
    assert grades["carl"]["gradients"] == "0" and "time budget" in feedback(out, "carl")
    assert grades["dora"]["gradients"] == "20", feedback(out, "dora")
    (cls / "carl" / "broadcasting.py").write_text(SOLUTION)
    grade_class([cls], course, out, exercises=exercises, jobs=1, timeouts=TIMEOUTS)
    assert read_grades(out)["carl"]["gradients"] == "20", feedback(out, "carl")


def test_no_two_submissions_share_a_cache_key(tmp_path):
    """A module made of another student's module and its sibling, joined as the key once joined
    them, does not take their key (it scored 0 and gave them its 0); a notebook runs cell by cell
    and is named in feedback, so it is not keyed as the same text in a .py."""
    victim, forger = tmp_path / "victim", tmp_path / "forger"
    for folder in (victim, forger):
        folder.mkdir()
    (victim / "attention.py").write_text("from masked_softmax import *\n")
    (victim / "masked_softmax.py").write_text(SOLUTION)
    (forger / "attention.py").write_bytes(b"from masked_softmax import *\n" + b"\0masked_softmax\0" + SOLUTION.encode())
    keys = [module_keys(folder, ["attention"], ["masked_softmax"])["attention"] for folder in (victim, forger)]
    assert keys[0] != keys[1]
    as_module = module_keys(victim, ["attention"], ["masked_softmax"])
    as_notebook = module_keys(victim, ["attention"], ["masked_softmax"], {"attention": "attention.ipynb"})
    assert as_module != as_notebook != module_keys(victim, ["attention"], ["masked_softmax"], {"attention": "hw.ipynb"})


def test_shards_cover_the_class_once_and_merge_into_one_gradebook(course, tmp_path):
    cls = make_class(tmp_path / "class", 9)
    whole = tmp_path / "whole"
    grade([cls], whole, course=course)
    shard_books = []
    seen = []
    for k in (1, 2, 3):
        out = tmp_path / f"shard{k}"
        grade_class([cls], course, out, exercises=ONLY, jobs=1, timeouts=TIMEOUTS, shard=(k, 3))
        shard_books.append(out / "gradebook.sqlite")
        seen += list(read_grades(out)) if (out / "grades.csv").exists() else []
    assert sorted(seen) == sorted(read_grades(whole))
    merged = tmp_path / "merged"
    merge_gradebooks(shard_books, course, merged, exercises=ONLY)
    assert current_grades(merged / "gradebook.sqlite") == current_grades(whole / "gradebook.sqlite")
    assert read_grades(merged) == read_grades(whole)
    added, unwritten, versions = merge_gradebooks(shard_books, course, merged, exercises=ONLY)
    assert (added, unwritten, len(versions)) == (0, [], 1)      # merging twice adds nothing; one suite version


def test_a_merge_keeps_each_students_current_run_whatever_the_order(course, tmp_path):
    """alice is graded on her stub in one run, on her fixed work in a later one: merged either way
    round, her grade is the later one; the exports cover the exercises the runs graded."""
    for run, source in (("A", STUB), ("B", SOLUTION)):
        (tmp_path / run / "alice").mkdir(parents=True)
        (tmp_path / run / "alice" / "broadcasting.py").write_text(source)
        (tmp_path / run / "bob.py").write_text(SOLUTION)
        grade_class([tmp_path / run], course, tmp_path / f"out{run}", exercises=ONLY, jobs=1, timeouts=TIMEOUTS)
    books = [tmp_path / f"out{run}" / "gradebook.sqlite" for run in "AB"]
    for order in (books, books[::-1]):
        merged = tmp_path / f"merged{len(list(tmp_path.glob('merged*')))}"
        merge_gradebooks(order, course, merged)
        assert read_grades(merged) == read_grades(tmp_path / "outB"), order
        with Gradebook(merged / "gradebook.sqlite") as gb:
            assert [h[3] for h in gb.history("alice")] == [0, 20]


def record_run(gb: Gradebook, student: str, score: float, digest: str) -> int:
    test = plugin.TestResult("t", "t", "broadcasting", score, 20.0, "passed" if score else "failed", "")
    return gb.record(student, digest, student, [], False, GradeResult([test], ONLY), Provenance("v", "h", "t"))


def test_a_merge_says_how_many_grades_each_suite_version_gave(course, tmp_path):
    """Shards graded under other suites (or one with --allow-forbidden) merge, and say so."""
    books = []
    for name, suite in (("one", "h1"), ("two", "h2")):
        books.append(tmp_path / f"{name}.sqlite")
        with Gradebook(books[-1]) as gb:
            test = plugin.TestResult("t", "t", "broadcasting", 20.0, 20.0, "passed", "")
            gb.record(name, name, name, [], False, GradeResult([test], ONLY), Provenance("v", suite, "t"))
    assert merge_gradebooks(books, course, tmp_path / "merged")[2] == {"h1": 1, "h2": 1}


def test_times_written_by_earlier_versions_are_read_as_the_instants_they_name(tmp_path):
    """Earlier versions wrote local time to the second: a run at 10:00+0100 is older than one
    at 09:30+0000, and runs of one second keep the order the gradebook made them in. Runs of two
    gradebooks graded at the same instant merge to the same grade in either order."""
    books = []
    for name, runs in (("one", [("2026-12-01T10:00:00+0100", 20), ("2026-12-01T09:30:00+0000", 5),
                                ("2026-12-01T09:30:00+0000", 10)]),
                       ("two", [("2026-12-01T09:30:00.000001+00:00", 15)])):
        path = tmp_path / f"{name}.sqlite"
        with Gradebook(path) as gb:
            for i, (when, score) in enumerate(runs):
                run = record_run(gb, "alice", score, f"{name}{i}")
                gb.db.execute("UPDATE runs SET graded_at=? WHERE id=?", (when, run))
            gb.db.commit()
        books.append(path)
    with Gradebook(books[0]) as gb:
        assert [(h[1], h[3]) for h in gb.history("alice")] == [
            ("2026-12-01T09:00:00.000000+00:00", 20), ("2026-12-01T09:30:00.000000+00:00", 5),
            ("2026-12-01T09:30:00.000001+00:00", 10)]
        assert [g.score for g in gb.current()] == [10]
    merged = []
    for order in (books, books[::-1]):
        with Gradebook(tmp_path / f"merged{len(merged)}.sqlite") as gb:
            for path in order:
                with Gradebook(path) as other:
                    gb.merge_from(other)
            merged.append([(g.score, g.digest) for g in gb.current()])
    assert merged[0] == merged[1] == [(15, "two0")]


def test_a_run_is_newer_than_the_last_even_when_the_clock_was_set_back(tmp_path):
    with Gradebook(tmp_path / "gb.sqlite") as gb:
        first = record_run(gb, "alice", 0, "a")
        gb.db.execute("UPDATE runs SET graded_at='2999-01-01T00:00:00.000000+00:00' WHERE id=?", (first,))
        gb.db.commit()
        record_run(gb, "alice", 20, "b")
        assert [g.score for g in gb.current()] == [20]
        assert gb.history("alice")[-1][1] == "2999-01-01T00:00:00.000001+00:00"


def test_an_empty_class_or_an_unknown_student_to_regrade_is_an_error_before_grading(course, tmp_path):
    (tmp_path / "class").mkdir()
    with pytest.raises(GradingError, match="no submissions in"):
        grade_class([tmp_path / "class"], course, tmp_path / "out", exercises=ONLY)
    (tmp_path / "class" / "s01").mkdir()
    with pytest.raises(GradingError, match="cannot regrade s1O: no such student"):
        grade_class([tmp_path / "class"], course, tmp_path / "out", exercises=ONLY, regrade=["s1O"])
    assert not (tmp_path / "out").exists()


STALLING_TEST = """

@pytest.mark.points(1)
def test_a_fault_of_the_grader(student):
    if student.broadcasting.can_broadcast((1,), (1,)) == "stall":    # never, for honest code
        while True:                                                 # the trusted side spins
            pass
"""


def test_a_stuck_grader_process_is_replaced_and_the_others_are_graded(tmp_path, monkeypatch):
    """A fault on the trusted side (student code is bounded by the worker's deadlines) costs one
    student, reported as not graded, not the rest of the class."""
    monkeypatch.delitem(sys.modules, "test_broadcasting", raising=False)   # suites stay imported between runs
    root = tmp_path / "course"
    for part in ("assignments", "hidden", "reference"):
        shutil.copytree(ROOT / part, root / part)
    suite = root / "hidden" / "test_broadcasting.py"
    suite.write_text(suite.read_text() + STALLING_TEST)
    cls = tmp_path / "class"
    for student, source in (("a_stuck", SOLUTION.replace("def can_broadcast(*shapes) -> bool:",
                                                          "def can_broadcast(*shapes):\n    return 'stall'\n\n\n"
                                                          "def _old_can_broadcast(*shapes) -> bool:")),
                            ("b_good", SOLUTION), ("c_good", SOLUTION)):
        (cls / student).mkdir(parents=True)
        (cls / student / "broadcasting.py").write_text(source)
    summary, _ = grade_class([cls], instructor_course(root), tmp_path / "out", exercises=ONLY, jobs=1,
                             timeouts=Timeouts(call=5.0, start=20.0, stall=8.0))
    monkeypatch.undo()
    assert [student for student, _ in summary.failed] == ["a_stuck"]
    assert "took longer than 8 s" in summary.failed[0][1]
    grades = read_grades(tmp_path / "out")
    assert grades["b_good"]["broadcasting"] == grades["c_good"]["broadcasting"] == "21"


def test_a_fault_reading_one_students_files_spares_the_rest(course, tmp_path, monkeypatch):
    cls = make_class(tmp_path / "class", 3)
    load = Candidate.load

    def faulty_load(candidate):
        if candidate.student == "s01":
            raise RuntimeError("a fault of the grader")
        return load(candidate)

    monkeypatch.setattr(Candidate, "load", faulty_load)
    summary, _ = grade_class([cls], course, tmp_path / "out", exercises=ONLY, jobs=1, timeouts=TIMEOUTS)
    assert summary.failed == [("s01", "its files could not be read (RuntimeError: a fault of the grader)")]
    assert summary.graded == 2 and set(read_grades(tmp_path / "out")) == {"s00", "s02"}


def test_a_file_that_is_not_a_gradebook_is_refused_and_left_as_it_was(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE attendance (student TEXT)")
    before = other.read_bytes()
    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    for path, reason in ((other, "of something else"), (text, "not a gradebook"), (tmp_path, "cannot open")):
        with pytest.raises(GradebookError, match=reason):
            Gradebook(path)
    assert other.read_bytes() == before and text.read_text() == "not a database"


def test_discovery_does_not_read_files_up_front(course, tmp_path):
    cls = make_class(tmp_path / "class", 3)
    candidates = discover([cls], course.exercises)
    shutil.rmtree(cls / "s01")
    entries, _ = candidates[1].load()
    assert [c.student for c in candidates] == ["s00", "s01", "s02"] and entries == []


# --------------------------------------------------------------------------- finding the students


def students_of(candidates) -> dict:
    """student -> the names of the files discovery gives for them."""
    return {c.student: sorted(e.path for e in c.load()[0]) for c in candidates}


def test_lms_downloads_in_a_folder_or_zip_are_classes_not_students(course, tmp_path):
    """A folder of Canvas bulk zips (one per section), an extracted one in a subfolder, and one
    zipped inside a class zip: each of their students is a student."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    write_zip(downloads / "submissions.zip", {"smithbob_101_9001_broadcasting.py": STUB,
                                              "jonesann_102_9002_broadcasting.py": SOLUTION})
    write_zip(downloads / "submissions (1).zip", {"doejane_201_9101_broadcasting.py": SOLUTION,
                                                  "roemax_202_9102_broadcasting.py": STUB})
    (downloads / "sec3").mkdir()
    for name in ("leekim_301_9201_broadcasting.py", "parkjo_302_9202_broadcasting.py"):
        (downloads / "sec3" / name).write_text(SOLUTION)
    (downloads / "alice.zip").write_bytes(write_zip(tmp_path / "alice.zip", {"broadcasting.py": SOLUTION}).read_bytes())
    inner = write_zip(tmp_path / "inner.zip", {"wuli_401_9301_broadcasting.py": SOLUTION,
                                               "hoang_402_9302_broadcasting.py": SOLUTION})
    outer = write_zip(tmp_path / "outer.zip", {"sec4.zip": inner.read_bytes(), "bob/broadcasting.py": SOLUTION,
                                               "sec5/kay_501_9401_broadcasting.py": SOLUTION,
                                               "sec5/lou_502_9402_broadcasting.py": SOLUTION})
    found = students_of(discover([downloads, outer], course.exercises))
    assert found == {
        "smithbob_101": ["smithbob_101_9001_broadcasting.py"], "jonesann_102": ["jonesann_102_9002_broadcasting.py"],
        "doejane_201": ["doejane_201_9101_broadcasting.py"], "roemax_202": ["roemax_202_9102_broadcasting.py"],
        "leekim_301": ["leekim_301_9201_broadcasting.py"], "parkjo_302": ["parkjo_302_9202_broadcasting.py"],
        "alice": ["broadcasting.py"], "bob": ["broadcasting.py"],
        "wuli_401": ["wuli_401_9301_broadcasting.py"], "hoang_402": ["hoang_402_9302_broadcasting.py"],
        "kay_501": ["kay_501_9401_broadcasting.py"], "lou_502": ["lou_502_9402_broadcasting.py"]}


def test_one_upload_taken_out_of_a_download_keeps_its_lms_id_and_late_mark(course, tmp_path):
    """A straggler's Canvas file, a Moodle student folder or a Canvas-named zip given alone as a
    PATH is the student the download names (``smithbob_101``, late), graded as the module its
    LMS name says, as it would be inside the download (red team: it became a second row,
    ``smithbob_LATE_101_9050_broadcasting``, without the late mark); a dated copy of the
    student's own is not taken for an LMS name."""
    late = tmp_path / "late"
    moodle = tmp_path / "Jane Doe_12345_assignsubmission_file_"
    for folder in (late, moodle, tmp_path / "own"):
        folder.mkdir()
    (late / "smithbob_LATE_101_9050_broadcasting.py").write_text(SOLUTION)
    (moodle / "broadcasting.py").write_text(SOLUTION)
    zipped = write_zip(late / "jonesann_102_9060_hw.zip", {"broadcasting.py": SOLUTION})
    dated = tmp_path / "own" / "broadcasting_2026_12_01.py"
    dated.write_text(SOLUTION)
    found = {c.student: c for c in discover([late / "smithbob_LATE_101_9050_broadcasting.py", moodle, zipped,
                                             dated], course.exercises)}
    assert sorted(found) == ["Jane_Doe_12345", "broadcasting_2026_12_01", "jonesann_102", "smithbob_101"]
    assert [found[s].late for s in sorted(found)] == [False, False, False, True]
    entries, notes = found["smithbob_101"].load()
    assert [e.module_name for e in entries] == ["broadcasting.py"] and notes == []


def test_a_path_that_is_a_symbolic_link_is_followed(course, tmp_path):
    """The instructor's own PATH may be a link (``current -> class-2026``): its students are
    graded (red team: the whole class became one student with a 0). Links inside the class are
    still refused."""
    cls = tmp_path / "class-2026"
    for student in ("alice", "bob"):
        (cls / student).mkdir(parents=True)
        (cls / student / "broadcasting.py").write_text(SOLUTION)
    (cls / "carol").symlink_to(cls / "alice")
    (tmp_path / "current").symlink_to(cls)
    found = {c.student: c for c in discover([tmp_path / "current"], course.exercises)}
    assert sorted(found) == ["alice", "bob", "carol"]
    assert "symbolic link" in found["carol"].load()[1][0]


def test_sections_of_one_student_or_with_an_unzipped_upload_are_classes(course, tmp_path):
    """A folder of section downloads: a section of one student (beside one of two), a section
    where a student's zip was unzipped in place (a Canvas-named folder beside Canvas's files) and
    one of such folders alone, in a folder and in a zip: each student is found under their LMS
    id, none under a section's."""
    downloads = tmp_path / "downloads"
    for section, names in (("sec1", ["leekim_301_9201_broadcasting.py"]),
                           ("sec2", ["parkjo_302_9202_broadcasting.py", "wuli_303_9203_broadcasting.py"]),
                           ("sec3", ["kay_304_9204_broadcasting.py", "lou_305_9205_hw2/broadcasting.py"]),
                           ("sec4", ["mia_306_9206_hw2/broadcasting.py", "noa_307_9207_hw2/broadcasting.py"])):
        for name in names:
            (downloads / section / name).parent.mkdir(parents=True, exist_ok=True)
            (downloads / section / name).write_text(SOLUTION)
    zipped = write_zip(tmp_path / "sections.zip", {"a/max_401_9301_broadcasting.py": SOLUTION,
                                                   "b/ned_402_9302_broadcasting.py": SOLUTION,
                                                   "b/oli_403_9303_hw2/broadcasting.py": SOLUTION})
    found = discover([downloads, zipped], course.exercises)
    assert sorted(students_of(found)) == ["kay_304", "leekim_301", "lou_305", "max_401", "mia_306", "ned_402",
                                          "noa_307", "oli_403", "parkjo_302", "wuli_303"]
    assert [c.doubts for c in found] == [[]] * 10


def test_a_dated_upload_or_a_full_name_with_an_underscore_leaves_a_section_a_section(course, tmp_path):
    """In a folder of section downloads, a Canvas upload of a dated file
    (``smithbob_101_9001_broadcasting_2026_12_01.py``) and a Moodle full name with an underscore
    (``Mary_Jane Doe``) are their students' uploads, so each section's students are found (red
    team: either one made its whole section one student, graded on one arbitrary file)."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    write_zip(downloads / "section1.zip", {"smithbob_101_9001_broadcasting_2026_12_01.py": SOLUTION,
                                           "jonesann_102_9002_broadcasting.py": STUB})
    write_zip(downloads / "section2.zip", {"Mary_Jane Doe_1003_assignsubmission_file_/broadcasting.py": SOLUTION,
                                           "Bob Stub_1006_assignsubmission_file_/broadcasting.py": STUB})
    found = discover([downloads], course.exercises)
    assert students_of(found) == {
        "smithbob_101": ["smithbob_101_9001_broadcasting_2026_12_01.py"],
        "jonesann_102": ["jonesann_102_9002_broadcasting.py"],
        "Mary_Jane_Doe_1003": ["broadcasting.py"], "Bob_Stub_1006": ["broadcasting.py"]}
    entries, notes = next(c for c in found if c.student == "smithbob_101").load()
    assert notes == ["smithbob_101_9001_broadcasting_2026_12_01.py was graded as broadcasting (from the functions "
                     "it defines); name it broadcasting.py to be sure"]


def test_students_whose_files_look_lms_named_beside_a_section_stay_students(course, tmp_path):
    """Beside a real section, two students' folders each holding ``hw_1_2_broadcasting.py`` (one
    upload number in two places, which an LMS never gives) and a folder holding
    ``lab_3_1_broadcasting.py`` beside ``lab_4_1_gradients.py`` (two students under one number)
    are those students, not sections of made-up ones; the instructor is told to check them."""
    cls = tmp_path / "class"
    for name, source in (("sec1/leekim_301_9201_broadcasting.py", SOLUTION), ("sec1/parkjo_302_9202_broadcasting.py", STUB),
                         ("jack/hw_1_2_broadcasting.py", SOLUTION), ("kate/hw_1_2_broadcasting.py", STUB),
                         ("lena/lab_3_1_broadcasting.py", SOLUTION), ("lena/lab_4_1_gradients.py", STUB)):
        (cls / name).parent.mkdir(parents=True, exist_ok=True)
        (cls / name).write_text(source)
    found = discover([cls], course.exercises)
    assert students_of(found) == {"jack": ["hw_1_2_broadcasting.py"], "kate": ["hw_1_2_broadcasting.py"],
                                  "leekim_301": ["leekim_301_9201_broadcasting.py"],
                                  "lena": ["lab_3_1_broadcasting.py", "lab_4_1_gradients.py"],
                                  "parkjo_302": ["parkjo_302_9202_broadcasting.py"]}
    assert [c.student for c in found if c.doubts] == ["jack", "kate", "lena"]


def test_a_student_holding_others_lms_uploads_is_one_student_and_the_instructor_is_told(course, tmp_path):
    """A section download the grader cannot take for one (the stub at its top, or an instructor's
    script beside the uploads) and a student's zip holding classmates' notebooks stay one student
    each, and the summary says which to check and why; a student with run logs named like
    uploads, or a Canvas upload holding its own LMS-named copy, raises nothing."""
    cls = tmp_path / "class"
    (cls / "sec1").mkdir(parents=True)
    (cls / "sec1" / "broadcasting.py").write_text(STUB)
    for name in ("leekim_301_9201_broadcasting.py", "parkjo_302_9202_broadcasting.ipynb"):
        (cls / "sec1" / name).write_text(SOLUTION)
    (cls / "sec2").mkdir()
    (cls / "sec2" / "collect_grades.py").write_text("print('helper')\n")
    for name in ("wuli_303_9203_hw2.zip", "kay_304_9204_hw2.zip", "lou_305_9205_hw2.zip", "max_306_9206_hw2.zip"):
        write_zip(cls / "sec2" / name, {"broadcasting.py": SOLUTION})
    write_zip(cls / "hana.zip", {"hw/broadcasting.py": SOLUTION, "smithjohn_1234_9001_broadcasting.ipynb": "{}"})
    (cls / "ivy").mkdir()
    (cls / "ivy" / "broadcasting.py").write_text(SOLUTION)
    (cls / "ivy" / "run_1_1_loss.py").write_text("print(1)\n")
    write_zip(cls / "jo_501_9501_hw2.zip", {"jo_501_9501_broadcasting.py": SOLUTION})
    summary, _ = grade_class([cls], course, tmp_path / "out", exercises=ONLY, jobs=1, timeouts=TIMEOUTS)
    assert sorted(read_grades(tmp_path / "out")) == ["hana", "ivy", "jo_501", "sec1", "sec2"]
    advice = "not graded as theirs; if it is an LMS download, give it as a PATH of its own holding the uploads alone"
    assert summary.doubts == [
        ("hana", "class/hana.zip was graded as one student, hana, but holds files an LMS named for 1 other student "
                 f"(smithjohn_1234), {advice}"),
        ("sec1", "class/sec1 was graded as one student, sec1, but holds files an LMS named for 2 other students "
                 f"(leekim_301, parkjo_302), {advice}"),
        ("sec2", "class/sec2 was graded as one student, sec2, but holds files an LMS named for 4 other students "
                 f"(kay_304, lou_305, max_306, ...), {advice}")]
    (cls / "sec1" / "broadcasting.py").unlink()           # as the summary says: the uploads alone, each a PATH
    (cls / "sec2" / "collect_grades.py").unlink()
    again = grade_class([cls / "sec1", cls / "sec2"], course, tmp_path / "out2", exercises=ONLY, jobs=1,
                        timeouts=TIMEOUTS)[0]
    assert sorted(read_grades(tmp_path / "out2")) == ["kay_304", "leekim_301", "lou_305", "max_306", "parkjo_302",
                                                      "wuli_303"]
    assert again.doubts == []


def test_among_several_paths_work_folders_down_is_the_paths_student(course, tmp_path):
    """Among several PATHs, a student's folder or zip whose work is two folders down
    (``hw1/src/broadcasting.py``, beside a README) is that student (red team: two such folders
    became one student, ``hw1``, and one of them was lost; a zip became ``src``)."""
    for student in ("alice", "bob"):
        (tmp_path / student / "hw1" / "src").mkdir(parents=True)
        (tmp_path / student / "hw1" / "src" / "broadcasting.py").write_text(SOLUTION)
        (tmp_path / student / "README.md").write_text("mine")
    carol = write_zip(tmp_path / "carol.zip", {"hw1/src/broadcasting.py": SOLUTION, "hw1/notes.txt": "x"})
    found = students_of(discover([tmp_path / "alice", tmp_path / "bob", carol], course.exercises))
    assert found == {"alice": ["broadcasting.py"], "bob": ["broadcasting.py"], "carol": ["broadcasting.py"]}


def test_a_path_given_twice_is_read_once_and_dot_is_the_folders_name(course, tmp_path, monkeypatch):
    """The same class twice (a shell glob that matches it twice) is read once, with a note (red
    team: every student's files counted twice, and a note on each); ``grade .`` in a student's
    folder is that student (it was "student")."""
    cls = tmp_path / "class"
    for student in ("alice", "bob"):
        (cls / student).mkdir(parents=True)
        (cls / student / "broadcasting.py").write_text(SOLUTION)
    candidates, notes = find_class([cls, tmp_path / "class" / ".." / "class"], course.exercises)
    assert [(c.student, c.notes) for c in candidates] == [("alice", []), ("bob", [])]
    assert notes == [f"{tmp_path}/class/../class was given more than once; it was read once"]
    monkeypatch.chdir(cls / "alice")
    assert students_of(discover([Path(".")], course.exercises)) == {"alice": ["broadcasting.py"]}


def test_a_class_folder_with_a_module_at_its_top_is_one_student_and_the_instructor_is_told(course, tmp_path):
    """A class folder with a stray stub at its top is one submission, as the contract says, and
    the instructor is told that its folders each hold a module (red team: it was said nowhere)."""
    cls = tmp_path / "class"
    for student in ("alice", "bob", "carol"):
        (cls / student).mkdir(parents=True)
        (cls / student / "broadcasting.py").write_text(SOLUTION)
    (cls / "broadcasting.py").write_text(STUB)
    (tmp_path / "dave" / "old").mkdir(parents=True)             # one folder of older work: nothing to say
    (tmp_path / "dave" / "broadcasting.py").write_text(SOLUTION)
    (tmp_path / "dave" / "old" / "broadcasting.py").write_text(STUB)
    found = discover([cls, tmp_path / "dave"], course.exercises)
    assert [(c.student, c.doubts) for c in found] == [
        ("class", ["class was graded as one student, class, but 3 of its folders (alice, bob, carol) each hold an "
                   "exercise's module too; if it is a class, move the module files at its top out of it"]),
        ("dave", [])]


def test_a_students_own_files_that_look_lms_named_do_not_make_a_class(course, tmp_path):
    """Run logs and data files named like Canvas uploads (``run_1_1_loss.csv``) beside a
    student's modules, at the top or a folder down, leave that student one student."""
    cls = tmp_path / "class"
    (cls / "alice" / "hw").mkdir(parents=True)
    (cls / "alice" / "hw" / "broadcasting.py").write_text(SOLUTION)
    (cls / "alice" / "data_1_2_x.csv").write_text("1\n")
    (cls / "alice" / "notes_3_4_y.txt").write_text("n\n")
    for who, source in (("carol", SOLUTION), ("dave", STUB)):
        write_zip(cls / f"{who}.zip", {"broadcasting.py": source, "run_1_1_loss.csv": "1,2\n",
                                       "run_2_1_loss.csv": "3,4\n"})
    # LMS-looking helper scripts, result folders and checkpoints beside hw/ (red team, round 3)
    for who, extra in (("erin", ("plot_1_1_loss.py", "plot_2_1_loss.py")), ("finn", ("exp_1_1_lr/", "exp_2_1_lr/")),
                       ("gus", ("run_1_1_ckpt", "run_2_1_ckpt"))):
        (cls / who / "hw").mkdir(parents=True)
        (cls / who / "hw" / "broadcasting.py").write_text(SOLUTION)
        for name in extra:
            (cls / who / name.rstrip("/")).mkdir() if name.endswith("/") else (cls / who / name).write_text("x\n")
    # a student's zip holding classmates' notebooks under their Canvas names beside hw/
    write_zip(cls / "hana.zip", {"hw/broadcasting.py": SOLUTION, "smithjohn_1234_9001_broadcasting.ipynb": "{}",
                                 "doejane_2222_9002_broadcasting.ipynb": "{}"})
    # dated copies, which read as Canvas names (name_uid_file-id_file)
    (cls / "ivy").mkdir()
    for name in ("broadcasting_2026_12_01.py", "broadcasting_2026_12_03.ipynb", "gradients_2026_12_02.py"):
        (cls / "ivy" / name).write_text(SOLUTION)
    write_zip(cls / "jay.zip", {"lab_2026_12_01.py": SOLUTION, "lab_2025_11_30.py": STUB})
    assert sorted(students_of(discover([cls], course.exercises))) == \
        ["alice", "carol", "dave", "erin", "finn", "gus", "hana", "ivy", "jay"]


def test_a_long_name_gets_one_id_whether_its_accents_are_composed_or_not():
    name = "Élodie Müller " * 8
    assert student_id(name) == student_id(unicodedata.normalize("NFD", name)) and len(student_id(name).encode()) <= 100


def test_distinct_names_give_distinct_readable_ids_on_every_run(course, tmp_path):
    """Names that clean up to one id (``Jo Ann``, ``Jo_Ann``; two emoji), a name too long for a
    file name, and anonymous-Canvas names with a newline or bytes that are not UTF-8."""
    cls = tmp_path / "class"
    for name in ("Jo Ann", "Jo_Ann", "Jo, Ann"):
        (cls / name).mkdir(parents=True)
        (cls / name / "broadcasting.py").write_text(SOLUTION)
    for name in ("\U0001F600", "\U0001F389", "\u674e", "x" * 251, "anon_a\nb_3_broadcasting", "anon_a b_4_broadcasting"):
        (cls / f"{name}.py").write_text(SOLUTION)
    (cls / os.fsdecode(b"anon_\xff\xfe_1_broadcasting.py")).write_text(SOLUTION)
    first = students_of(discover([cls], course.exercises))
    assert students_of(discover([cls], course.exercises)) == first
    assert len(first) == 10 and all(re.fullmatch(r"[\w.-]+", s) and len(s.encode()) <= 100 for s in first)
    assert {"Jo_Ann", "\u674e"} < set(first)
    assert [sum(s.startswith(p) for s in first) for p in ("Jo_Ann-", "student-", "anon_a_b-")] == [2, 2, 2]
    long_id = next(s for s in first if s.startswith("x"))
    assert long_id.startswith("x" * 80) and first[long_id] == ["x" * 251 + ".py"]


def test_a_newcomer_whose_name_cleans_up_to_an_earlier_students_id_does_not_take_it(course, tmp_path):
    """``Jo Ann`` graded as ``Jo_Ann``, then ``Jo_Ann`` arrives: ``Jo Ann`` keeps the id, and its
    history stays one person's, on this run and the next (red team: the newcomer took the id and
    ``Jo Ann`` moved to ``Jo_Ann-87eb04ae``, silently)."""
    cls = tmp_path / "class"
    (cls / "Jo Ann").mkdir(parents=True)
    (cls / "Jo Ann" / "broadcasting.py").write_text(SOLUTION)
    out = tmp_path / "out"
    assert grade([cls], out, course=course) == {"Jo_Ann": read_grades(out)["Jo_Ann"]}
    (cls / "Jo_Ann").mkdir()
    (cls / "Jo_Ann" / "broadcasting.py").write_text(STUB)
    for _ in range(2):
        grades = {s: row["broadcasting"] for s, row in grade([cls], out, course=course).items()}
        assert grades == {"Jo_Ann": "20", "Jo_Ann-87eb04ae": "0"}
        with Gradebook(out / "gradebook.sqlite") as gb:
            assert gb.sources() == {"Jo_Ann": "class/Jo Ann", "Jo_Ann-87eb04ae": "class/Jo_Ann"}
            assert len(gb.history("Jo_Ann")) == 1


def test_the_same_folder_name_in_two_sections_is_reported(course, tmp_path):
    for section, other in (("sec1", "bob"), ("sec2", "carl")):
        for student in ("alice", other):
            (tmp_path / section / "submissions" / student).mkdir(parents=True)
            (tmp_path / section / "submissions" / student / "broadcasting.py").write_text(SOLUTION)
    alice, _, _ = discover([tmp_path / "sec1" / "submissions", tmp_path / "sec2" / "submissions"], course.exercises)
    assert alice.combined and "more than one entry for alice" in " ".join(alice.notes)
    assert str(tmp_path / "sec2" / "submissions" / "alice") in alice.source


def test_a_late_canvas_folder_stays_late(course, tmp_path):
    cls = tmp_path / "class"
    (cls / "smithbob_LATE_101_9001_hw2").mkdir(parents=True)
    (cls / "smithbob_LATE_101_9001_hw2" / "broadcasting.py").write_text(SOLUTION)
    zipped = write_zip(tmp_path / "class.zip", {"leekim_LATE_103_9003_hw2/broadcasting.py": SOLUTION,
                                                "roemax_104_9004_hw2/broadcasting.py": SOLUTION})
    late = {c.student: c.late for c in discover([cls, zipped], course.exercises)}
    assert late == {"smithbob_101": True, "leekim_103": True, "roemax_104": False}


def test_two_uploads_an_lms_names_as_one_student_are_reported(course, tmp_path):
    """``<course>_<hw>_<student no>_<name>.zip`` reads as Canvas's ``<name>_<user id>_<file id>_<file>``."""
    cls = tmp_path / "class"
    cls.mkdir()
    write_zip(cls / "lab_2_20231234_ana.zip", {"broadcasting.py": SOLUTION})
    write_zip(cls / "lab_2_20239999_ben.zip", {"broadcasting.py": STUB})
    [student] = discover([cls], course.exercises)
    assert student.combined and "more than one upload for lab_2" in " ".join(student.notes)
    moodle = write_zip(tmp_path / "moodle.zip", {                 # a file and a text: one submission
        "Jane Doe_12345_assignsubmission_file_/broadcasting.py": SOLUTION,
        "Jane Doe_12345_assignsubmission_onlinetext_/onlinetext.html": "<p>done</p>",
        "Ann Lee_34567_assignsubmission_file_/broadcasting.py": SOLUTION})
    assert [(c.combined, c.notes) for c in discover([moodle], course.exercises)] == [(False, [])] * 2


def test_the_output_folder_inside_the_class_a_too_large_notebook_and_a_long_name(course, tmp_path):
    """``--out`` inside the class folder with the gradebook kept elsewhere is no student, on any
    run; a notebook over the read cap named after its student is said to be too large; a name
    too long for a file name is graded."""
    cls = tmp_path / "class"
    (cls / "alice").mkdir(parents=True)
    (cls / "alice" / "broadcasting.py").write_text(SOLUTION)
    (cls / "bigplots.ipynb").write_text(notebook(SOLUTION + "#" * (33 << 20)))
    (cls / f"{'x' * 251}.py").write_text(SOLUTION)          # results/<id>.json must still be a legal name
    gradebook = tmp_path / "gb" / "gradebook.sqlite"
    gradebook.parent.mkdir()
    for _ in range(2):
        grades = grade([cls], cls / "grading", course=course, gradebook_path=gradebook)
        assert sorted(grades)[:2] == ["alice", "bigplots"] and len(grades) == 3
    long_id = sorted(grades)[2]
    assert grades[long_id]["broadcasting"] == "20" and (cls / "grading" / "results" / f"{long_id}.json").is_file()
    assert "bigplots.ipynb is larger than 32 MiB" in feedback(cls / "grading", "bigplots")


def test_the_output_folder_deeper_in_the_class_or_the_class_folder_itself_is_no_student(course, tmp_path):
    """``--out class/grading/run1`` (``grading`` holds nothing else) and ``--out class`` (its
    exports and gradebook beside the students' folders), each run twice: only the students are
    rows, and the instructor is told of no ignored file (red team: ``grading``, then ``results``
    and ``feedback``, became students)."""
    for cls, out in ((tmp_path / "class1", tmp_path / "class1" / "grading" / "run1"),
                     (tmp_path / "class2", tmp_path / "class2")):
        for student, source in (("alice", SOLUTION), ("bob", STUB)):
            (cls / student).mkdir(parents=True)
            (cls / student / "broadcasting.py").write_text(source)
        for _ in range(2):
            summary, _ = grade_class([cls], course, out, exercises=ONLY, jobs=2, timeouts=TIMEOUTS)
            assert summary.failed == [] and summary.class_notes == []
            assert {s: row["broadcasting"] for s, row in read_grades(out).items()} == {"alice": "20", "bob": "0"}


# --------------------------------------------------------------------------- the report in a browser


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_report_renders_its_plots_in_a_real_browser(course, tmp_path):
    from matplotlib import image

    out = tmp_path / "out"
    grade([make_class(tmp_path / "class", 6)], out, course=course)
    shot = tmp_path / "report.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1600",
                    f"--screenshot={shot}", (out / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = image.imread(str(shot))[:, :, :3]
    bar_blue = (abs(pixels[:, :, 0] - 0x3b / 255) < 0.06) & (abs(pixels[:, :, 1] - 0x7d / 255) < 0.06) \
        & (abs(pixels[:, :, 2] - 0xd8 / 255) < 0.06)
    assert bar_blue.sum() > 2000, "the histogram bars are not on the rendered page"


def test_the_report_counts_students_not_cases():
    """A student failing three cases of one parametrized test is one student failing it."""
    from autograder.grading import GradeResult
    from autograder.plugin import TestResult
    from autograder.report import ClassStats

    def result(failed_cases):
        tests = [TestResult(f"shapes broadcast (case {i})", f"t[{i}]", "broadcasting", 0.0 if i < failed_cases else 1.0,
                            1.0, "failed" if i < failed_cases else "passed", "wrong" if i < failed_cases else "")
                 for i in range(3)]
        return GradeResult(tests, ["broadcasting"])

    stats = ClassStats(["broadcasting"])
    for failed_cases in (3, 1, 0):
        stats.add("s", result(failed_cases))
    assert stats.failures == {("broadcasting", "shapes broadcast"): 2}


# --------------------------------------------------------------------------- reruns


def test_a_student_whose_exercise_timed_out_is_graded_again_on_the_next_run(course, tmp_path):
    """A timeout may come of the machine's load: the run that held it is not final, so a rerun
    (here with a longer time limit) grades that student again and gives what a fresh run gives;
    a merged gradebook knows it too. A run without timeouts is final."""
    cls = tmp_path / "class"
    slow = SOLUTION.replace("def broadcast_shape(*shapes)", "_SLOW = [1]\n\n\ndef broadcast_shape(*shapes):\n"
                            "    import time; time.sleep(0.8 * len(_SLOW)); _SLOW.clear()    # a worker's first call\n"
                            "    return _broadcast_shape(*shapes)\n\n\ndef _broadcast_shape(*shapes)")
    for student, source in (("ok", SOLUTION), ("slow", slow)):
        (cls / student).mkdir(parents=True)
        (cls / student / "broadcasting.py").write_text(source)
    out = tmp_path / "out"
    grade_class([cls], course, out, exercises=ONLY, jobs=1, timeouts=Timeouts(call=0.3, start=20.0))
    assert read_grades(out)["slow"]["broadcasting"] != "20"
    merged = tmp_path / "merged"
    merge_gradebooks([out / "gradebook.sqlite"], course, merged)
    for _ in range(2):        # the merged gradebook, then the graded one: slow is graded again each time
        summary, _ = grade_class([cls], course, merged, exercises=ONLY, jobs=1, timeouts=TIMEOUTS)
        assert (summary.graded, summary.skipped) == (1, 1)
        assert read_grades(merged)["slow"]["broadcasting"] == "20"
        merged = out
    summary, _ = grade_class([cls], course, out, exercises=ONLY, jobs=1, timeouts=TIMEOUTS)
    assert (summary.graded, summary.skipped) == (0, 2)


def test_a_gradebook_of_an_earlier_version_opens_and_grades_on(course, tmp_path):
    """Runs stored before runs kept their unstable exercises and notes apart are final, keep
    their notes when skipped, and merge."""
    cls = tmp_path / "class"
    (cls / "alice").mkdir(parents=True)
    (cls / "alice" / "broadcasting.py").write_text(SOLUTION)
    out = tmp_path / "out"
    grade([cls], out, course=course)
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        db.execute("UPDATE submissions SET notes=?", (json.dumps(["graded with an earlier version"]),))
        db.execute("ALTER TABLE runs DROP COLUMN unstable")
        db.execute("ALTER TABLE runs DROP COLUMN exercise_notes")
    summary, _ = grade_class([cls], course, out, exercises=ONLY, jobs=1, timeouts=TIMEOUTS)
    assert (summary.graded, summary.skipped) == (0, 1)
    with Gradebook(out / "gradebook.sqlite") as gb:
        [alice] = gb.current()
        assert alice.notes == ["graded with an earlier version"] and gb.current_exercise_notes("alice") is None
    merge_gradebooks([out / "gradebook.sqlite"], course, tmp_path / "merged")
    assert read_grades(tmp_path / "merged") == read_grades(out)


def test_unchanged_work_resubmitted_late_or_elsewhere_is_marked_as_this_run_found_it(course, tmp_path):
    """The same notebook uploaded again after the deadline, beside a file that is ignored: the
    rerun does not grade it again, but the grade says late, names the new upload and its note,
    and keeps what grading found (a cell that raised)."""
    book = notebook("from d2l import torch as d2l\n" + SOLUTION, magic=False)
    first = write_zip(tmp_path / "first.zip", {"alice_11_1_broadcasting.ipynb": book})
    again = write_zip(tmp_path / "again.zip", {"alice_LATE_11_5_broadcasting.ipynb": book,
                                               "alice_LATE_11_6_photo.png": "not code"})
    out = tmp_path / "out"
    assert grade([first], out, course=course)["alice_11"]["late"] == ""
    cell_note = feedback(out, "alice_11").count("No module named 'd2l'")
    assert cell_note
    summary, _ = grade_class([again], course, out, exercises=ONLY, jobs=1, timeouts=TIMEOUTS)
    assert (summary.graded, summary.skipped) == (0, 1)
    assert read_grades(out)["alice_11"]["late"] == "yes"
    with Gradebook(out / "gradebook.sqlite") as gb:
        [alice] = gb.current()
        assert "again.zip" in alice.source and len(gb.history("alice_11")) == 1
        assert any("photo.png" in note for note in alice.notes), alice.notes
    assert feedback(out, "alice_11").count("No module named 'd2l'") == cell_note
    grade_class([first], course, out, exercises=ONLY, jobs=1, timeouts=TIMEOUTS)
    assert read_grades(out)["alice_11"]["late"] == ""


def test_students_of_the_gradebook_this_run_did_not_find_are_kept_and_named(course, tmp_path):
    """A section graded on its own into the class's folder keeps the other section's grades and
    names them once (the command prints them); a shard's run finds the whole class."""
    cls = make_class(tmp_path / "class", 3)
    out = tmp_path / "out"
    grade([cls], out, course=course)
    summary, _ = grade_class([cls], course, out, exercises=ONLY, jobs=1, timeouts=TIMEOUTS, shard=(1, 2))
    assert summary.absent == []
    shutil.rmtree(cls / "s01")
    shutil.rmtree(cls / "s02")
    cmd = [sys.executable, "-m", "autograder", "grade", str(cls), "--out", str(out), "--only", *ONLY,
           "--jobs", "1", "--course", str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert ("  note: 2 students in the gradebook were not found in this run and keep their earlier grades: "
            "s01, s02\n") in proc.stderr
    assert sorted(read_grades(out)) == ["s00", "s01", "s02"]


# --------------------------------------------------------------------------- merges, reruns, shards (red team)


def test_a_merge_gives_each_submission_its_most_recent_receipt_whatever_the_order(course, tmp_path):
    """alice's unchanged work uploaded again late: her shard's rerun marks it late without
    grading it, and a merge into the merged gradebook that already holds her says late too; so
    does a merge of the earlier and the later gradebook in either order, and a merge of a new run
    of her late upload into a gradebook that holds her work on time."""
    canvas = tmp_path / "class" / "alice_1001_5001_broadcasting.py"
    canvas.parent.mkdir()
    canvas.write_text(SOLUTION)
    late = canvas.with_name("alice_LATE_1001_5001_broadcasting.py")
    shard, merged = tmp_path / "shard", tmp_path / "merged"
    grade([canvas.parent], shard, course=course)
    shutil.copy(shard / "gradebook.sqlite", tmp_path / "earlier.sqlite")
    merge_gradebooks([shard / "gradebook.sqlite"], course, merged)
    canvas.rename(late)
    summary, _ = grade_class([late.parent], course, shard, exercises=ONLY, jobs=1, timeouts=TIMEOUTS)
    assert (summary.graded, summary.skipped) == (0, 1) and read_grades(shard)["alice_1001"]["late"] == "yes"
    merge_gradebooks([shard / "gradebook.sqlite"], course, merged)
    assert read_grades(merged)["alice_1001"]["late"] == "yes"
    for name, order in (("AB", [tmp_path / "earlier.sqlite", shard / "gradebook.sqlite"]),
                        ("BA", [shard / "gradebook.sqlite", tmp_path / "earlier.sqlite"])):
        merge_gradebooks(order, course, tmp_path / name)
        assert read_grades(tmp_path / name)["alice_1001"]["late"] == "yes", name
        with Gradebook(tmp_path / name / "gradebook.sqlite") as gb:
            [alice] = gb.current()
            assert "LATE" in alice.source, (name, alice.source)
    on_time = tmp_path / "on_time"
    merge_gradebooks([tmp_path / "earlier.sqlite"], course, on_time)
    summary, _ = grade_class([late.parent], course, shard, exercises=ONLY, jobs=1, timeouts=TIMEOUTS,
                             regrade=["alice_1001"])
    assert summary.graded == 1
    assert merge_gradebooks([shard / "gradebook.sqlite"], course, on_time)[0] == 1
    assert read_grades(on_time)["alice_1001"]["late"] == "yes"


def merged_either_way(tmp_path, books):
    """``(order, gradebook)``: ``books`` merged into a new gradebook in each order, open while the
    caller looks at it."""
    for order in (books, books[::-1]):
        with Gradebook(tmp_path / f"merged_{order[0].stem}.sqlite") as gb:
            for path in order:
                with Gradebook(path) as other:
                    gb.merge_from(other)
            yield order, gb


def test_submissions_of_an_earlier_version_are_dated_by_their_newest_run_and_merge(tmp_path):
    """A gradebook made before submissions kept when they were last received opens: each is
    dated by its newest run, and a later receipt elsewhere wins a merge in either order."""
    old, new = tmp_path / "old.sqlite", tmp_path / "new.sqlite"
    with Gradebook(old) as gb:
        run = record_run(gb, "alice", 20, "d")
        (graded_at,) = gb.db.execute("SELECT graded_at FROM runs WHERE id=?", (run,)).fetchone()
    shutil.copy(old, new)
    with sqlite3.connect(old) as db:
        db.execute("ALTER TABLE submissions DROP COLUMN updated")
    with Gradebook(old) as gb:
        assert gb.db.execute("SELECT updated FROM submissions").fetchall() == [(graded_at,)]
    with Gradebook(new) as gb:
        gb.refresh("alice", "d", "late upload", True, None)
    for order, gb in merged_either_way(tmp_path, [old, new]):
        assert [(g.source, g.late) for g in gb.current()] == [("late upload", True)], order


def test_a_merge_grades_the_work_a_student_sent_last_not_the_newest_run(tmp_path):
    """Two forks of one gradebook: in one, alice's work (20) was changed and graded (0); in the
    later other, she sent her first work back unchanged, which a rerun does not grade again.
    Grading the three downloads one after another in one gradebook gives 20; so does a merge of
    the forks, in either order."""
    first, changed, sent_back = (tmp_path / f"{name}.sqlite" for name in ("first", "changed", "sent_back"))
    with Gradebook(first) as gb:
        record_run(gb, "alice", 20, "work")
    shutil.copy(first, changed)
    shutil.copy(first, sent_back)
    with Gradebook(changed) as gb:
        record_run(gb, "alice", 0, "broken")
    with Gradebook(sent_back) as gb:
        assert gb.is_graded("alice", "work", "h", ONLY)
        gb.refresh("alice", "work", "sent back", False, None)
    for order, gb in merged_either_way(tmp_path, [changed, sent_back]):
        assert [(g.digest, g.score, g.source) for g in gb.current()] == [("work", 20, "sent back")], order
        assert gb.is_graded("alice", "work", "h", ONLY) and not gb.is_graded("alice", "broken", "h", ONLY)
        assert [h[3] for h in gb.history("alice")] == [20, 0]


def test_an_exercise_the_current_run_did_not_grade_is_blank_and_not_failed(course, tmp_path):
    """alice was graded again --only broadcasting; bob's run graded gradients too. Merged, her
    gradients are blank (not 0) and out of her total, her files do not show them failed, and her
    feedback says they were not graded."""
    book = tmp_path / "shard.sqlite"
    with Gradebook(book) as gb:
        for student, exercises in (("alice", ["broadcasting", "gradients"]), ("alice", ["broadcasting"]),
                                   ("bob", ["broadcasting", "gradients"])):
            tests = [plugin.TestResult(f"t_{ex}", f"t_{ex}", ex, 20.0, 20.0, "passed", "") for ex in exercises]
            gb.record(student, "d", student, [], False, GradeResult(tests, exercises), Provenance("v", "h", "t"))
    out = tmp_path / "merged"
    merge_gradebooks([book], course, out)
    grades = read_grades(out)
    assert [grades["alice"][k] for k in ("broadcasting", "gradients", "total", "max_total")] == ["20", "", "20", "20"]
    assert [grades["bob"][k] for k in ("broadcasting", "gradients", "total", "max_total")] == ["20", "20", "40", "40"]
    results = json.loads((out / "results" / "alice.json").read_text())
    assert (results["score"], results["max_score"]) == (20, 20) and "gradients" not in results["output"]
    text = feedback(out, "alice")
    assert "(gradients): 0" not in text and "Not graded this time, and not in this score: " in text
    assert "(gradients)." in text
    junit = ElementTree.parse(out / "junit.xml").getroot()
    [alice] = [s for s in junit if s.get("name") == "alice"]
    assert (alice.get("tests"), alice.get("failures")) == ("1", "0")


HANGS = SOLUTION.replace("def broadcast_shape(*shapes)", "def broadcast_shape(*shapes):\n    while True:\n"
                         "        pass\n\n\ndef _broadcast_shape(*shapes)")


def test_a_run_that_hangs_again_is_final_and_the_students_graded_again_are_named(course, tmp_path):
    """carol's broadcast_shape never returns: her first run is tried once more (the command names
    her), and the second that hangs too is final; dave's run is final at once."""
    cls = tmp_path / "class"
    for student, source in (("carol", HANGS), ("dave", SOLUTION)):
        (cls / student).mkdir(parents=True)
        (cls / student / "broadcasting.py").write_text(source)
    out = tmp_path / "out"
    hang = Timeouts(call=0.3, start=20.0)
    summary, _ = grade_class([cls], course, out, exercises=ONLY, jobs=1, timeouts=hang)
    assert summary.graded == 2 and read_grades(out)["carol"]["broadcasting"] != "20"
    cmd = [sys.executable, "-m", "autograder", "grade", str(cls), "--out", str(out), "--only", *ONLY,
           "--jobs", "1", "--timeout", "0.3", "--course", str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "Graded 1 submission (1 unchanged, skipped)" in proc.stdout
    assert ("  note: graded again, as an exercise timed out in their last run (a second timeout is final): "
            "carol\n") in proc.stderr
    summary, _ = grade_class([cls], course, out, exercises=ONLY, jobs=1, timeouts=hang)
    assert (summary.graded, summary.skipped, summary.retried) == (0, 2, [])
    with Gradebook(out / "gradebook.sqlite") as gb:
        assert len(gb.history("carol")) == 2 and len(gb.history("dave")) == 1


def test_a_student_to_regrade_that_another_shard_grades_is_named_not_an_error(course, tmp_path):
    """CI passes one --regrade to every shard: shard 1 of 2 grades bob and says alice is another's."""
    for student in ("alice", "bob"):
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "broadcasting.py").write_text(SOLUTION)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "autograder", "grade", str(tmp_path / "class"), "--out", str(out), "--only", *ONLY,
           "--jobs", "1", "--shard", "1/2", "--regrade", "alice", "bob", "--course", str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "  note: not regraded by this shard, as another shard grades them: alice\n" in proc.stderr
    assert list(read_grades(out)) == ["bob"]


def test_a_clean_run_between_two_timeouts_leaves_the_next_timeout_to_be_tried_again(tmp_path):
    """Only timeouts in a row make a run final: timed out, clean, timed out again (under load, or
    a --regrade) is tried once more; a second timeout in a row is final."""
    tests = [plugin.TestResult("t", "t", "broadcasting", 0.0, 20.0, "failed", "")]
    with Gradebook(tmp_path / "gb.sqlite") as gb:
        retried = []
        for unstable in (["broadcasting"], [], ["broadcasting"], ["broadcasting"]):
            gb.record("alice", "d", "alice", [], False, GradeResult(tests, ONLY, [], {}, 0.0, "d", unstable),
                      Provenance("v", "h", "t"))
            retried.append(gb.to_retry("alice", "d", "h", ONLY))
    assert retried == [ONLY, [], ONLY, []]


def test_a_student_graded_on_other_exercises_only_is_a_blank_row_of_this_export(course, tmp_path):
    """Another section graded --only gradients into the gradebook a class run --only broadcasting
    exports: its students' rows are blank (not a total of 0), with no results, feedback, junit
    suite or report entry written for them by this export."""
    with Gradebook(tmp_path / "gb.sqlite") as gb:
        for student, ex in (("alice", "gradients"), ("bob", "broadcasting")):
            tests = [plugin.TestResult(f"t_{ex}", f"t_{ex}", ex, 20.0, 20.0, "passed", "")]
            gb.record(student, "d", student, [], False, GradeResult(tests, [ex]), Provenance("v", "h", "t"))
        exports = write_exports(gb, tmp_path / "out", course, ONLY)
    out = tmp_path / "out"
    assert read_grades(out)["alice"] == {"student": "alice", "broadcasting": "", "total": "", "max_total": "",
                                         "late": ""}
    assert sorted(p.name for p in (out / "results").iterdir()) == ["bob.json"]
    assert [s.get("name") for s in ElementTree.parse(out / "junit.xml").getroot()] == ["bob"]
    assert exports.stats.students == 1
