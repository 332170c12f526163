"""The directory of organisations a council loads (pure): read, checked line by line.

Two shapes are read: the exchange's own (``kind,code,name,key_adult,deputy,calendar``,
see ``../shared/formats/organisations.csv``) and the DfE's "Get Information About
Schools" extract (``URN``, ``EstablishmentName``, ...), which is a directory of schools
as it is. A file with any problem (a duplicate code, an unknown kind, a malformed URN or
ODS code, a missing column) is refused whole, each problem with its line: nothing from
it is loaded. Problems name columns and codes, never the people a row names.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ehx.schemas.vocabulary import Recipient


class Kind(StrEnum):
    SCHOOL = "school"
    HEALTH = "health"
    HOUSING = "housing"
    POLICE = "police"
    MASH = "mash"
    EARLY_HELP = "early_help"
    LOCAL_AUTHORITY = "local_authority"


#: The kind of organisation each recipient's tokens belong to.
KIND_OF = {
    Recipient.SCHOOLS: Kind.SCHOOL,
    Recipient.HEALTH: Kind.HEALTH,
    Recipient.HOUSING: Kind.HOUSING,
    Recipient.POLICE: Kind.POLICE,
    Recipient.MASH: Kind.MASH,
    Recipient.EARLY_HELP: Kind.EARLY_HELP,
}
#: What a code of each kind looks like: a DfE URN is six digits, an NHS ODS code three to
#: five capitals and digits; the others are the council's own codes.
CODE_SHAPES = {
    Kind.SCHOOL: (re.compile(r"\d{6}"), "a DfE URN is six digits"),
    Kind.HEALTH: (re.compile(r"[A-Z0-9]{3,5}"), "an ODS code is 3 to 5 capitals and digits"),
}
_COUNCIL_CODE = (
    re.compile(r"[A-Z0-9][A-Z0-9-]{1,31}"),
    "a code is 2 to 32 capitals, digits and hyphens",
)
COLUMNS = ("kind", "code", "name", "key_adult", "deputy", "calendar")
GIAS_COLUMNS = ("URN", "EstablishmentName")


@dataclass(frozen=True)
class Organisation:
    kind: Kind
    code: str
    name: str
    #: Schools: the Operation Encompass key adult and deputy (name and role).
    key_adult: str = ""
    deputy: str = ""
    #: Schools: the term calendar in the policy the school follows.
    calendar: str = ""

    @property
    def ref(self) -> str:
        """How the exchange names it: ``school:103291``, ``health:RQ3``."""
        return f"{self.kind.value}:{self.code}"


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str


def parse_ref(text: str) -> tuple[Kind, str]:
    """``school:103291`` as its kind and code; ValueError saying what a ref looks like."""
    kind, _, code = text.partition(":")
    try:
        return Kind(kind), code
    except ValueError:
        raise ValueError(
            f"an organisation is KIND:CODE, KIND one of {', '.join(k.value for k in Kind)}"
        ) from None


def code_problem(kind: Kind, code: str) -> str | None:
    shape, say = CODE_SHAPES.get(kind, _COUNCIL_CODE)
    return None if shape.fullmatch(code) else f"{kind.value} code {code[:32]!r}: {say}"


def read_directory(text: str) -> tuple[list[Organisation], list[Problem]]:
    """The organisations in a directory file, or the problems that refuse it."""
    rows = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = tuple(rows.fieldnames or ())
    if set(GIAS_COLUMNS) <= set(header):
        return _read(rows, _from_gias)
    missing = [c for c in COLUMNS[:3] if c not in header]
    if missing:
        return [], [Problem(1, "missing columns: " + ", ".join(missing))]
    return _read(rows, _from_ours)


def _from_ours(row: dict[str, str]) -> Organisation | str:
    try:
        kind = Kind((row.get("kind") or "").strip())
    except ValueError:
        return f"unknown kind; one of {', '.join(k.value for k in Kind)}"
    return Organisation(
        kind,
        (row.get("code") or "").strip(),
        (row.get("name") or "").strip(),
        (row.get("key_adult") or "").strip(),
        (row.get("deputy") or "").strip(),
        (row.get("calendar") or "").strip(),
    )


def _from_gias(row: dict[str, str]) -> Organisation | str | None:
    if (row.get("EstablishmentStatus (name)") or "Open").strip().startswith("Closed"):
        return None  # a closed school is no recipient
    return Organisation(
        Kind.SCHOOL, (row.get("URN") or "").strip(), (row.get("EstablishmentName") or "").strip()
    )


def _read(
    rows: csv.DictReader[str], convert: Callable[[dict[str, str]], Organisation | str | None]
) -> tuple[list[Organisation], list[Problem]]:
    found: list[Organisation] = []
    problems: list[Problem] = []
    first_seen: dict[tuple[Kind, str], int] = {}
    for line, row in enumerate(rows, start=2):
        if None in row or any(v is None for v in row.values()):
            problems.append(Problem(line, "the line has more or fewer cells than the header"))
            continue
        made = convert(row)
        if made is None:
            continue
        if isinstance(made, str):
            problems.append(Problem(line, made))
            continue
        problem = code_problem(made.kind, made.code) or (None if made.name else "name is empty")
        if problem:
            problems.append(Problem(line, problem))
            continue
        key = (made.kind, made.code)
        if key in first_seen:
            problems.append(Problem(line, f"{made.ref} is also on line {first_seen[key]}"))
            continue
        first_seen[key] = line
        found.append(made)
    return (found, []) if not problems else ([], problems)
