"""What an error's message is taken to be (the hidden suites require one for invalid arguments)."""

from __future__ import annotations

from autograder.text import exception_message


def _raised(make):
    try:
        make()
    except Exception as e:  # noqa: BLE001
        return e
    raise AssertionError("nothing raised")


def _from_cause():
    try:
        raise RuntimeError("shapes (2,) and (3,) clash")
    except RuntimeError as err:
        raise ValueError from err


def _with_note(note):
    e = ValueError()
    e.add_note(note)
    raise e


class _Unprintable:
    def __str__(self):
        raise RuntimeError("no")


def test_an_empty_message_is_what_the_traceback_shows_in_its_place():
    assert exception_message(ValueError("x must be 2-D"), 100) == "x must be 2-D"
    assert exception_message(_raised(_from_cause), 100) == "shapes (2,) and (3,) clash"
    assert exception_message(_raised(lambda: _with_note("dimension -2 clashes")), 100) == "dimension -2 clashes"
    assert exception_message(ValueError("abcdef"), 3) == "abc"


def test_no_message_stays_no_message():
    assert exception_message(ValueError(), 100) == ""
    unprintable = ValueError()
    unprintable.__notes__ = [_Unprintable()]          # add_note takes only str; the list does not care
    assert exception_message(unprintable, 100) == ""
    try:
        try:
            raise RuntimeError("context only")
        except RuntimeError:
            raise ValueError from None
    except ValueError as e:
        assert exception_message(e, 100) == ""
