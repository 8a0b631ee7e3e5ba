"""Find the students in what an instructor hands the grader: folders, zips, LMS bulk downloads.

Each PATH is one submission (a folder or zip holding module files, or a single module or
notebook), or a folder/zip whose entries are submissions: subfolders, zips, notebooks, or the
flat files of an LMS download. Student ids come from entry names:

- Canvas: ``<name>_[LATE_]<user id>_<file id>_<file>`` (and ``anon_<id>_...`` when anonymous);
  a re-upload ``file-1.py`` stands for ``file.py``; the highest file id is the newest.
- Moodle: ``<Full Name>_<participant id>_assignsubmission_file[/_]<file>`` (a folder's name ends
  in ``file_``; ``onlinetext`` entries belong to the same student and hold no module).
- anything else: the entry's name without its extension.

Nothing is read here beyond names: each :class:`Candidate` loads its files when it is graded, so
memory does not grow with the size of the class.
"""

from __future__ import annotations

import ast
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from autograder.notebook import NotebookError, notebook_to_source
from autograder.submission import (MAX_NOTEBOOK_BYTES, Entry, SubmissionError, entries_of, file_reader,
                                   folder_entries, read_capped, zip_entries)
from autograder.syntax import parse_module

MAX_NESTED_ZIP_BYTES = 64 << 20
MODULE_SUFFIXES = (".py", ".ipynb")
CANVAS = re.compile(r"^(?P<name>.*?)_(?:(?P<late>LATE)_)?(?P<uid>\d+)_(?P<att>\d+)_(?P<file>.+)$")
CANVAS_ANON = re.compile(r"^(?:(?P<late>LATE)_)?anon_(?P<anon>[^_]+)_(?P<att>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>[^_]+)_(?P<pid>\d+)_assignsubmission_(?P<kind>file|onlinetext)(?:_(?P<file>.*))?$")
REUPLOAD = re.compile(r"^(?P<stem>.+?)-\d+(?P<ext>\.[A-Za-z0-9]+)$")


@dataclass
class Candidate:
    """One student's submission, found but not yet read."""

    student: str
    source: str                          # where it came from, for the instructor
    parts: list = field(default_factory=list)   # callables returning (entries, notes)
    late: bool = False
    notes: list = field(default_factory=list)
    combined: bool = False               # entries of two places were taken for one student (not an LMS's uploads)

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


def student_id(text: str) -> str:
    """A file-system-safe id: letters, digits, '.', '_' and '-' only (accents kept in their
    composed form, as macOS's decomposed file names would otherwise lose them)."""
    clean = re.sub(r"[^\w.-]+", "_", unicodedata.normalize("NFC", text).strip()).strip("._")
    return clean or "student"


def parse_lms_name(name: str) -> tuple[str, str | None, int, bool] | None:
    """``(student id, file name or None, rank, late)`` for a Canvas or Moodle entry name."""
    m = CANVAS_ANON.match(name)
    if m:
        return f"anon_{m['anon']}", _reupload(m["file"]), int(m["att"]), bool(m["late"])
    m = MOODLE.match(name)
    if m:
        return student_id(f"{m['name']}_{m['pid']}"), m["file"] or None, 0, False
    m = CANVAS.match(name)
    if m:
        return student_id(f"{m['name']}_{m['uid']}"), _reupload(m["file"]), int(m["att"]), bool(m["late"])
    return None


def _reupload(file_name: str) -> str:
    m = REUPLOAD.match(file_name)
    return f"{m['stem']}{m['ext']}" if m else file_name


def _holds_modules(entries: list[Entry], exercises, prefix: str = "") -> bool:
    names = {f"{prefix}{ex}{sfx}" for ex in exercises for sfx in MODULE_SUFFIXES}
    return any(e.path in names for e in entries)


def _could_be_submission(name: str) -> bool:
    return name.endswith(MODULE_SUFFIXES + (".zip",))


