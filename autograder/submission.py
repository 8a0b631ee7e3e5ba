"""Read a submission (folder, .zip, single module or notebook) into a private folder of modules.

Only the exercise module files are taken: ``<exercise>.py``, or ``<exercise>.ipynb`` turned into
source. Nothing is extracted by the archive's own paths, symlinks are never followed, and every
read is capped, so zip-slip, zip bombs and links to other files cannot reach beyond the entry.
"""

from __future__ import annotations

import ast
import codecs
import hashlib
import io
import os
import re
import stat
import tempfile
import time
import tokenize
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from autograder.notebook import NotebookError, read_notebook
from autograder.syntax import parse_module

MAX_SOURCE_BYTES = 1 << 20          # one .py module
MAX_NOTEBOOK_BYTES = 128 << 20      # one .ipynb, outputs and images included (they are left out before
                                    # it is read as a notebook: autograder.notebook.MAX_WITHOUT_OUTPUTS)
CLEAR_OUTPUTS = "clear its outputs (Kernel > Restart & Clear Output), save it and submit again"
MAX_ARCHIVE_MEMBERS = 10_000
MAX_NESTED_ZIP_BYTES = 64 << 20     # a zip inside a zip or a folder, read into memory
MAX_COMPRESSION_RATIO = 200
LOOSE_COPY = re.compile(r"(\s*\(\d+\)|-\d+|\s+copy|-copy\d+)+$")    # what file managers (and Jupyter's
                                                                   # Duplicate: -Copy1) add to a copy's name
NAMES_SHOWN = 5           # of the files not graded, a note names so many
NAME_SHOWN_CHARS = 80     # and cuts longer names to about so many characters
COPY_MARKS_SPAN = 32      # copy marks are looked for in a name's last characters only: the search is
                          # quadratic in the length, and a zip may hold names of 64 KiB
SKIPPED_DIRS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git", "site-packages"}
VIRTUALENV_MARK = "pyvenv.cfg"      # a folder holding it is a virtualenv (venv/, env/, .venv/): not submitted code


class SubmissionError(Exception):
    """The submission cannot be read at all."""


@dataclass
class Entry:
    """One file of a submission, readable up to a cap."""

    path: str                       # relative, '/'-separated
    size: int
    read: callable                  # read(cap) -> bytes, at most cap + 1 bytes
    alias: str | None = None        # the module file name it stands for, if not its own name
    rank: int = 0                   # among files standing for one module, the highest is the newest
                                    # (a modification time)
    upload: int = 0                 # the number an LMS gave the upload it came in (Canvas's file id);
                                    # a newer upload's file wins over an older one's at any depth

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def module_name(self) -> str:
        return self.alias or self.name


@dataclass
class Submission:
    """A prepared submission: a private folder holding ``<exercise>.py`` files."""

    folder: Path
    found: dict[str, str] = field(default_factory=dict)      # exercise -> file it came from
    problems: dict[str, str] = field(default_factory=dict)   # exercise -> why it cannot be graded
    notes: list[str] = field(default_factory=list)           # things the student should know
    digest: str = ""


# --------------------------------------------------------------------------- reading sources


def folder_entries(folder: Path) -> tuple[list[Entry], list[str]]:
    """The files under ``folder`` (hidden ones, caches and virtualenvs left out), and a note for
    each folder that could not be read."""
    entries, notes = [], []

    def unreadable(error: OSError) -> None:
        where = Path(error.filename or folder).relative_to(folder).as_posix()
        notes.append(f"{folder.name if where == '.' else where} cannot be read ({error.strerror or error})")

    for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith(".")
                             and not os.path.lexists(os.path.join(dirpath, d, VIRTUALENV_MARK)))
        for fn in sorted(f for f in filenames if not f.startswith(".")):    # .DS_Store, macOS's ._ files
            full = Path(dirpath) / fn
            rel = full.relative_to(folder).as_posix()
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                entries.append(Entry(rel, 0, _refuse(f"{rel} is a symbolic link, which is never followed; "
                                                      "submit the file itself")))
                continue
            if stat.S_ISREG(st.st_mode):
                entries.append(Entry(rel, st.st_size, file_reader(full), rank=int(st.st_mtime)))
    return entries, notes


