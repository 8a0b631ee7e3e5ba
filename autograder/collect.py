"""Find the students in what an instructor hands the grader: folders, zips, LMS bulk downloads.

Each PATH is one submission (a folder or zip holding module files, or a single module or
notebook), or a folder/zip whose entries are submissions: subfolders, zips, notebooks, or the
flat files of an LMS download. Student ids come from entry names:

- Canvas: ``<name>_[LATE_]<user id>_<file id>_<file>`` (and ``anon_<id>_...`` when anonymous);
  a re-upload ``file-1.py`` stands for ``file.py``; the highest file id is the newest.
- Moodle: ``<Full Name>_<participant id>_assignsubmission_file[/_]<file>`` (a folder's name ends
  in ``file_``; ``onlinetext`` entries belong to the same student and hold no module).
- anything else: the entry's name without its extension.

Ids are cleaned up (``student_id``), cut to MAX_ID_BYTES, and kept distinct within a container:
names that clean up alike (``Jo Ann``, ``Jo_Ann``) get a short hash of the name. A folder or zip
entry that is not named after one student but whose entries carry several LMS students is an
LMS bulk download (a folder of one per section; beside one, a section of one student is one too):
its students are graded, one level deep. A student whose folder or zip holds files an LMS named
for others is one student, and the instructor is told what to check (``Candidate.doubts``).

A file of a class that is a zip by its first bytes is read as one whatever its name; another
archive is a student whose row says why it cannot be read; anything else is named to the
instructor (:func:`find_class`), as is what a class zip left out.

Nothing is read here beyond names (the member names of such zips, a file's first bytes): each :class:`Candidate`
loads its files when it is graded, so memory does not grow with the size of the class.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from autograder.notebook import NotebookError, notebook_to_source
from autograder.submission import (MAX_NOTEBOOK_BYTES, Entry, SubmissionError, entries_of, file_reader,
                                   folder_entries, nested_zip_entries, read_capped, zip_entries, zips_opened)
from autograder.syntax import parse_module
from autograder.text import plain_text

MAX_ID_BYTES = 100             # with ".json", far below a file name's 255 bytes
MAX_WRAPPING = 3               # folders around one student's work (hw1/src/) looked through, among several PATHs
MODULE_SUFFIXES = (".py", ".ipynb")
CANVAS = re.compile(r"^(?P<name>.*?)_(?:(?P<late>LATE)_)?(?P<uid>\d+)_(?P<att>\d+)_(?P<file>.+)$")
CANVAS_ANON = re.compile(r"^(?:(?P<late>LATE)_)?anon_(?P<anon>[^_]+)_(?P<att>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<pid>\d+)_assignsubmission_(?P<kind>file|onlinetext)(?:_(?P<file>.*))?$")
REUPLOAD = re.compile(r"^(?P<stem>.+?)-\d+(?P<ext>\.[A-Za-z0-9]+)$")
ARCHIVE = re.compile(r"\.(tar|tgz|tbz2?|txz|gz|bz2|xz|7z|rar)$", re.IGNORECASE)   # archives read by other tools
ZIPPED_DOCUMENT = re.compile(r"\.(docx|xlsx|pptx|odt|ods|odp|epub|jar|whl|apk|key|pages|numbers)$", re.IGNORECASE)
SUBMISSION_SUFFIX = re.compile(r"(\.tar)?\.(py|ipynb|zip|tar|tgz|tbz2?|txz|gz|bz2|xz|7z|rar)$", re.IGNORECASE)
DATED = re.compile(r"_(19|20)\d\d_(0?[1-9]|1[0-2])_(0?[1-9]|[12]\d|3[01])(\.\w+)?$")   # name_2026_12_01.py


@dataclass
class Candidate:
    """One student's submission, found but not yet read."""

    student: str
    source: str                          # where it came from, for the instructor
    parts: list = field(default_factory=list)   # callables returning (entries, notes)
    late: bool = False
    notes: list = field(default_factory=list)
    combined: bool = False               # entries of two places were taken for one student (not an LMS's uploads)
    origins: list = field(default_factory=list)   # the full path of each entry taken
    uploads: int = 0                     # how many of them are whole submissions the LMS numbered
    doubts: list = field(default_factory=list)    # for the instructor: what to check about how it was found

    def load(self) -> tuple[list[Entry], list[str]]:
        """Read the names of the student's files (archives opened here, not before)."""
        entries, notes = [], list(self.notes)
        for part in self.parts:
            try:
                e, n = part()
            except SubmissionError as err:
                notes.append(str(err))
                continue
            entries += e
            notes += n
        return entries, notes