def _single_top_dir(entries: list[Entry]) -> str | None:
    """The one folder holding every entry that could be a submission (module, notebook, zip, or
    anything in a folder); loose other files beside it (a README) do not count."""
    relevant = [e for e in entries if "/" in e.path or _could_be_submission(e.path)]
    tops = {e.path.split("/", 1)[0] for e in relevant}
    return next(iter(tops)) if len(tops) == 1 and all("/" in e.path for e in relevant) else None


def _under(entries: list[Entry], top: str) -> list[Entry]:
    n = len(top) + 1
    return [Entry(e.path[n:], e.size, e.read, e.alias, e.rank) for e in entries if e.path.startswith(top + "/")]


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
        if Path(entry.module_name).stem not in exercises:
            try:
                raw = read_capped(entry, MAX_NOTEBOOK_BYTES).decode("utf-8-sig", "replace")
                source = notebook_to_source(raw) if entry.name.endswith(".ipynb") else raw
            except NotebookError:
                source = ""
            except SubmissionError as e:         # too large to read: say so, not that nothing was found
                source = ""
                notes.append(str(e))
            ex = infer_exercise(source, exercises)
            if ex is not None:
                notes.append(f"{entry.name} was graded as {ex} (from the functions it defines); name it "
                             f"{ex}{Path(entry.name).suffix} to be sure")
                entry = Entry(entry.path, entry.size, entry.read, ex + Path(entry.name).suffix, entry.rank)
        named.append(entry)
    return named, notes


def _nested_zip(entry: Entry):
    def load():
        data = entry.read(MAX_NESTED_ZIP_BYTES)
        if len(data) > MAX_NESTED_ZIP_BYTES:
            raise SubmissionError(f"{entry.path} is larger than {MAX_NESTED_ZIP_BYTES >> 20} MiB")
        return zip_entries(io.BytesIO(data))
    return load


def _failing(error: SubmissionError):
    def load():
        raise error
    return load


def discover(paths: list[Path], exercises) -> list[Candidate]:
    """Candidates from the instructor's PATHs, merged by student id, sorted by id. A folder whose
    one subfolder holds the modules is a class of one when it is the only PATH, and one student
    (the PATH's name) among several PATHs."""
    found: dict[str, Candidate] = {}

    def add(student, source, part, late=False, notes=(), lms=False):
        c = found.setdefault(student, Candidate(student, source))
        if c.parts and source not in c.source.split(" + "):
            c.source += f" + {source}"
            if not lms:
                c.combined = True
                c.notes.append(f"more than one entry for {student} ({c.source}); their files were combined, "
                               "and where two hold the same module the shallowest (then newest) was graded")
        c.parts.append(part)
        c.late = c.late or late
        c.notes += list(notes)

    for path in paths:
        path = Path(path)
        if path.is_dir() and not path.is_symlink() and not _folder_holds_modules(path, exercises):
            inner = _wrapped_folder(path, exercises) if len(paths) > 1 else None
            if inner is not None:                            # one of several students, work a folder down (hw2/)
                lms = parse_lms_name(inner.name)
                add(lms[0] if lms else student_id(path.name), str(path), lambda f=inner: folder_entries(f),
                    lms=bool(lms))
                continue
            for child in sorted(path.iterdir()):             # a class folder: read lazily, entry by entry
                if not child.name.startswith((".", "__MACOSX")) and not _is_output(child):
                    _add_folder_child(child, path, exercises, add)
            continue
        try:
            entries, notes = entries_of(path)
        except SubmissionError as e:
            add(student_id(path.stem), str(path), _failing(e))
            continue
        top = _single_top_dir(entries)
        if _holds_modules(entries, exercises) or path.is_dir():
            add(student_id(path.stem), str(path), lambda e=entries, n=notes: (e, n))
        elif top and _holds_modules(entries, exercises, top + "/"):
            lms = parse_lms_name(top)
            add(lms[0] if lms else student_id(path.stem), str(path), lambda e=_under(entries, top), n=notes: (e, n),
                lms=bool(lms))
        elif path.suffix in MODULE_SUFFIXES:
            add(student_id(path.stem), str(path), lambda e=entries, n=notes: _named_by_student(e, exercises, n))
        else:
            if top:
                entries = _under(entries, top)   # a class zip wrapping everything in one folder
            _add_class_entries(entries, path, exercises, add)
    return [found[k] for k in sorted(found)]