def _refuse(message: str):
    """A reader for an entry that must not be read (a symbolic link)."""
    def read(cap: int) -> bytes:
        raise SubmissionError(message)
    return read


def file_reader(path: Path):
    """A reader of the file at ``path``; one that cannot be read raises SubmissionError, saying why."""
    def read(cap: int) -> bytes:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f:
                return f.read(cap + 1)
        except OSError as e:
            raise SubmissionError(f"{path.name} cannot be read ({e.strerror or e})") from None
    return read


def zip_entries(source) -> tuple[list[Entry], list[str]]:
    """Entries of a zip (a path or a file object); raises SubmissionError if it is unreadable."""
    try:
        zf = zipfile.ZipFile(source)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise SubmissionError(f"the zip file is damaged or not a zip ({e})") from e
    if len(infos) > MAX_ARCHIVE_MEMBERS:
        raise SubmissionError(f"the zip holds {len(infos)} files, more than {MAX_ARCHIVE_MEMBERS}")
    entries, notes = [], []
    members = [(info, _member_name(info).replace("\\", "/")) for info in infos]
    virtualenvs: dict = {}              # the folders holding a pyvenv.cfg, as a tree of their names
    for _, name in members:
        *folder, last = [p for p in name.split("/") if p not in ("", ".")] or [""]
        if last == VIRTUALENV_MARK and folder:
            node = virtualenvs
            for p in folder:
                node = node.setdefault(p, {})
            node[None] = True                   # the key no name is: this folder is a virtualenv
    for info, name in members:
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if info.is_dir() or not parts:
            continue
        if name.startswith("/") or ".." in parts:
            notes.append(f"{info.filename} points outside the archive and was ignored")
            continue
        if any(p in SKIPPED_DIRS or p.startswith(".") for p in parts[:-1]) or parts[-1].startswith("."):
            continue                              # .DS_Store, macOS's ._ files
        if _in_virtualenv(parts[:-1], virtualenvs):
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            entries.append(Entry("/".join(parts), 0, _refuse(f"{name} is a symbolic link, which is never "
                                                              "followed; submit the file itself")))
            continue
        try:
            stamp = int(time.mktime(info.date_time + (0, 0, -1)))
        except (OverflowError, ValueError):
            stamp = 0
        entries.append(Entry("/".join(parts), info.file_size, _zip_reader(zf, info), rank=stamp))
    last = {e.path: e for e in entries}          # a name stored twice: the later copy supersedes, as in unzip
    repeated = sorted({e.path for e in entries if last[e.path] is not e})
    notes += [f"the zip holds {path} more than once; the last copy was taken" for path in repeated]
    return [e for e in entries if last[e.path] is e], notes


def _in_virtualenv(folder: list[str], virtualenvs: dict) -> bool:
    """Whether a folder (its names from the top) is, or is inside, one of ``virtualenvs``."""
    node = virtualenvs
    for p in folder:
        node = node.get(p)
        if node is None:
            return False
        if None in node:
            return True
    return False


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's name. One stored without the UTF-8 flag (Windows Explorer, Info-ZIP and many
    LMS exports write names so) is taken as UTF-8 when it is valid UTF-8, else as zip's old
    default, cp437, as ``zipfile`` reads it."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:
        return info.filename


def _zip_reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo):
    def read(cap: int) -> bytes:
        if info.flag_bits & 0x1:
            raise SubmissionError(f"{info.filename} is password-protected; submit it without a password")
        if info.compress_size and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO \
                and info.file_size > (1 << 20):
            raise SubmissionError(f"{info.filename} expands {info.file_size // info.compress_size}x "
                                  "(a zip bomb?); it was not read")
        try:
            with zf.open(info) as f:
                return f.read(cap + 1)
        except RuntimeError as e:  # encrypted
            raise SubmissionError(f"{info.filename} cannot be read ({e})") from e
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise SubmissionError(f"{info.filename} is damaged in the zip ({e})") from e
    return read


