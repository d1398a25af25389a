"""Cells of the CSV files people open in spreadsheets, kept from running as formulas."""

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV
# injection"): `=cmd|' /C calc'!A0` typed as an individual's name would run.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def spreadsheet_cell(value: Any) -> Any:
    """Return a text cell that a spreadsheet shows as text; numbers pass unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    # "-12.5" or "+3" is a number, not a formula, and must stay one for R and Excel.
    if _is_number(value):
        return value
    # OWASP's rule: a leading single quote makes the spreadsheet show the text as typed.
    return "'" + value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Return a CSV table with a header line, every text cell safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([spreadsheet_cell(name) for name in header])
    for row in rows:
        writer.writerow(["" if value is None else spreadsheet_cell(value) for value in row])
    return out.getvalue()


class SpreadsheetDictWriter(csv.DictWriter):
    """A csv.DictWriter whose text cells are safe to open in a spreadsheet."""

    def writerow(self, rowdict: dict[str, Any]) -> Any:
        return super().writerow({key: spreadsheet_cell(v) for key, v in rowdict.items()})