class LmsName(NamedTuple):
    """What an LMS's entry name says: the student (as written), the file, its rank, lateness."""

    student: str
    file: str | None
    rank: int
    late: bool


def student_id(text: str) -> str:
    """A file-system-safe id: letters, digits, '.', '_' and '-' only (accents kept in their
    composed form, as macOS's decomposed file names would otherwise lose them), never first a
    '-' (a spreadsheet reads "-1-1" in grades.csv as a formula, as it would "=1+1"; a command
    line, as an option) nor first or last a '.' or '_'; one longer than MAX_ID_BYTES is cut, with
    a short hash of the whole name, so that ``<id>.json`` can be written."""
    clean = re.sub(r"[^\w.-]+", "_", unicodedata.normalize("NFC", text).strip()).lstrip("._-").rstrip("._") \
        or "student"
    if len(clean.encode()) <= MAX_ID_BYTES:
        return clean
    prefix = clean.encode()[:MAX_ID_BYTES - 9].decode("utf-8", "ignore").rstrip("._-")
    return f"{prefix}-{_short_hash(text)}"


def _short_hash(text: str) -> str:
    """8 hex digits of the name, the same whether its accents are composed or not (macOS)."""
    return hashlib.sha256(unicodedata.normalize("NFC", text).encode("utf-8", "surrogatepass")).hexdigest()[:8]


def distinct_ids(names) -> dict[str, str]:
    """name -> student id for the entry names of one container: names that clean up to the same
    id (``Jo Ann``, ``Jo, Ann``) each get a short hash of the name, except one already clean."""
    by_id: dict[str, set[str]] = {}
    for name in names:
        by_id.setdefault(student_id(name), set()).add(unicodedata.normalize("NFC", name))
    ids = {}
    for sid, same in by_id.items():
        for name in same:
            ids[name] = sid if len(same) == 1 or name == sid else f"{sid}-{_short_hash(name)}"
    return ids


def keep_earlier_ids(candidates: list[Candidate], sources: dict[str, str]) -> list[Candidate]:
    """The candidates, sorted by id, where a newcomer whose name cleans up to an earlier student's
    id (``Jo_Ann`` arriving after ``Jo Ann`` had ``Jo_Ann``) has not taken it: when another
    candidate has the id's earlier source (``sources``: id -> where it was last received from)
    and got that id with a hash, the two swap ids, so each student's history stays theirs."""
    by_source = {plain_text(c.source): c for c in candidates}
    for c in candidates:
        earlier = by_source.get(sources.get(c.student, ""))
        if earlier is not None and earlier is not c and re.fullmatch(re.escape(c.student) + r"-[0-9a-f]{8}",
                                                                      earlier.student):
            c.student, earlier.student = earlier.student, c.student
    return sorted(candidates, key=lambda c: c.student)


def student_named(name: str, candidates: list[Candidate]) -> str:
    """The id of the student an instructor names: an id, an entry's name as it is written
    (``Jo Ann`` when ``Jo_Ann`` is another student's), or a name that cleans up to an id."""
    if any(c.student == name for c in candidates):
        return name
    nfc = unicodedata.normalize("NFC", name)
    for c in candidates:
        if any(nfc in (unicodedata.normalize("NFC", Path(o).name), unicodedata.normalize("NFC", Path(o).stem))
               for o in c.origins):
            return c.student
    return student_id(name)