def nested_zip_entries(entry: Entry) -> tuple[list[Entry], list[str]]:
    """The entries of a zip that is itself an entry (of a folder or another zip), read whole into
    memory up to MAX_NESTED_ZIP_BYTES; raises SubmissionError."""
    data = entry.read(MAX_NESTED_ZIP_BYTES)
    if len(data) > MAX_NESTED_ZIP_BYTES:
        raise SubmissionError(f"{entry.path} is larger than {MAX_NESTED_ZIP_BYTES >> 20} MiB")
    return zip_entries(io.BytesIO(data))


def zips_opened(entries: list[Entry], notes: list[str]) -> tuple[list[Entry], list[str]]:
    """The entries with each zip at their top opened (an upload Moodle keeps in the student's
    folder; a student's zip of a zip): its files come under ``<zip name>/``, a level below."""
    opened, notes = [], list(notes)
    for e in entries:
        if "/" in e.path or not e.name.lower().endswith(".zip"):
            opened.append(e)
            continue
        try:
            inner, inner_notes = nested_zip_entries(e)
        except SubmissionError as err:
            notes.append(f"{e.path}: {err}")
            continue
        opened += [replace(i, path=f"{e.path}/{i.path}") for i in inner]
        notes += inner_notes
    return opened, notes


def entries_of(path: Path) -> tuple[list[Entry], list[str]]:
    """The files of a submission at ``path``: a folder, a zip, or one module/notebook file."""
    if path.is_symlink():
        raise SubmissionError(f"{path.name} is a symbolic link; submit the file itself")
    if path.is_dir():
        return folder_entries(path)
    if not path.is_file():
        raise SubmissionError(f"{path} does not exist")
    if zipfile.is_zipfile(path) or path.suffix.lower() == ".zip":
        return zip_entries(path)
    return [Entry(path.name, path.stat().st_size, file_reader(path))], []


# --------------------------------------------------------------------------- choosing modules


def pick_modules(entries: list[Entry], exercises) -> tuple[dict, list[str]]:
    """exercise id -> the entry holding it. Of several files named ``<id>.py`` (or ``<id>.ipynb``)
    the one of the newest LMS upload, then the shallowest, then the newest (highest rank), stands
    for its kind. When both kinds are
    there, the ``.py`` is graded unless the notebook implements more functions (a student who
    works in a notebook beside the untouched stub gets the notebook graded), or as many and the
    ``.py`` is an export of a notebook (it calls ``get_ipython()``, which only IPython has). Both
    cases are noted."""
    chosen, notes = {}, []
    for ex in exercises:
        if not any(e.module_name in (ex + ".py", ex + ".ipynb") for e in entries):
            entries = _by_loose_name(entries, ex, notes)
        best = []
        for suffix in (".py", ".ipynb"):
            matches = sorted((e for e in entries if e.module_name == ex + suffix),
                             key=lambda e: (-e.upload, e.path.count("/"), -e.rank, e.path))
            if matches:
                best.append(matches[0])
                if len(matches) > 1:
                    notes.append(f"several files named {ex}{suffix}; graded {matches[0].path}")
        if len(best) == 2:
            module, notebook = best
            in_notebook, in_module = implemented_functions(notebook), implemented_functions(module)
            exported = in_notebook == in_module and _calls_get_ipython(module)
            chosen[ex] = notebook if in_notebook > in_module or exported else module
            why = ("it implements more functions" if in_notebook > in_module else
                   f"{module.path} is an export of a notebook (it calls get_ipython(), which only Jupyter has)"
                   if exported else "the notebook does not implement more functions")
            notes.append(f"both {module.path} and {notebook.path} are in your submission; graded {chosen[ex].path} "
                         f"because {why} (keep only one to choose yourself)")
        elif best:
            chosen[ex] = best[0]
    return chosen, notes


