"""The gradebook: SQLite, one transaction per graded student, history kept.

Tables: ``students``; ``submissions`` (one per distinct content of a student's work, by hash,
with how it was last received: source, late mark, notes, and when: ``updated``, so that a merge
keeps the most recent receipt whatever the order); ``runs`` (each grading of a
submission, with provenance: grader version, suite hash, torch version; the exercises whose
results hung on time, and what grading each exercise found); ``results`` (one row per test of a
run); ``exercise_cache`` (an exercise's results for an exact module content under exact
suites: the suites are deterministic, so a file graded once, an untouched stub say, need not be
graded again). A student's grade, their *current run*, is the newest run, by when it was graded
(UTC, to the microsecond, later than any earlier run of theirs in the same gradebook), of the
submission they sent last (by its newest receipt, ``updated``), so a merge gives the same grades
whatever order the gradebooks come in, and the same as grading their downloads one after another
in one gradebook (work graded, then changed, then sent back unchanged in another fork of the
gradebook, is graded as the work sent back); earlier runs stay for history. Because a run and its
results are written in one transaction, a batch killed at any moment leaves only whole runs
behind, and the next batch picks up the students that have none for the current suites.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from autograder.text import plain_text

SCHEMA = """
CREATE TABLE IF NOT EXISTS students (
    id TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    student TEXT NOT NULL REFERENCES students(id),
    digest TEXT NOT NULL,
    source TEXT NOT NULL,
    notes TEXT NOT NULL,
    late INTEGER NOT NULL DEFAULT 0,
    received TEXT NOT NULL,
    updated TEXT NOT NULL DEFAULT '',
    UNIQUE (student, digest)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    submission INTEGER NOT NULL REFERENCES submissions(id),
    student TEXT NOT NULL,
    graded_at TEXT NOT NULL,
    seconds REAL NOT NULL,
    grader_version TEXT NOT NULL,
    suite_hash TEXT NOT NULL,
    torch_version TEXT NOT NULL,
    seeds TEXT NOT NULL,
    protections TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    unstable TEXT NOT NULL DEFAULT '[]',
    exercise_notes TEXT
);
CREATE TABLE IF NOT EXISTS results (
    run INTEGER NOT NULL REFERENCES runs(id),
    position INTEGER NOT NULL,
    nodeid TEXT NOT NULL,
    name TEXT NOT NULL,
    exercise TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    status TEXT NOT NULL,
    output TEXT NOT NULL,
    visibility TEXT NOT NULL,
    seconds REAL NOT NULL,
    internal TEXT NOT NULL,
    PRIMARY KEY (run, position)
);
CREATE INDEX IF NOT EXISTS runs_by_student ON runs(student, id);
CREATE TABLE IF NOT EXISTS exercise_cache (
    exercise TEXT NOT NULL,
    module_key TEXT NOT NULL,
    suite_hash TEXT NOT NULL,
    tests TEXT NOT NULL,
    PRIMARY KEY (exercise, module_key, suite_hash)
);
"""

# A student's runs, newest first: by when they were graded; runs of two gradebooks graded in the
# same microsecond (or the same second, by versions that stored no more) are told apart by what
# they hold, never by the order the gradebooks were merged in.
NEWEST_FIRST = "r.graded_at DESC, r.score DESC, s.digest DESC, r.suite_hash DESC, r.id DESC"
GRADED_AT = "%Y-%m-%dT%H:%M:%S.%f+00:00"        # fixed width, UTC: text order is time order
# Columns that gradebooks of earlier versions lack (added when they are opened), by table.
COLUMNS_ADDED = {"runs": {"unstable": "TEXT NOT NULL DEFAULT '[]'", "exercise_notes": "TEXT"},
                 "submissions": {"updated": "TEXT NOT NULL DEFAULT ''"}}
# A student's runs, their current grade first: the newest run of the submission received last.
CURRENT_FIRST = f"s.updated DESC, {NEWEST_FIRST}"
CURRENT_RUNS = ("SELECT id FROM (SELECT r.id, ROW_NUMBER() OVER (PARTITION BY r.student ORDER BY "
                f"{CURRENT_FIRST}) AS rank FROM runs r JOIN submissions s ON s.id = r.submission) WHERE rank = 1")


@dataclass(frozen=True)
class Provenance:
    grader_version: str
    suite_hash: str
    torch_version: str
    seeds: str = "fixed in the suites"


@dataclass
class StudentGrade:
    """A student's current grade: their current run (see the module's docstring), with its tests."""

    student: str
    run: int
    digest: str
    source: str
    notes: list
    late: bool
    score: float
    max_score: float
    seconds: float
    protections: dict
    tests: list          # dicts: name, nodeid, exercise, score, max_score, status, output, visibility, seconds, internal


class GradebookError(Exception):
    """A gradebook file that cannot be opened, or a file that is not a gradebook."""


class Gradebook:
    def __init__(self, path: Path):
        """Open the gradebook at ``path``, making it if there is no file there; a file that is not
        an SQLite database, or a database of something else, is refused (and left untouched)."""
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=60)
        except (OSError, sqlite3.Error) as e:
            raise GradebookError(f"cannot open {self.path} as a gradebook: {e}") from None
        try:
            tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "runs" not in tables:
                raise GradebookError(f"{self.path} is an SQLite database of something else, not a gradebook")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            self._add_columns()
            self._normalise_graded_at()
            self._date_receipts()
        except (sqlite3.Error, ValueError) as e:          # ValueError: a time that is no time
            self.db.close()
            raise GradebookError(f"{self.path} is not a gradebook (an SQLite database): {e}") from None
        except GradebookError:
            self.db.close()
            raise

    def _add_columns(self) -> None:
        """Give the tables of a gradebook made by an earlier version the columns added since: runs'
        ``unstable`` (none of their exercises is known to have hung on time: '[]') and
        ``exercise_notes`` (NULL: what grading found is only in their submission's notes), and
        submissions' ``updated`` ('': dated by :meth:`_date_receipts`)."""
        with self.db:
            for table, added in COLUMNS_ADDED.items():
                columns = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
                for column, definition in added.items():
                    if column not in columns:
                        self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def _date_receipts(self) -> None:
        """Date the submissions of an earlier version, which kept no time of their last receipt,
        by their newest run (the last time that version took their source, late mark and notes
        from a run, as a refresh of theirs is lost)."""
        with self.db:
            self.db.execute("UPDATE submissions SET updated = COALESCE((SELECT MAX(graded_at) FROM runs "
                            "WHERE runs.submission = submissions.id), '') WHERE updated = ''")

    def _normalise_graded_at(self) -> None:
        """Rewrite times stored by earlier versions (local, to the second: "%Y-%m-%dT%H:%M:%S%z")
        as :data:`GRADED_AT`; a student's runs of one second keep the order they were made in."""
        old = self.db.execute("SELECT id, student, graded_at FROM runs WHERE graded_at NOT LIKE "
                              "'____-__-__T__:__:__.______+00:00' ORDER BY id").fetchall()
        with self.db:
            for run, student, graded_at in old:
                when = datetime.strptime(graded_at, "%Y-%m-%dT%H:%M:%S%z").astimezone(timezone.utc)
                when = self._unique_time(student, when, when + timedelta(seconds=1), f"AND id < {run:d}")
                self.db.execute("UPDATE runs SET graded_at=? WHERE id=?", (when.strftime(GRADED_AT), run))

    def _unique_time(self, student: str, when: datetime, until: datetime, among: str = "") -> datetime:
        """``when``, or a microsecond after the student's latest run (of those ``among``) graded
        from ``when`` to ``until``: no two runs of a student share a time, and a clock set back
        never makes a new run the older."""
        (latest,) = self.db.execute(
            f"SELECT MAX(graded_at) FROM runs WHERE student=? AND graded_at >= ? AND graded_at < ? {among}",
            (student, when.strftime(GRADED_AT), until.strftime(GRADED_AT))).fetchone()
        if latest is None:
            return when
        return datetime.strptime(latest, GRADED_AT).replace(tzinfo=timezone.utc) + timedelta(microseconds=1)

    def close(self):
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ writing
    def record(self, student: str, digest: str, source: str, notes: list, late: bool, result,
               provenance: Provenance) -> int:
        """Store one graded submission (a GradeResult-like object) in one transaction; the run
        keeps which of its exercises hung on time (``result.unstable``: the run is not final for
        them, see :meth:`is_graded`) and what grading each exercise found (``result.exercise_notes``,
        also in ``notes``: kept apart so that :meth:`refresh` can bring the rest up to date)."""
        now = self._unique_time(student, datetime.now(timezone.utc), datetime.max.replace(tzinfo=timezone.utc))
        updated = self._receipt_time(student, now)
        now = now.strftime(GRADED_AT)
        notes_json = json.dumps([plain_text(n) for n in notes])
        with self.db:
            self.db.execute("INSERT OR IGNORE INTO students(id) VALUES (?)", (student,))
            self.db.execute(
                "INSERT OR IGNORE INTO submissions(student, digest, source, notes, late, received) "
                "VALUES (?, ?, ?, ?, ?, ?)", (student, digest, plain_text(source), notes_json, int(late), now))
            (sub_id,) = self.db.execute("SELECT id FROM submissions WHERE student=? AND digest=?",
                                        (student, digest)).fetchone()
            self.db.execute("UPDATE submissions SET notes=?, source=?, late=?, updated=? WHERE id=?",
                            (notes_json, plain_text(source), int(late), updated, sub_id))
            cur = self.db.execute(
                "INSERT INTO runs(submission, student, graded_at, seconds, grader_version, suite_hash, "
                "torch_version, seeds, protections, score, max_score, unstable, exercise_notes) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (sub_id, student, now, result.seconds, provenance.grader_version, provenance.suite_hash,
                 provenance.torch_version, provenance.seeds, json.dumps(result.protections),
                 result.score, result.max_score, json.dumps(sorted(result.unstable)),
                 json.dumps({ex: [plain_text(n) for n in found] for ex, found in result.exercise_notes.items()})))
            run = cur.lastrowid
            self.db.executemany(
                "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(run, i, t.nodeid, t.name, t.exercise, t.score, t.max_score, t.status,
                  plain_text(t.output), t.visibility, t.seconds, plain_text(t.internal))
                 for i, t in enumerate(result.tests)])
        return run

    def refresh(self, student: str, digest: str, source: str, late: bool, notes: list | None) -> None:
        """Bring the submission of ``student`` with content ``digest``, skipped as unchanged by a
        rerun, up to date with how this run found it: where it came from, whether it was late, and
        its notes (None: keep them). A submission row says how its content was last received (its
        first ``received`` time stays, ``updated`` is now); its runs stay as they were, as a run is a
        grading and the content was not graded again."""
        updated = self._receipt_time(student, datetime.now(timezone.utc))
        with self.db:
            self.db.execute("UPDATE submissions SET source=?, late=?, notes=COALESCE(?, notes), updated=? "
                            "WHERE student=? AND digest=?",
                            (plain_text(source), int(late),
                             None if notes is None else json.dumps([plain_text(n) for n in notes]),
                             updated, student, digest))

    def _receipt_time(self, student: str, now: datetime) -> str:
        """When a submission of ``student`` is received now (as :data:`GRADED_AT`): ``now``, or a
        microsecond after their last receipt if the clock says earlier (what a student sends is
        the newest they sent)."""
        (latest,) = self.db.execute("SELECT MAX(updated) FROM submissions WHERE student=?", (student,)).fetchone()
        if latest and latest >= now.strftime(GRADED_AT):
            now = datetime.strptime(latest, GRADED_AT).replace(tzinfo=timezone.utc) + timedelta(microseconds=1)
        return now.strftime(GRADED_AT)

    def merge_from(self, other: "Gradebook") -> int:
        """Copy every run of ``other`` that this gradebook lacks (by student, digest, time and
        suites), and give each submission the source, late mark and notes of its most recent
        receipt in either (ties go to the greater content: any order of merges gives the same).
        Returns how many runs were added."""
        self._merge_submissions(other)
        added = 0
        for (run_id,) in other.db.execute("SELECT id FROM runs ORDER BY id").fetchall():
            run = other.db.execute(
                "SELECT r.student, s.digest, r.graded_at, r.seconds, r.grader_version, r.suite_hash, "
                "r.torch_version, r.seeds, r.protections, r.score, r.max_score, r.unstable, r.exercise_notes "
                "FROM runs r JOIN submissions s ON s.id = r.submission WHERE r.id=?", (run_id,)).fetchone()
            student, digest, graded_at = run[:3]
            exists = self.db.execute(
                "SELECT 1 FROM runs r JOIN submissions s ON s.id = r.submission WHERE r.student=? AND "
                "s.digest=? AND r.graded_at=? AND r.suite_hash=?", (student, digest, graded_at, run[5])).fetchone()
            if exists:
                continue
            tests = other.db.execute("SELECT * FROM results WHERE run=? ORDER BY position", (run_id,)).fetchall()
            with self.db:
                (sub_id,) = self.db.execute("SELECT id FROM submissions WHERE student=? AND digest=?",
                                            (student, digest)).fetchone()
                cur = self.db.execute(
                    "INSERT INTO runs(submission, student, graded_at, seconds, grader_version, suite_hash, "
                    "torch_version, seeds, protections, score, max_score, unstable, exercise_notes) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", (sub_id, student, *run[2:]))
                self.db.executemany("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                                    [(cur.lastrowid, *t[1:]) for t in tests])
            added += 1
        return added

    def _merge_submissions(self, other: "Gradebook") -> None:
        """Add the submissions of ``other`` this gradebook lacks; one it has takes the source, late
        mark and notes of ``other`` if they were received later (or at the same time and are the
        greater), and the earlier of the two first receipts."""
        with self.db:
            for row in other.db.execute("SELECT student, digest, source, notes, late, received, updated "
                                        "FROM submissions ORDER BY id").fetchall():
                student, digest, source, notes, late, received, updated = row
                self.db.execute("INSERT OR IGNORE INTO students(id) VALUES (?)", (student,))
                self.db.execute("INSERT OR IGNORE INTO submissions(student, digest, source, notes, late, received, "
                                "updated) VALUES (?,?,?,?,?,?,?)", row)
                self.db.execute("UPDATE submissions SET source=?, notes=?, late=?, updated=? WHERE student=? AND "
                                "digest=? AND (updated, source, late, notes) < (?, ?, ?, ?)",
                                (source, notes, late, updated, student, digest, updated, source, late, notes))
                self.db.execute("UPDATE submissions SET received=MIN(received, ?) WHERE student=? AND digest=?",
                                (received, student, digest))

    def cache_put(self, exercise: str, module_key: str, suite_hash: str, tests: list[dict], notes: list[str]) -> None:
        """Remember one exercise's test results for a module's exact content, and the notes
        grading it gave (a notebook's cells that raised)."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO exercise_cache VALUES (?,?,?,?)",
                            (exercise, module_key, suite_hash, json.dumps({"tests": tests, "notes": notes})))

    def cache_get(self, exercise: str, module_key: str, suite_hash: str) -> tuple[list[dict], list[str]] | None:
        """``(tests, notes)`` remembered by :meth:`cache_put`; None if there are none (or only
        ones an older version stored without their notes)."""
        row = self.db.execute("SELECT tests FROM exercise_cache WHERE exercise=? AND module_key=? AND suite_hash=?",
                              (exercise, module_key, suite_hash)).fetchone()
        entry = json.loads(row[0]) if row else None
        return (entry["tests"], entry["notes"]) if isinstance(entry, dict) else None

    # ------------------------------------------------------------------ reading
    def is_graded(self, student: str, digest: str, suite_hash: str, exercises) -> bool:
        """Whether the student's current run is of this content under these suites, graded every
        one of ``exercises`` (a run made with ``--only`` covers only some), and is final for them
        (see :meth:`to_retry`)."""
        row = self._current_run(student)
        if row is None or row[1:3] != (digest, suite_hash) or self.to_retry(student, digest, suite_hash, exercises):
            return False
        graded = {ex for (ex,) in self.db.execute("SELECT DISTINCT exercise FROM results WHERE run=?", (row[0],))}
        return set(exercises) <= graded

    def to_retry(self, student: str, digest: str, suite_hash: str, exercises) -> list[str]:
        """Those of ``exercises`` that hung on time (timed out or crashed) in the student's current
        run, if it is of this content under these suites and the first such run since the last
        that did not hang on them: a timeout under load may not recur, so the run is not final and
        the next grades the student again, as a fresh gradebook would; once a second run in a row
        hung on them too, the newest is final (a hang that recurs is the submission's, and is not
        graded again on every run)."""
        row = self._current_run(student)
        if row is None or row[1:3] != (digest, suite_hash):
            return []
        hung = [ex for ex in exercises if ex in json.loads(row[3])]
        if not hung:
            return []
        in_a_row = 0
        for (unstable,) in self.db.execute(
                "SELECT r.unstable FROM runs r JOIN submissions s ON s.id = r.submission WHERE r.student=? AND "
                f"s.digest=? AND r.suite_hash=? ORDER BY {NEWEST_FIRST}", (student, digest, suite_hash)):
            if not set(json.loads(unstable)) & set(hung):
                break
            in_a_row += 1
        return hung if in_a_row < 2 else []

    def _current_run(self, student: str) -> tuple | None:
        """(id, digest, suite hash, unstable exercises as JSON, exercise notes as JSON or None) of
        the student's current run."""
        return self.db.execute(
            "SELECT r.id, s.digest, r.suite_hash, r.unstable, r.exercise_notes FROM runs r JOIN submissions s "
            f"ON s.id = r.submission WHERE r.student=? ORDER BY {CURRENT_FIRST} LIMIT 1", (student,)).fetchone()

    def current_exercise_notes(self, student: str) -> dict[str, list] | None:
        """What grading each exercise found in the student's current run (exercise -> notes); None
        if there is no run, or its version kept them only among its submission's notes."""
        row = self._current_run(student)
        return json.loads(row[4]) if row and row[4] is not None else None

    def students(self) -> set[str]:
        """Every student with a run."""
        return {student for (student,) in self.db.execute("SELECT DISTINCT student FROM runs")}

    def sources(self) -> dict[str, str]:
        """Each student's source: where their current run's submission was last received from."""
        return dict(self.db.execute(f"SELECT r.student, s.source FROM runs r JOIN submissions s ON s.id = "
                                    f"r.submission WHERE r.id IN ({CURRENT_RUNS})"))

    def suite_versions(self) -> dict[str, int]:
        """How many students' current runs were graded under each suite hash (suites, references,
        grader, ``--allow-forbidden``): more than one, and grades are not alike."""
        return dict(self.db.execute(f"SELECT suite_hash, COUNT(*) FROM runs WHERE id IN ({CURRENT_RUNS}) "
                                    "GROUP BY suite_hash"))

    def graded_exercises(self) -> set[str]:
        """The exercises that students' current runs graded."""
        return {ex for (ex,) in self.db.execute(
            f"SELECT DISTINCT exercise FROM results WHERE run IN ({CURRENT_RUNS})")}

    def current(self):
        """Every student's current run, sorted by student, one at a time (memory stays flat)."""
        with closing(self.db.cursor()) as cur:
            rows = cur.execute(
                "SELECT r.id, r.student, s.digest, s.source, s.notes, s.late, r.score, r.max_score, r.seconds, "
                "r.protections FROM runs r JOIN submissions s ON s.id = r.submission "
                f"WHERE r.id IN ({CURRENT_RUNS}) ORDER BY r.student").fetchall()
            for run, student, digest, source, notes, late, score, max_score, seconds, protections in rows:
                tests = [dict(zip(("name", "nodeid", "exercise", "score", "max_score", "status", "output",
                                   "visibility", "seconds", "internal"), t))
                         for t in self.db.execute("SELECT name, nodeid, exercise, score, max_score, status, output, "
                                              "visibility, seconds, internal FROM results WHERE run=? "
                                              "ORDER BY position", (run,))]
                yield StudentGrade(student, run, digest, source, json.loads(notes), bool(late), score,
                                   max_score, seconds, json.loads(protections), tests)

    def history(self, student: str) -> list[tuple]:
        """(run id, graded_at, digest, score, max_score) of every run of a student, oldest first."""
        return self.db.execute(
            "SELECT r.id, r.graded_at, s.digest, r.score, r.max_score FROM runs r JOIN submissions s "
            f"ON s.id = r.submission WHERE r.student=? ORDER BY {NEWEST_FIRST}", (student,)).fetchall()[::-1]
