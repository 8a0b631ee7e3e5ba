"""Grade a class: students in parallel, each recorded in the gradebook as soon as it is graded.

The main process finds the students, prepares each submission just before it is graded, and is
the only writer of the gradebook. ``jobs`` grader processes are forked from it (before it ran
any torch op), each with a clone of the warm zygote; each grades one student at a time, all in
one pytest session (the suites are collected once), and sends each result back as JSON. A
student whose latest run is of the same content under the same suites is skipped (unless an
exercise of it hung on time: a timeout under load is tried again, once), so a killed batch resumes
where it stopped; the skipped submission's source, late mark and notes are those of this run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import select
import shutil
import signal
import socket
import sys
import time
import zlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from autograder import __version__
from autograder.client import Timeouts
from autograder.collect import Candidate, find_class, keep_earlier_ids, student_named
from autograder.course import Course
from autograder.gradebook import Gradebook, Provenance
from autograder.grading import GradeResult, Grader, GradingError, make_workdir
from autograder.plugin import TestResult
from autograder.submission import Submission, SubmissionError, prepare
from autograder.syntax import parse_module
from autograder.text import plain_text
from autograder.zygote import Zygote


def suite_hash(course: Course, check_forbidden: bool = True) -> str:
    """What the grades depend on besides the submission: suites, references, course file, grader,
    and whether forbidden calls score 0 (``--allow-forbidden`` grades differ, so they are neither
    taken for nor cached as the others)."""
    h = hashlib.sha256(__version__.encode() + (b"" if check_forbidden else b"\0forbidden calls allowed"))
    files = sorted(course.suite_dir.glob("*.py")) + sorted((course.root / "reference").glob("*.py")) \
        + [course.root / "assignments" / "course.toml"]
    for f in files:
        if f.is_file():
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def in_shard(student: str, shard: tuple[int, int] | None) -> bool:
    """Deterministic: the same student lands in the same shard K of N whatever else is in the class."""
    if shard is None:
        return True
    k, n = shard
    return zlib.crc32(student.encode()) % n == k - 1


@dataclass
class BatchSummary:
    graded: int = 0
    skipped: int = 0
    failed: list = field(default_factory=list)     # students the grader itself could not grade
    combined: list = field(default_factory=list)   # (student, sources): entries of several places taken as one
    doubts: list = field(default_factory=list)     # (student, what to check): how they were found may be wrong
    class_notes: list = field(default_factory=list)  # files of the class that are no student's (ignored, left out)
    unwritten: list = field(default_factory=list)  # (student, reason): their own export files could not be written
    absent: list = field(default_factory=list)     # students of the gradebook this run did not find (earlier grades kept)
    retried: list = field(default_factory=list)    # students graded again as an exercise hung on time in their last run
    other_shard: list = field(default_factory=list)  # students to regrade that another shard grades (not regraded here)
    seconds: float = 0.0


# --------------------------------------------------------------------------- the grader processes


def _serialise(result: GradeResult) -> str:
    return json.dumps({"tests": [t.__dict__ for t in result.tests], "exercises": result.exercises,
                       "notes": result.notes, "protections": result.protections, "seconds": result.seconds,
                       "digest": result.digest, "unstable": result.unstable,
                       "exercise_notes": result.exercise_notes})


def _test_result(d: dict) -> TestResult:
    return TestResult(**{**d, "covers": tuple(d.get("covers", ()))})


def _deserialise(text: str) -> GradeResult:
    d = json.loads(text)
    return GradeResult([_test_result(t) for t in d["tests"]], d["exercises"], d["notes"], d["protections"],
                       d["seconds"], d["digest"], d["unstable"], d["exercise_notes"])


DYNAMIC_LOADING = {"__import__", "import_module", "reload", "exec", "eval", "compile", "open", "runpy",
                   "modules", "spec_from_file_location", "SourceFileLoader"}


def module_keys(folder: Path, exercises, siblings=(), notebooks=None) -> dict[str, str]:
    """exercise -> a hash of its module and of every sibling module (of ``exercises`` or
    ``siblings``) it can reach: those it imports, and those they import, at any depth; all of
    them once one of those modules could load code by a computed name (``importlib``, ``exec``,
    ``open``, ``sys.modules``). ``notebooks`` (exercise -> notebook file name) names the modules
    made from a notebook, which run cell by cell and are named in feedback. The results of an
    exercise depend on nothing else of the submission. Missing modules hash as empty."""
    notebooks = notebooks or {}
    sources = {ex: (folder / f"{ex}.py").read_bytes() if (folder / f"{ex}.py").is_file() else b""
               for ex in [*exercises, *siblings]}
    imports = {name: _imports(source) for name, source in sources.items()}
    keys = {}
    for ex in exercises:
        reached, todo = {ex}, [ex]
        while todo:
            found, names = imports[todo.pop()]
            if names & DYNAMIC_LOADING:
                reached = set(sources)
                break
            todo += sorted(found & set(sources) - reached)
            reached |= found & set(sources)
        parts = [ex.encode(), notebooks.get(ex, "").encode(), sources[ex]]
        for sibling in sorted(reached - {ex}):
            parts += [sibling.encode(), sources[sibling]]
        keys[ex] = _digest(parts)
    return keys


def _digest(parts: list[bytes]) -> str:
    """sha256 of the parts, each preceded by its length: no other list of parts has it."""
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little") + part)
    return h.hexdigest()


def _imports(source: bytes) -> tuple[set[str], set[str]]:
    """(top-level modules a source imports, every name and attribute it uses)."""
    tree = parse_module(source) or ast.Module(body=[], type_ignores=[])
    found, names = set(), set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            found |= {a.name.split(".")[0] for a in n.names}
        elif isinstance(n, ast.ImportFrom) and n.module:
            found.add(n.module.split(".")[0])
        elif isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.Attribute):
            names.add(n.attr)
    return found, names


def _grader_process(conn: socket.socket, course: Course, exercises, timeouts, zygote: Zygote,
                    check_forbidden: bool) -> None:
    """Loop in a forked grader: read task lines, grade them one after another in one pytest
    session, answer each with a result line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is for the main process, which stops this one
    reader = conn.makefile("r")
    student = {}

    def answer(payload: dict) -> None:
        conn.sendall((json.dumps({"student": student["id"], **payload}) + "\n").encode())

    def tasks():
        for line in reader:
            task = json.loads(line)
            student["id"] = task["student"]
            try:
                submission = Submission(Path(task["folder"]), task["found"], task["problems"], task["notes"],
                                        task["digest"])
            except Exception as e:  # noqa: BLE001 - reported to the main process, batch goes on
                answer({"error": f"{type(e).__name__}: {e}"})
                continue
            yield submission, task["exercises"]

    def on_result(task, outcome) -> None:
        try:
            if isinstance(outcome, Exception):
                raise outcome
            answer({"result": _serialise(outcome)})
        except Exception as e:  # noqa: BLE001 - reported to the main process, batch goes on
            answer({"error": f"{type(e).__name__}: {e}"})

    with Grader(course, exercises=exercises, timeouts=timeouts, zygote=zygote,
                check_forbidden=check_forbidden) as grader:
        grader.grade_each(tasks(), on_result)