def _lms_name(name: str) -> LmsName | None:
    m = CANVAS_ANON.match(name)
    if m:
        return LmsName(f"anon_{m['anon']}", _reupload(m["file"]), int(m["att"]), bool(m["late"]))
    m = MOODLE.match(name)
    if m:
        return LmsName(f"{m['name']}_{m['pid']}", m["file"] or None, 0, False)
    m = CANVAS.match(name)
    if m:
        return LmsName(f"{m['name']}_{m['uid']}", _reupload(m["file"]), int(m["att"]), bool(m["late"]))
    return None


def parse_lms_name(name: str) -> tuple[str, str | None, int, bool] | None:
    """``(student id, file name or None, rank, late)`` for a Canvas or Moodle entry name."""
    lms = _lms_name(name)
    return None if lms is None else (student_id(lms.student), lms.file, lms.rank, lms.late)


def _upload_name(name: str) -> LmsName | None:
    """What an entry's name says as an LMS upload's, or None: not LMS-named, or a dated copy
    (``broadcasting_2026_12_01.py`` reads as Canvas's name_uid_file-id_file, but is a date; a
    Canvas upload of a dated file, ``smithbob_101_9001_broadcasting_2026_12_01.py``, is LMS-named
    without its date too)."""
    if DATED.search(name) and _lms_name(DATED.sub(r"\4", name)) is None:
        return None
    return _lms_name(name)


def _download_uploads(names: dict[str, bool], folders_alone: bool = False) -> list[LmsName] | None:
    """What an LMS download's top-level entries (name -> is a folder) say, one per upload, or
    None when it is not one: every entry that could be a submission (a folder, a zip, a module or
    notebook) must be LMS-named. A folder counts when Moodle names it, or when Canvas does beside
    Canvas's own files, or ``folders_alone`` (an upload unzipped in place: Canvas makes no
    folders). A student's own folder or zip holds an entry that is not: its modules, or the
    folder they are in (``hw/`` beside ``run_1_1_loss.csv`` or ``plot_1_1_loss.py``), or dated
    copies (:func:`_upload_name`), or two students' files under one upload number, which an LMS
    gives once (``lab_3_1_sgd.py`` beside ``lab_4_1_losses.py``)."""
    named = {name: (_upload_name(name), is_folder)
             for name, is_folder in names.items() if is_folder or _could_be_submission(name)}
    lms_files = any(lms for lms, is_folder in named.values() if not is_folder)
    uploads, numbered = [], {}
    for name, (lms, is_folder) in named.items():
        if lms is None or (is_folder and not (MOODLE.match(name) or lms_files or folders_alone)) \
                or (not is_folder and lms.file and not _could_be_submission(lms.file)) \
                or (lms.rank and numbered.setdefault(lms.rank, lms.student) != lms.student):
            return None
        uploads.append(lms)
    return uploads


def _sections(listings: dict) -> set:
    """Which containers of a class (key -> the names at their top -> is a folder; none of them
    LMS-named itself) are LMS downloads, one per section: those of two LMS students or more, and,
    once one is, also those of one student or of unzipped uploads alone, unless an upload of
    theirs is in another container too (an LMS numbers each upload once: two students' folders
    each holding ``hw_1_2_sgd.py`` are two students). Alone, such a container reads as one
    student's own folder."""
    strict = {key: _download_uploads(names) or [] for key, names in listings.items()}
    sections = {key for key, uploads in strict.items() if len({u.student for u in uploads}) > 1}
    if not sections:
        return set()
    lenient = {key: _download_uploads(names, folders_alone=True) for key, names in listings.items()
               if key not in sections}
    lenient = {key: uploads for key, uploads in lenient.items() if uploads}
    seen = Counter((u.student, u.rank) for uploads in lenient.values() for u in uploads if u.rank)
    return sections | {key for key, uploads in lenient.items() if all(seen[u.student, u.rank] == 1
                                                                       for u in uploads if u.rank)}


