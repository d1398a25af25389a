"""README's role table is the code's: every check is made from accounts.roles.PERMISSIONS."""

import re
from pathlib import Path

from accounts import roles
from accounts.roles import Role

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_table() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Who may see and do what", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return "\n".join(rows) + "\n"


def test_the_readme_table_is_the_codes_table():
    expected = roles.permissions_markdown()
    assert _readme_table() == expected, (
        "README.md's role table differs from accounts.roles.PERMISSIONS; paste this:\n" + expected
    )


def test_every_row_of_the_readme_says_yes_or_no_for_each_role():
    for line in _readme_table().splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == 1 + len(Role), line
        assert set(cells[1:]) <= {"yes", "no"}, line


def test_every_permission_of_the_table_is_checked_somewhere():
    # A row that no code asks about would be a promise the registry does not keep.
    root = README.parent
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("accounts", "traps", "leopards", "census", "exchange")
        for path in (root / folder).rglob("*.py")
        if "migrations" not in path.parts and path.name != "roles.py"
    )
    for name in roles.PERMISSIONS:
        constant = next(k for k, v in vars(roles).items() if v == name and k.isupper())
        assert re.search(rf"roles\.{constant}\b", code), f"nothing checks roles.{constant}"