def _by_loose_name(entries: list[Entry], exercise: str, notes: list[str]) -> list[Entry]:
    """Entries where the files named almost like ``exercise`` (``SGD.ipynb``, ``sgd (1).py``,
    ``sgd-Copy1.ipynb``, ``hw2_sgd.py``, ``Copy of sgd.ipynb``) stand for its module, with a note each; not the
    public tests released with it (``tests/test_sgd.py``)."""
    out = []
    for e in entries:
        stem, dot, suffix = e.module_name.lower().rpartition(".")
        stem = stem.removeprefix("copy of ").strip()
        loose = stem[:-COPY_MARKS_SPAN] + LOOSE_COPY.sub("", stem[-COPY_MARKS_SPAN:])
        if dot and "." + suffix in (".py", ".ipynb") and not _is_test_file(stem) and (loose == exercise or re.search(
                rf"[\s_-]{exercise}$", loose)):
            notes.append(f"{e.path} was graded as {exercise}.{suffix}; name it so to be sure")
            e = replace(e, alias=f"{exercise}.{suffix}")
        out.append(e)
    return out


def implemented_functions(entry: Entry) -> int:
    """How many functions (methods included) in the entry's source do not end by raising
    NotImplementedError, as a stub's do; 0 for a file that cannot be read or compiled (a
    ``from __future__`` import below other code parses, but does not compile)."""
    try:
        tree = parse_module(module_source(entry)[0])
    except SubmissionError:
        return 0
    if tree is None:
        return 0
    try:
        compile(tree, entry.path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return 0
    return sum(not _is_stub(n.body) for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))


def _calls_get_ipython(entry: Entry) -> bool:
    try:
        return b"get_ipython()" in module_source(entry)[0]
    except SubmissionError:
        return False


def _is_stub(body: list) -> bool:
    """A function body that always ends by raising NotImplementedError (whatever comes before)."""
    last = body[-1]
    if not isinstance(last, ast.Raise) or last.exc is None:
        return False
    exc = last.exc.func if isinstance(last.exc, ast.Call) else last.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def read_capped(entry: Entry, cap: int) -> bytes:
    """The bytes of an entry; SubmissionError if it holds more than ``cap`` (for a notebook,
    saying how to make it smaller)."""
    raw = entry.read(cap)
    if len(raw) > cap:
        fix = f": {CLEAR_OUTPUTS}" if entry.name.lower().endswith(".ipynb") else ""
        raise SubmissionError(f"{entry.path} is larger than {cap >> 20} MiB{fix}")
    return raw


def module_source(entry: Entry) -> tuple[bytes, list[str]]:
    """The module source of an entry as UTF-8 (notebooks converted), or as its coding line says
    (``# -*- coding: latin-1 -*-``, which Python honours), and notes for the student (a file that
    had to be repaired, a notebook's repeated solution cells); raises SubmissionError."""
    if entry.name.lower().endswith(".ipynb"):
        raw = read_capped(entry, MAX_NOTEBOOK_BYTES)
        try:
            source, notes = read_notebook(raw.decode("utf-8-sig"))        # a BOM, as some editors write
            return source.encode(), [f"{entry.path}: {note}" for note in notes]
        except UnicodeDecodeError:
            raise SubmissionError(f"{entry.path} is not UTF-8 text, so it is not a notebook") from None
        except NotebookError as e:
            raise SubmissionError(f"{entry.path} is {e}") from None
    raw = read_capped(entry, MAX_SOURCE_BYTES)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):     # Notepad's "Unicode"
        note = f"{entry.path} was saved as UTF-16 and read as such. Save your files as UTF-8."
        return raw.decode("utf-16", errors="replace").encode("utf-8"), [note]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if _declared_encoding(raw):
            return raw, []
        note = (f"{entry.path} is not UTF-8 text (byte {raw[e.start]:#x} at offset {e.start}); it was read as "
                "Windows-1252. Save your files as UTF-8.")
        return raw.decode("cp1252", errors="replace").encode("utf-8"), [note]
    if not text.strip():
        raise SubmissionError(f"{entry.path} is empty: save your work in it and submit again")
    return raw, []