def _doubts(names: dict[str, bool], student: str, source: str, exercises) -> list[str]:
    """What the instructor should check about a container graded as one student whose top
    (names -> is a folder) holds other students' uploads as an LMS names them: an LMS download
    that was not taken for one (a student's folder or the exercise's stub beside it), or a
    student's classmates' files."""
    others = set()
    for name, is_folder in names.items():
        lms = _upload_name(name)
        if lms is None or student_id(lms.student) == student:
            continue
        if is_folder or (lms.file and (_is_zip(lms.file) or _names_module(lms.file, exercises))):
            others.add(student_id(lms.student))
    if not others:
        return []
    named = ", ".join(sorted(others)[:3]) + (", ..." if len(others) > 3 else "")
    return [f"{source} was graded as one student, {student}, but holds files an LMS named for "
            f"{len(others)} other student{'s' if len(others) > 1 else ''} ({named}), not graded as theirs; "
            "if it is an LMS download, give it as a PATH of its own holding the uploads alone"]


def _student_folders_doubt(entries: list[Entry], student: str, source: str, exercises) -> list[str]:
    """What the instructor should check about a folder or zip graded as one student (it holds a
    module at its top) whose subfolders, two or more, each hold a module too: a class folder with
    a stray stub at its top."""
    if not _holds_modules(entries, exercises):
        return []
    holders = sorted({e.path.split("/")[0] for e in entries
                      if e.path.count("/") == 1 and _names_module(e.path.split("/")[1], exercises)})
    if len(holders) < 2:
        return []
    named = ", ".join(holders[:3]) + (", ..." if len(holders) > 3 else "")
    return [f"{source} was graded as one student, {student}, but {len(holders)} of its folders ({named}) each "
            "hold an exercise's module too; if it is a class, move the module files at its top out of it"]


def _tops(entries: list[Entry]) -> dict[str, bool]:
    """The top-level names of a zip's (or a zip folder's) entries -> whether each is a folder."""
    tops: dict[str, bool] = {}
    for e in entries:
        top, _, rest = e.path.partition("/")
        tops[top] = tops.get(top, False) or bool(rest)
    return tops


def _reupload(file_name: str) -> str:
    m = REUPLOAD.match(file_name)
    return f"{m['stem']}{m['ext']}" if m else file_name


def _holds_modules(entries: list[Entry], exercises, prefix: str = "") -> bool:
    """Whether an exercise's module or notebook is among the entries right under ``prefix``."""
    return any(e.path.startswith(prefix) and _names_module(e.path[len(prefix):], exercises) for e in entries)


def _names_module(name: str, exercises) -> bool:
    """Whether a file name is an exercise's module or notebook, in any case (``Broadcasting.PY``
    from a system that ignores case is graded as ``broadcasting.py``)."""
    stem, _, suffix = name.lower().rpartition(".")
    return f".{suffix}" in MODULE_SUFFIXES and stem in exercises


def _is_module_file(name: str) -> bool:
    return name.lower().endswith(MODULE_SUFFIXES)


def _is_zip(name: str) -> bool:
    return name.lower().endswith(".zip")


def _could_be_submission(name: str) -> bool:
    return _is_module_file(name) or _is_zip(name)


def _single_top_dir(entries: list[Entry]) -> str | None:
    """The one folder holding every entry that could be a submission (module, notebook, zip, or
    anything in a folder); loose other files beside it (a README) do not count."""
    relevant = [e for e in entries if "/" in e.path or _could_be_submission(e.path)]
    tops = {e.path.split("/", 1)[0] for e in relevant}
    return next(iter(tops)) if len(tops) == 1 and all("/" in e.path for e in relevant) else None


def _wrapped_prefix(entries: list[Entry], exercises, levels: int) -> str | None:
    """The folder (``hw2``, ``hw1/src``), ``levels`` deep at most, whose files hold the modules
    when each folder on the way holds everything there that could be a submission (a zip's
    :func:`_single_top_dir`); None if there is no such folder."""
    prefix = []
    for _ in range(levels):
        top = _single_top_dir(entries)
        if top is None:
            return None
        prefix.append(top)
        entries = _under(entries, top)
        if _holds_modules(entries, exercises):
            return "/".join(prefix)
    return None


def _under(entries: list[Entry], top: str) -> list[Entry]:
    n = len(top) + 1
    return [replace(e, path=e.path[n:]) for e in entries if e.path.startswith(top + "/")]