def _wrapped_folder(folder: Path, exercises) -> Path | None:
    """The one subfolder holding modules, when nothing else in ``folder`` could be a submission
    (loose files such as a README aside): one student's work, a level down."""
    children = [c for c in folder.iterdir() if not c.name.startswith((".", "__MACOSX")) and not _is_output(c)]
    dirs = [c for c in children if c.is_dir() and not c.is_symlink()]
    others = [c for c in children if c not in dirs]
    if len(dirs) == 1 and not any(c.is_symlink() or _could_be_submission(c.name) for c in others) \
            and _folder_holds_modules(dirs[0], exercises):
        return dirs[0]
    return None


def _is_output(folder: Path) -> bool:
    """A folder the grader wrote (``--out`` inside the class folder), not a student's."""
    return (folder / "gradebook.sqlite").is_file()


def _folder_holds_modules(folder: Path, exercises) -> bool:
    return any((folder / f"{ex}{sfx}").exists() or (folder / f"{ex}{sfx}").is_symlink()
               for ex in exercises for sfx in MODULE_SUFFIXES)


def _add_folder_child(child: Path, container: Path, exercises, add) -> None:
    """One entry of a class folder: a student's folder, zip, module file or notebook."""
    source = f"{container.name}/{child.name}"
    lms = parse_lms_name(child.name)
    if child.is_symlink():
        error = SubmissionError(f"{child.name} is a symbolic link; it was not followed")
        add(lms[0] if lms else student_id(child.stem), source, _failing(error), lms=bool(lms))
    elif child.is_dir():
        add(lms[0] if lms else student_id(child.name), source, lambda: folder_entries(child), lms=bool(lms))
    elif child.is_file():
        st = child.stat()
        entry = Entry(child.name, st.st_size, file_reader(child), rank=int(st.st_mtime))
        _add_file_entry(entry, source, exercises, add)


def _add_class_entries(entries: list[Entry], container: Path, exercises, add) -> None:
    """Entries of a class zip: each top-level folder, zip or module file is a submission
    (grouped by LMS student id where the names follow Canvas or Moodle)."""
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.path.split("/", 1)[0], []).append(e)
    for top, members in sorted(groups.items()):
        source = f"{container.name}/{top}"
        lms = parse_lms_name(top)
        if len(members) > 1 or "/" in members[0].path:          # a folder
            student = lms[0] if lms else student_id(top)
            add(student, source, lambda m=_under(members, top): (m, []), lms=bool(lms))
        else:
            _add_file_entry(members[0], source, exercises, add)


def _add_file_entry(entry: Entry, source: str, exercises, add) -> None:
    """A single file of a class: a student's zip, or a module or notebook (LMS-named or named
    after the student)."""
    lms = parse_lms_name(entry.name)
    stem = Path(entry.name).stem
    if entry.name.endswith(".zip"):
        add(lms[0] if lms else student_id(stem), source, _nested_zip(entry), late=bool(lms and lms[3]),
            lms=bool(lms))
    elif entry.name.endswith(MODULE_SUFFIXES):
        if lms and lms[1]:
            renamed = Entry(entry.path, entry.size, entry.read, lms[1], lms[2])
            add(lms[0], source, lambda: _named_by_student([renamed], exercises), late=lms[3], lms=True)
        else:
            add(student_id(stem), source, lambda: _named_by_student([entry], exercises))
    elif lms:
        add(lms[0], source, lambda: ([], []), late=lms[3], lms=True,
            notes=[f"{entry.name} is not a module, notebook or zip and was ignored"])