class _Pool:
    """``jobs`` forked grader processes fed one task at a time.

    Student code cannot stall a grader process (the worker's deadlines bound it), so one that
    spends longer than ``timeouts.stall`` on one student, or dies, has met a fault of its own: it
    is stopped, the student is reported as not graded, and a new grader process takes its place.
    """

    def __init__(self, jobs, course, exercises, timeouts, zygote: Zygote, check_forbidden: bool):
        self.course, self.exercises, self.timeouts, self.zygote = course, exercises, timeouts or Timeouts(), zygote
        self.check_forbidden = check_forbidden
        self.procs = {}
        for _ in range(jobs):
            self._spawn()

    def _spawn(self):
        clone = self.zygote.clone()
        main_end, child_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            for sock in [main_end, *self.procs]:   # others' ends: EOF must reach their graders
                sock.close()
            self.zygote.forget()
            code = 0
            try:
                _grader_process(child_end, self.course, self.exercises, self.timeouts, clone, self.check_forbidden)
            except BaseException:  # noqa: BLE001
                code = 1
            finally:
                os._exit(code)
        child_end.close()
        clone.forget()
        self.procs[main_end] = {"pid": pid, "task": None, "buffer": b"", "since": 0.0}

    def idle(self):
        return [s for s, p in self.procs.items() if p["task"] is None]

    def send(self, sock, task):
        self.procs[sock].update(task=task, since=time.monotonic())
        wanted = ("student", "folder", "found", "problems", "notes", "digest", "exercises")
        sock.sendall((json.dumps({k: task[k] for k in wanted}) + "\n").encode())

    def busy(self) -> bool:
        return any(p["task"] is not None for p in self.procs.values())

    def wait(self, timeout=1.0):
        """Finished (task, answer) pairs; a grader process that died or stalled gives an answer
        with the reason as its error, and is replaced."""
        busy = [s for s, p in self.procs.items() if p["task"] is not None]
        ready, _, _ = select.select(busy, [], [], timeout)
        done = []
        for sock in ready:
            p = self.procs[sock]
            chunk = sock.recv(1 << 20)
            if not chunk:
                done.append((p["task"], {"error": "its grader process stopped"}))
                self._replace(sock)
                continue
            p["buffer"] += chunk
            while b"\n" in p["buffer"]:
                line, p["buffer"] = p["buffer"].split(b"\n", 1)
                done.append((p["task"], json.loads(line)))
                p["task"] = None
        now = time.monotonic()
        for sock, p in list(self.procs.items()):
            if p["task"] is not None and now - p["since"] > self.timeouts.stall:
                done.append((p["task"], {"error": f"grading took longer than {self.timeouts.stall:g} s and was "
                                                  "stopped (a fault of the grader, not of the submission)"}))
                self._replace(sock)
        return done

    def _replace(self, sock):
        """Stop the grader process behind ``sock`` and start another in its place."""
        p = self.procs.pop(sock)
        sock.close()
        try:
            os.kill(p["pid"], signal.SIGKILL)
            os.waitpid(p["pid"], 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self._spawn()

    def stop(self):
        """Stop every grader process at once, whatever it is grading."""
        for p in self.procs.values():
            try:
                os.kill(p["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self):
        for sock, p in self.procs.items():
            sock.close()
            try:
                os.waitpid(p["pid"], 0)
            except ChildProcessError:
                pass


# --------------------------------------------------------------------------- the batch


def run_batch(candidates: list[Candidate], course: Course, gradebook: Gradebook, *, exercises=None,
              jobs: int = 0, timeouts=None, regrade=(), regrade_all=False, zygote: Zygote | None = None,
              progress=None, check_forbidden: bool = True) -> BatchSummary:
    """Grade every candidate that is not already graded (same content, same suites)."""
    import torch

    exercises = list(exercises or course.exercises)
    siblings = [ex for ex in course.exercises if ex not in exercises]      # written too: a module may import one
    jobs = jobs or os.cpu_count() or 1
    provenance = Provenance(__version__, suite_hash(course, check_forbidden), torch.__version__)
    summary = BatchSummary()
    start = time.monotonic()
    own_zygote = zygote is None
    zygote = zygote or Zygote()
    workdir = make_workdir()
    pending = list(candidates)
    pool = _Pool(min(jobs, max(len(pending), 1)), course, exercises, timeouts, zygote, check_forbidden)
    total = len(pending)
    try:
        while pending or pool.busy():
            for sock in pool.idle():
                task = None
                while pending and task is None:
                    candidate = pending.pop(0)
                    try:
                        task = _make_task(candidate, exercises, siblings, workdir, gradebook, provenance,
                                          set(regrade), regrade_all, summary)
                    except Exception as e:  # noqa: BLE001 - a fault reading one student's files spares the rest
                        summary.failed.append((candidate.student, f"its files could not be read ({type(e).__name__}: "
                                                                  f"{plain_text(str(e))[:300]})"))
                    if task is not None and not task["exercises"]:      # every exercise was cached
                        _record(task, GradeResult([], [], digest=task["digest"]), exercises, gradebook,
                                provenance)
                        shutil.rmtree(task["folder"], ignore_errors=True)
                        summary.graded += 1
                        task = None
                    if task is None and progress:
                        progress.update(summary.graded + summary.skipped + len(summary.failed), total)
                if task:
                    pool.send(sock, task)
            for task, answer in pool.wait():
                shutil.rmtree(task["folder"], ignore_errors=True)
                if "error" in answer:
                    summary.failed.append((task["student"], answer["error"]))
                else:
                    _record(task, _deserialise(answer["result"]), exercises, gradebook, provenance)
                    summary.graded += 1
                if progress:
                    progress.update(summary.graded + summary.skipped + len(summary.failed), total,
                                    task["student"])
    except BaseException:          # Ctrl-C, or a fault: the students being graded are not waited for
        pool.stop()
        raise
    finally:
        pool.close()
        shutil.rmtree(workdir, ignore_errors=True)
        if own_zygote:
            zygote.close()
    summary.seconds = time.monotonic() - start
    return summary


def _make_task(candidate: Candidate, exercises, siblings, workdir, gradebook, provenance, regrade, regrade_all,
               summary):
    """Prepare one student's files; None if they are already graded."""
    entries, notes = candidate.load()
    try:
        submission = prepare(entries, exercises, workdir, notes, siblings)
    except SubmissionError as e:
        submission = prepare([], exercises, workdir, notes + [str(e)])
    if not submission.found and not submission.problems:
        names = sorted(e.path for e in entries)
        held = f"it holds {', '.join(names[:5])}{', ...' if len(names) > 5 else ''}" if names else "it is empty"
        reason = "; ".join(submission.notes) or f"no exercise files were found: {held}"
        submission.problems = {ex: f"no {ex}.py or {ex}.ipynb in your submission ({reason})" for ex in exercises}
    fresh = regrade_all or candidate.student in regrade
    if not fresh and gradebook.to_retry(candidate.student, submission.digest, provenance.suite_hash, exercises):
        summary.retried.append(candidate.student)
    elif not fresh and gradebook.is_graded(candidate.student, submission.digest, provenance.suite_hash, exercises):
        shutil.rmtree(submission.folder, ignore_errors=True)
        found = gradebook.current_exercise_notes(candidate.student)
        gradebook.refresh(candidate.student, submission.digest, candidate.source, candidate.late,
                          None if found is None else _run_notes(submission.notes, submission.problems, found.values()))
        summary.skipped += 1
        return None
    keys = module_keys(submission.folder, exercises, siblings,
                       {ex: path.rsplit("/", 1)[-1] for ex, path in submission.found.items() if path.lower().endswith(".ipynb")})
    cached = {} if fresh else {ex: entry for ex in exercises if ex not in submission.problems
                               and (entry := gradebook.cache_get(ex, keys[ex], provenance.suite_hash)) is not None}
    return {"student": candidate.student, "folder": str(submission.folder), "found": submission.found,
            "problems": submission.problems, "notes": submission.notes, "digest": submission.digest,
            "source": candidate.source, "late": candidate.late, "keys": keys, "cached": cached,
            "exercises": [ex for ex in exercises if ex not in cached]}


def _record(task, fresh: GradeResult, exercises, gradebook: Gradebook, provenance: Provenance) -> None:
    """Store a student's run: cached exercises and freshly graded ones, in course order; cache
    the fresh ones whose results did not depend on timing, with what grading them found (not
    those of a missing or unreadable module: their message names the student's files)."""
    tests, exercise_notes = [], {}
    for ex in exercises:
        if ex in task["cached"]:
            graded, found = task["cached"][ex]
            graded = [_test_result(t) for t in graded]
        else:
            graded, found = [t for t in fresh.tests if t.exercise == ex], fresh.exercise_notes.get(ex, [])
            if ex not in fresh.unstable and ex not in task["problems"]:
                gradebook.cache_put(ex, task["keys"][ex], provenance.suite_hash, [t.__dict__ for t in graded], found)
        tests += graded
        if found:
            exercise_notes[ex] = found
    notes = _run_notes(task["notes"], task["problems"], exercise_notes.values())
    unstable = [ex for ex in exercises if ex in fresh.unstable and ex not in task["cached"]]
    result = GradeResult(tests, list(exercises), notes, fresh.protections, fresh.seconds, task["digest"], unstable,
                         exercise_notes)
    gradebook.record(task["student"], task["digest"], task["source"], notes, task["late"], result, provenance)


def _run_notes(notes: list[str], problems: dict[str, str], found) -> list[str]:
    """A run's notes: the submission's (how its files were found), its exercises' problems (a
    module missing), then what grading found (``found``: each exercise's notes), each once."""
    notes = notes + [f"{ex}: {msg}" for ex, msg in problems.items()]
    for exercise_notes in found:
        notes += [note for note in exercise_notes if note not in notes]
    return notes


class Progress:
    """A bar with an ETA on a terminal; plain lines (every 10%) in CI or when piped."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty() and not os.environ.get("CI")
        self.start = time.monotonic()
        self.last_decile = -1

    def update(self, done: int, total: int, student: str = ""):
        elapsed = time.monotonic() - self.start
        eta = elapsed / done * (total - done) if done else 0
        if self.tty:
            width = 30
            filled = int(width * done / max(total, 1))
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                              f"ETA {int(eta) // 60}:{int(eta) % 60:02d} {student[:24]:<24}")
            if done == total:
                self.stream.write("\n")
            self.stream.flush()
        else:
            decile = done * 10 // max(total, 1)
            if decile != self.last_decile:
                self.last_decile = decile
                self.stream.write(f"graded {done}/{total} ({done * 100 // max(total, 1)}%), "
                                  f"{elapsed:.0f}s elapsed\n")
                self.stream.flush()


def _own_output(out: Path, gradebook_path: Path) -> list[Path]:
    """What grading writes, which is never a student's: ``out`` and the gradebook's folder (either
    may be in the class), and each file of theirs (either may be the class folder itself)."""
    from autograder.exports import EXPORT_NAMES

    sqlite_files = [gradebook_path.with_name(gradebook_path.name + end) for end in ("", "-journal", "-wal", "-shm")]
    return [Path(out), gradebook_path.parent, *(Path(out) / name for name in EXPORT_NAMES), *sqlite_files]


def grade_class(paths, course: Course, out: Path, *, gradebook_path: Path | None = None, exercises=None,
                jobs: int = 0, shard=None, regrade=(), regrade_all=False, timeouts=None, zygote=None,
                progress=None, check_forbidden: bool = True) -> tuple[BatchSummary, int]:
    """Find the students in ``paths``, grade those not yet graded, write every export to ``out``.
    The gradebook's students this run did not find (another section graded into it, or an
    earlier run's mistaken layout) keep their grades, and the summary names them.

    Returns the batch summary and the number of students in the gradebook.
    """
    from autograder.exports import write_exports

    exercises = list(exercises or course.exercises)
    gradebook_path = Path(gradebook_path or Path(out) / "gradebook.sqlite")
    found, class_notes = find_class(paths, course.exercises, exclude=_own_output(out, gradebook_path))
    if gradebook_path.exists():
        with Gradebook(gradebook_path) as earlier:
            found = keep_earlier_ids(found, earlier.sources())
    if not found:
        raise GradingError(f"no submissions in {', '.join(str(p) for p in paths)}: a class is a folder or .zip "
                           "holding one folder, .zip, .py or .ipynb per student (or an LMS download)")
    ids = {c.student for c in found}
    regrade = [student_named(r, found) for r in regrade]      # "Élodie Müller" is Élodie_Müller
    unknown = sorted(set(regrade) - ids)
    if unknown:
        raise GradingError(f"cannot regrade {unknown[0]}: no such student among the {len(found)} found "
                           f"(e.g. {found[0].student})")
    candidates = [c for c in found if in_shard(c.student, shard)]
    other_shard = sorted(student for student in set(regrade) if not in_shard(student, shard))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with Gradebook(gradebook_path) as gradebook:
        summary = run_batch(candidates, course, gradebook, exercises=exercises, jobs=jobs, timeouts=timeouts,
                            regrade=regrade, regrade_all=regrade_all, zygote=zygote, progress=progress,
                            check_forbidden=check_forbidden)
        summary.combined = [(c.student, c.source) for c in candidates if c.combined]
        summary.doubts = [(c.student, doubt) for c in candidates for doubt in c.doubts]
        summary.class_notes = class_notes
        summary.absent = sorted(gradebook.students() - ids)     # found in any shard is found
        summary.other_shard = other_shard
        exports = write_exports(gradebook, out, course, exercises)
    summary.unwritten = exports.unwritten
    return summary, exports.stats.students


def merge_gradebooks(sources: list[Path], course: Course, out: Path, exercises=None) -> tuple[int, list, dict]:
    """Merge shard gradebooks into ``out/gradebook.sqlite`` and write the exports of
    ``exercises`` (default: those the students' current runs graded, as a class graded ``--only``
    some exports those); returns the number of runs added, the students whose own export files
    could not be written (with the reason), and how many grades each suite version gave
    (:meth:`Gradebook.suite_versions`)."""
    from autograder.exports import write_exports

    out = Path(out)
    target_path = out / "gradebook.sqlite"
    added = 0
    with ExitStack() as stack:
        others = [stack.enter_context(Gradebook(src)) for src in sources     # all refused before any write
                  if Path(src).resolve() != target_path.resolve()]
        out.mkdir(parents=True, exist_ok=True)
        target = stack.enter_context(Gradebook(target_path))
        for other in others:
            added += target.merge_from(other)
        graded = target.graded_exercises()
        exports = write_exports(target, out, course, list(exercises or [ex for ex in course.exercises if ex in graded]))
        return added, exports.unwritten, target.suite_versions()