def infer_exercise(source: str, exercises) -> str | None:
    """The exercise whose contract names a module defines most of (for a notebook named after
    its student rather than its exercise); a tie goes to the exercise with the larger share of
    its names defined (helpers named like another exercise's functions do not win it)."""
    tree = parse_module(source)
    if tree is None:
        return None
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    best = max(exercises.values(), key=lambda ex: (len(defined & set(ex.names)),
                                                   len(defined & set(ex.names)) / max(len(ex.names), 1)))
    return best.id if defined & set(best.names) else None


def _named_by_student(entries: list[Entry], exercises, notes=()) -> tuple[list[Entry], list[str]]:
    """Entries like ``alice.ipynb`` get the name of the exercise each implements, with a note."""
    named, notes = [], list(notes)
    for entry in entries:
        if not _names_module(entry.module_name, exercises):
            try:
                raw = read_capped(entry, MAX_NOTEBOOK_BYTES).decode("utf-8-sig", "replace")
                source = notebook_to_source(raw) if entry.name.lower().endswith(".ipynb") else raw
            except NotebookError as e:           # not a notebook, or too large: say so, not that nothing was found
                source = ""
                notes.append(f"{entry.name} is {e}")
            except SubmissionError as e:         # too large to read: likewise
                source = ""
                notes.append(str(e))
            ex = infer_exercise(source, exercises)
            if ex is not None:
                suffix = Path(entry.name).suffix.lower()
                notes.append(f"{entry.name} was graded as {ex} (from the functions it defines); name it "
                             f"{ex}{suffix} to be sure")
                entry = replace(entry, alias=ex + suffix)
        named.append(entry)
    return named, notes


def _failing(error: SubmissionError):
    def load():
        raise error
    return load


def find_class(paths: list[Path], exercises, exclude=()) -> tuple[list[Candidate], list[str]]:
    """Candidates from the instructor's PATHs, merged by student id, sorted by id, and what the
    instructor should know of the files that are no student's (ignored, or left out of a class
    zip). A folder whose one subfolder holds the modules is a class of one when it is the only
    PATH, and one student (the PATH's name) among several PATHs, as is a folder or zip whose work
    is up to MAX_WRAPPING folders down (``hw1/src/``). Nothing under ``exclude`` (the
    grader's own output) is a student. A PATH given twice is read once, and ``.`` is the folder's
    own name."""
    finder = _Finder(exercises, exclude)
    distinct: dict[str, Path] = {}
    for path in map(Path, paths):
        path = Path(os.path.abspath(path)) if path.name in ("", ".", "..") else path
        if distinct.setdefault(os.path.realpath(path), path) is not path:
            finder.notes.append(f"{path} was given more than once; it was read once")
    for path in distinct.values():
        finder.add_path(path, several=len(distinct) > 1)
    return [finder.found[k] for k in sorted(finder.found)], finder.notes


def discover(paths: list[Path], exercises, exclude=()) -> list[Candidate]:
    """The candidates of :func:`find_class`."""
    return find_class(paths, exercises, exclude)[0]


