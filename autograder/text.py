"""Text from untrusted places made safe for every sink: files, SQLite, terminals, XML."""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def plain_text(text: str) -> str:
    """``text`` (a student's exception message, say, or a file name that is not UTF-8) with lone
    surrogates written as ``\\udcxx`` escapes and control characters other than tab and newlines
    replaced by U+FFFD. Surrogates cannot be encoded, so a class run would stop where the text
    is stored; control characters make junit.xml unreadable and can drive the terminal of the
    instructor who reads the feedback."""
    return _CONTROL.sub("\ufffd", text.encode("utf-8", "backslashreplace").decode("utf-8"))


def exception_message(e: BaseException, limit: int) -> str:
    """``str(e)``, at most ``limit`` characters; where that is empty, what the traceback shows in
    its place: the notes added to it (``e.add_note``), else the message of the error it was
    raised from (``raise ValueError from err``); nothing if those cannot be printed. A placeholder
    if the exception's own ``__str__`` (a student's) fails."""
    try:
        text = str(e)
    except Exception:  # noqa: BLE001
        return "<unprintable message>"
    if not text.strip():
        try:
            notes = getattr(e, "__notes__", None)
            text = "\n".join(map(str, notes)) if isinstance(notes, list) and notes else \
                str(e.__cause__) if e.__cause__ is not None else text
        except Exception:  # noqa: BLE001 - a note or cause that cannot be printed is no message
            text = ""
    return text[:limit]
