"""Defect kinds are a closed set, as CPython's ``email.errors`` classes are."""

from __future__ import annotations

import email.errors

import pytest

from ses_to_connect.model import DefectKind, Defects

STDLIB_DEFECTS = sorted(
    {
        value
        for value in vars(email.errors).values()
        if isinstance(value, type) and issubclass(value, email.errors.MessageDefect)
    },
    key=lambda defect: defect.__name__,
)


@pytest.mark.parametrize("defect", STDLIB_DEFECTS, ids=[defect.__name__ for defect in STDLIB_DEFECTS])
def test_each_stdlib_defect_is_a_kind_under_its_class_name(defect: type[email.errors.MessageDefect]) -> None:
    instance = defect.__new__(defect)  # without __init__: NonPrintableDefect requires an argument

    assert DefectKind.of(instance) is DefectKind(defect.__name__)


def test_a_defect_class_a_later_python_adds_is_recorded_as_its_nearest_listed_base() -> None:
    class HeaderTooLongDefect(email.errors.InvalidHeaderDefect):
        pass

    assert DefectKind.of(HeaderTooLongDefect()) is DefectKind.INVALID_HEADER


def test_defects_are_plain_strings_in_order_of_first_appearance_after_those_recorded_before() -> None:
    defects = Defects(("StartBoundaryNotFoundDefect", "8bit_header:subject"))
    defects.add(DefectKind.NO_TEXT_BODY)
    defects.add(DefectKind.EIGHT_BIT_HEADER, "subject")
    defects.add(DefectKind.INVALID_ADDRESS, "cc")
    defects.add(DefectKind.NO_TEXT_BODY)

    listed = defects.as_list()

    assert listed == [
        "StartBoundaryNotFoundDefect",
        "8bit_header:subject",
        "no_text_body",
        "invalid_address:cc",
    ]
    assert {type(item) for item in listed} == {str}