class _Finder:
    """The students found so far, by id."""

    def __init__(self, exercises, exclude):
        self.exercises = exercises
        self.excluded = {os.path.realpath(p) for p in exclude}
        self.found: dict[str, Candidate] = {}
        self.notes: list[str] = []          # for the instructor: files of the class that are no student's

    def add(self, student, source, origin, part, *, lms: LmsName | None = None, whole=False, notes=(), doubts=()):
        """One entry of ``student`` (``origin`` its full path, ``lms`` what its LMS name says,
        ``whole`` a folder or zip, ``doubts`` for the instructor); entries of several places are
        combined, with a note, unless they are one LMS student's files; two whole uploads the LMS
        numbered are noted too."""
        upload = bool(whole and lms and lms.rank)
        if lms and lms.rank:
            part = _ranked_by_upload(part, lms.rank)
        c = self.found.setdefault(student, Candidate(student, source))
        if c.parts and origin not in c.origins:
            c.source += f" + {origin if source in c.source.split(' + ') else source}"
            if not lms:
                c.combined = True
                c.notes.append(f"more than one entry for {student} ({c.source}); their files were combined, "
                               "and where two hold the same module the shallowest (then newest) was graded")
            elif upload and c.uploads:
                c.combined = True
                c.notes.append(f"more than one upload for {student} ({c.source}); the LMS's names make them one "
                               "student's resubmissions, so their files were combined, and where two hold the "
                               "same module the shallowest (then newest) was graded")
        c.origins.append(origin)
        c.uploads += upload
        c.parts.append(part)
        c.late = c.late or bool(lms and lms.late)
        c.notes += list(notes)
        c.doubts += list(doubts)

    def add_path(self, path: Path, several: bool) -> None:
        exercises = self.exercises
        if path.is_symlink():          # the instructor's own PATH (a link to this term's class): followed
            path = Path(os.path.realpath(path))
        if path.is_dir() and not path.is_symlink() and not _folder_holds_modules(path, exercises):
            inner = self._wrapped_folder(path, MAX_WRAPPING) if several else None
            if inner is None:
                self.add_folder(path)
                return
            lms = _lms_name(inner.name)                      # one of several students, work a folder down (hw2/)
            self.add(student_id(lms.student if lms else path.name), str(path), str(path),
                     lambda: folder_entries(inner), lms=lms, whole=True)
            return
        lms = _path_lms_name(path)                     # a student's upload taken out of an LMS download
        name = lms.student if lms else path.name if path.is_dir() else _file_student(path.name)   # john.doe.zip too
        try:
            entries, notes = entries_of(path)
        except SubmissionError as e:
            self.add(student_id(name), str(path), str(path), _failing(e), lms=lms)
            return
        top = _single_top_dir(entries)
        wrapped = _wrapped_prefix(entries, exercises, MAX_WRAPPING if several else 1)
        if _holds_modules(entries, exercises) or path.is_dir():
            student = student_id(name)
            self.add(student, str(path), str(path), lambda: (entries, notes), lms=lms, whole=True,
                     doubts=_doubts(_tops(entries), student, path.name, exercises)
                     + _student_folders_doubt(entries, student, path.name, exercises))
        elif wrapped:
            lms = lms or _lms_name(top)
            self.add(student_id(lms.student if lms else name), str(path), str(path),
                     lambda e=_under(entries, wrapped): (e, notes), lms=lms, whole=True)
        elif _is_module_file(path.name):
            if lms:
                entries = [replace(entry, alias=lms.file) for entry in entries]
            self.add(student_id(name), str(path), str(path), lambda: _named_by_student(entries, exercises, notes),
                     lms=lms)
        else:
            self.notes += [f"{path.name}: {note}" for note in notes]
            self.add_class_entries(_under(entries, top) if top else entries, path.name, str(path))

    def _wrapped_folder(self, folder: Path, levels: int) -> Path | None:
        """The folder holding the modules, ``levels`` down at most, when each folder on the way is
        the only thing in its parent that could be a submission (loose files such as a README
        aside): one student's work, a folder or more down (``hw2/``, ``hw1/src/``)."""
        children = self._children(folder)
        dirs = [c for c in children if c.is_dir() and not c.is_symlink()]
        others = [c for c in children if c not in dirs]
        if levels < 1 or len(dirs) != 1 or any(c.is_symlink() or _could_be_submission(c.name) for c in others):
            return None
        return dirs[0] if _folder_holds_modules(dirs[0], self.exercises) else self._wrapped_folder(dirs[0], levels - 1)

    def _children(self, folder: Path) -> list[Path]:
        """A folder's entries, sorted, without hidden ones and the grader's own output (and a
        folder holding nothing else, ``grading/`` of ``--out class/grading/run1``)."""
        return [c for c in sorted(folder.iterdir()) if not c.name.startswith((".", "__MACOSX"))
                and os.path.realpath(c) not in self.excluded      # realpath: a symlink loop does not raise
                and not self._leads_only_to_excluded(c)]

    def _leads_only_to_excluded(self, folder: Path) -> bool:
        """Whether ``folder`` holds the grader's own output a folder or more down, and nothing else."""
        real = os.path.realpath(folder)
        if folder.is_symlink() or not any(e.startswith(real + os.sep) for e in self.excluded):
            return False
        return not self._children(folder)

    def add_folder(self, folder: Path, nested: bool = False) -> None:
        """A class folder, read lazily entry by entry; ``nested``: one found inside a PATH (an
        LMS download in a folder of downloads), whose entries are not looked into again."""
        children = self._children(folder)
        keys = {c: _entry_key(c.name, c.is_dir() and not c.is_symlink()) for c in children}
        ids = distinct_ids(key for key, _ in keys.values())
        listings = {} if nested else {c: self._top_names(c) for c in children if keys[c][1] is None}
        listings = {c: names for c, names in listings.items() if names is not None}
        sections = _sections(listings)
        for child in children:
            key, lms = keys[child]
            student = ids[unicodedata.normalize("NFC", key)]
            source, origin = f"{folder.name}/{child.name}", str(child)
            doubts = _doubts(listings[child], student, source, self.exercises) if child in listings else []
            if child in sections and child.is_dir():
                self.add_folder(child, nested=True)
            elif child in sections:
                self.add_class_entries(_download_entries(child), child.name, origin, nested=True)
            elif child.is_symlink():
                error = SubmissionError(f"{child.name} is a symbolic link; it was not followed")
                self.add(student, source, origin, _failing(error), lms=lms)
            elif child.is_dir():
                load = (lambda c=child: zips_opened(*folder_entries(c))) if lms else \
                    (lambda c=child: folder_entries(c))
                self.add(student, source, origin, load, lms=lms, whole=True, doubts=doubts)
            elif child.is_file():
                st = child.stat()
                entry = Entry(child.name, st.st_size, file_reader(child), rank=int(st.st_mtime))
                self._add_file_entry(entry, student, lms, source, origin, doubts)

    def _top_names(self, child: Path) -> dict[str, bool] | None:
        """The names at the top of a folder or zip of a class folder (-> is a folder), or None
        for anything else (a module, a symbolic link, a damaged zip)."""
        if child.is_symlink():
            return None
        if child.is_dir():
            return {c.name: c.is_dir() and not c.is_symlink() for c in self._children(child)}
        return _zip_top_names(child) if _is_zip(child.name) else None

    def add_class_entries(self, entries: list[Entry], label: str, origin: str, nested: bool = False) -> None:
        """Entries of a class zip (``label`` its name, ``origin`` its full path): each top-level
        folder, zip or module file is a submission (grouped by LMS student id where the names
        follow Canvas or Moodle)."""
        groups: dict[str, list[Entry]] = {}
        for e in entries:
            groups.setdefault(e.path.split("/", 1)[0], []).append(e)
        folders = {top for top, members in groups.items() if len(members) > 1 or "/" in members[0].path}
        keys = {top: _entry_key(top, top in folders) for top in groups}
        ids = distinct_ids(key for key, _ in keys.values())
        inner = {top: _under(groups[top], top) for top in folders}
        listings = {} if nested else {top: _tops(inner[top]) if top in folders else _zip_top_names(groups[top][0])
                                      for top in groups if keys[top][1] is None
                                      and (top in folders or _is_zip(top))}
        listings = {top: names for top, names in listings.items() if names is not None}
        sections = _sections(listings)
        for top, members in sorted(groups.items()):
            key, lms = keys[top]
            student = ids[unicodedata.normalize("NFC", key)]
            source, where = f"{label}/{top}", f"{origin}/{top}"
            doubts = _doubts(listings[top], student, source, self.exercises) if top in listings else []
            if top in sections:
                self.add_class_entries(inner[top] if top in folders else _download_entries(members[0]), top, where,
                                       nested=True)
            elif top in folders:
                load = (lambda m=inner[top]: zips_opened(m, [])) if lms else (lambda m=inner[top]: (m, []))
                self.add(student, source, where, load, lms=lms, whole=True, doubts=doubts)
            else:
                self._add_file_entry(members[0], student, lms, source, where, doubts)

    def _add_file_entry(self, entry: Entry, student: str, lms: LmsName | None, source: str, origin: str,
                        doubts=()) -> None:
        """A single file of a class: a student's zip (by its name or its content: ``erin``,
        ``dave.7z``), a module or notebook (LMS-named or named after the student), another archive
        (a student, with the reason it cannot be read), or anything else (ignored, and said)."""
        if _is_zip(entry.name) or _holds_zip(entry):
            self.add(student, source, origin, lambda: nested_zip_entries(entry), lms=lms, whole=True, doubts=doubts)
        elif _is_module_file(entry.name):
            if lms and lms.file:
                renamed = replace(entry, alias=lms.file)
                self.add(student, source, origin, lambda: _named_by_student([renamed], self.exercises),
                         lms=lms)
            else:
                self.add(student, source, origin, lambda: _named_by_student([entry], self.exercises))
        elif lms:
            self.add(student, source, origin, lambda: ([], []), lms=lms,
                     notes=[f"{entry.name} is not a module, notebook or zip and was ignored"])
        elif ARCHIVE.search(entry.name):
            self.add(student, source, origin, _failing(SubmissionError(
                f"{entry.name} is an archive the grader cannot open: only .zip archives are read")))
        else:
            self.notes.append(f"{source} was ignored: it is not a folder, a .zip, a module (.py) or a notebook "
                              "(.ipynb)")


