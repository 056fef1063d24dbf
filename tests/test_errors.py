"""The exception hierarchy and panics."""

from __future__ import annotations

import pytest
import uoseg
from uoseg import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.UnknownNameError, KeyError),
        (errors.ColumnTypeError, TypeError),
        (errors.InvalidInputError, ValueError),
        (errors.StoreFormatError, ValueError),
        (errors.QuerySyntaxError, ValueError),
        (errors.InternalError, RuntimeError),
    ],
)
def test_every_error_is_a_uoseg_error_and_its_builtin(cls: type, builtin: type) -> None:
    assert issubclass(cls, uoseg.UosegError) and issubclass(cls, builtin)


def test_unknown_name_error_prints_its_message_not_a_repr() -> None:
    err = errors.UnknownNameError("unknown tag 'x'", kind="tag", name="x", suggestions=["y"])
    assert str(err) == "unknown tag 'x'" and err.suggestions == ["y"]