def _declared_encoding(raw: bytes) -> str | None:
    """The encoding a file's coding line declares (PEP 263), if it has one that reads the file."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        raw.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return None
    return None if encoding.startswith("utf-8") else encoding


def prepare(entries: list[Entry], exercises, workdir: Path, notes=(), siblings=()) -> Submission:
    """Write the chosen modules of ``exercises`` into a new private folder under ``workdir``,
    and those of ``siblings`` (the course's other exercises, not graded now) that can be read:
    a graded module may import one (``from masked_softmax import masked_softmax``). The digest
    covers both; notes and problems are of the graded ones only."""
    chosen, pick_notes, importable = _modules_of(entries, exercises, siblings)
    if not chosen and not importable:           # the work may be in a zip inside
        entries, notes = zips_opened(entries, notes)
        chosen, pick_notes, importable = _modules_of(entries, exercises, siblings)
    folder = Path(tempfile.mkdtemp(prefix="sub-", dir=workdir))
    os.chmod(folder, 0o755)
    sub = Submission(folder, notes=list(notes) + pick_notes)
    digest = hashlib.sha256()
    for ex, entry in sorted({**chosen, **importable}.items()):
        try:
            source, notes = module_source(entry)
        except SubmissionError as e:
            if ex in chosen:
                sub.problems[ex] = str(e)
            continue
        target = folder / f"{ex}.py"
        target.write_bytes(source)
        os.chmod(target, 0o644)
        digest.update(f"{ex}\0{len(source)}\0".encode() + source)
        if ex in chosen:
            sub.notes += notes
            sub.found[ex] = entry.path
    sub.digest = digest.hexdigest()
    sub.notes += _not_graded_note(entries, {entry.path for entry in {**chosen, **importable}.values()},
                                  [*exercises, *siblings], list(exercises))
    return sub


def _modules_of(entries: list[Entry], exercises, siblings) -> tuple[dict, list[str], dict]:
    """The entries holding ``exercises`` (see :func:`pick_modules`), its notes, and those holding
    ``siblings`` that none of them holds."""
    chosen, notes = pick_modules(entries, exercises)
    importable = {ex: entry for ex, entry in pick_modules(entries, siblings)[0].items() if ex not in chosen}
    return chosen, notes, importable


def _is_test_file(stem: str) -> bool:
    """Whether a module's name (lower case, no suffix) is pytest's for tests or their fixtures: the
    public tests' and their ``conftest.py``."""
    return stem.startswith("test_") or stem.endswith("_test") or stem == "conftest"


def _is_own_code(name: str) -> bool:
    """Whether a file's name is a module's or a notebook's, and not the public tests'."""
    stem, dot, suffix = name.lower().rpartition(".")
    return bool(dot) and suffix in ("py", "ipynb") and not _is_test_file(stem)


def _not_graded_note(entries: list[Entry], taken: set[str], course_exercises, graded) -> list[str]:
    """A note naming the modules and notebooks of a submission that no exercise took
    (``helpers.py``, ``sgd_old.ipynb``), but the public tests released with the exercises and those
    named exactly as an exercise's file, which the notes on choosing one name already, and a
    ``tests/__init__.py`` (the public tests' package); other
    files (a README, plots, course.toml) are no one's code."""
    exact = {ex + suffix for ex in course_exercises for suffix in (".py", ".ipynb")}
    left = [e.path for e in entries if _is_own_code(e.module_name) and e.path not in taken
            and e.module_name not in exact and not e.path.lower().endswith("tests/__init__.py")]
    if not left:
        return []
    shown = [path if len(path) <= NAME_SHOWN_CHARS else path[:NAME_SHOWN_CHARS - 30] + "…" + path[-29:]
             for path in left[:NAMES_SHOWN]]
    more = f" and {len(left) - NAMES_SHOWN} more" if len(left) > NAMES_SHOWN else ""
    named = (f"{graded[0]}.py or {graded[0]}.ipynb" if len(graded) == 1 else
             ", ".join(f"{ex}.py" for ex in graded) + ", or notebooks (.ipynb) of those names")
    return [f"{', '.join(shown)}{more} {'was' if len(left) == 1 else 'were'} not graded: only each exercise's "
            f"own file is ({named})"]


def prepare_path(path: Path, exercises, workdir: Path, siblings=()) -> Submission:
    entries, notes = entries_of(Path(path))
    return prepare(entries, exercises, workdir, notes, siblings)