def _path_lms_name(path: Path) -> LmsName | None:
    """What the name of a PATH says as an LMS's, for one student's upload taken out of a
    download: a Moodle student folder, or a Canvas or Moodle file whose own name is a module,
    notebook or zip; None for anything else (a student's folder or file, a class)."""
    lms = _upload_name(path.name)
    if lms is None:
        return None
    if path.is_dir():
        return lms if MOODLE.match(path.name) else None
    return lms if lms.file and _could_be_submission(lms.file) else None


def _entry_key(name: str, is_folder: bool) -> tuple[str, LmsName | None]:
    """The student an entry of a class stands for, as written (before ``student_id``), and
    what its LMS name says if it has one."""
    lms = _lms_name(name)
    return (lms.student if lms else name if is_folder else _file_student(name)), lms


def _file_student(name: str) -> str:
    """The student a file of a class is named after: its name without the suffix of a module,
    notebook or archive (``john.doe.zip`` and a zip named ``john.doe`` are both john.doe)."""
    return SUBMISSION_SUFFIX.sub("", name) or name


def _holds_zip(entry: Entry) -> bool:
    """Whether a file not named as a module or a document is a zip by its first bytes (``erin``,
    ``dave.7z``, ``john.doe``; not a .docx, which is a zip of a document)."""
    if _is_module_file(entry.name) or ZIPPED_DOCUMENT.search(entry.name):
        return False
    try:
        return entry.read(3)[:4] in (b"PK\x03\x04", b"PK\x05\x06")
    except (SubmissionError, OSError):
        return False


def _ranked_by_upload(load, upload_rank: int):
    """``load`` with each file marked with the number an LMS gave its upload (Canvas's file id):
    the newest upload's files win over an older upload's, flat, zipped or a folder down."""
    def ranked():
        entries, notes = load()
        return [replace(e, upload=upload_rank) for e in entries], notes
    return ranked


def _download_entries(zip_file) -> list[Entry]:
    """The entries of a zip (a path or an :class:`Entry`), without the one folder holding them all
    if there is one (an LMS download zipped with its folder); none if it cannot be read."""
    try:
        entries, _ = zip_entries(zip_file) if isinstance(zip_file, Path) else nested_zip_entries(zip_file)
    except SubmissionError:
        return []
    top = _single_top_dir(entries)
    return _under(entries, top) if top else entries


def _zip_top_names(zip_file) -> dict[str, bool] | None:
    """The names at the top of a zip's entries (-> is a folder), the one folder holding them all
    taken off; None if it cannot be read (it is graded, and its error reported, as a student's)."""
    entries = _download_entries(zip_file)
    return _tops(entries) if entries else None


def _folder_holds_modules(folder: Path, exercises) -> bool:
    try:
        return any(_names_module(name, exercises) for name in os.listdir(folder))
    except OSError:
        return False
