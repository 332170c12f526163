"""Think Family and the suggested level of need: pure rules over what the MASH and hub hold.

Right Service Right Time's levels: Universal, Universal Plus, Additional Needs and
Complex/Significant. Early help works at Universal Plus and Additional Needs; Complex
goes to the MASH. The suggestion is a starting point for the screener, with its reasons;
the decision is theirs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ehx.consent.policy import ScreeningTimescales
from ehx.schemas import Category
from ehx.schemas.views import ShareView

PROBLEM_NAMES = {
    Category.CRIME_ASB: "crime or antisocial behaviour",
    Category.SCHOOL_ATTENDANCE: "poor school attendance",
    Category.CHILD_IN_NEED_OR_PROTECTION: "a child in need or on a protection plan",
    Category.FINANCIAL_EXCLUSION: "worklessness or financial exclusion",
    Category.DOMESTIC_ABUSE: "domestic violence and abuse",
    Category.HEALTH: "health problems",
}
#: Problems that raise the level by themselves when they come with another.
SERIOUS = frozenset({Category.DOMESTIC_ABUSE, Category.CHILD_IN_NEED_OR_PROTECTION})
#: Which problem a record counts towards when it carries several: the most specific. A
#: domestic abuse incident is also a crime, but it is one problem, domestic abuse; crime
#: counts when another record shows it (as the Think Family strategy counts them).
PRECEDENCE = (
    Category.DOMESTIC_ABUSE,
    Category.CHILD_IN_NEED_OR_PROTECTION,
    Category.SCHOOL_ATTENDANCE,
    Category.FINANCIAL_EXCLUSION,
    Category.HEALTH,
    Category.CRIME_ASB,
)
#: Records named in a reason before "and N more".
NAMED_RECORDS = 3


class LevelOfNeed(StrEnum):
    UNIVERSAL_PLUS = "universal_plus"
    ADDITIONAL_NEEDS = "additional_needs"
    COMPLEX_SIGNIFICANT = "complex_significant"

    @property
    def rag(self) -> str:
        """The screening RAG rating: red, amber or green."""
        return _RAG[self]


_RAG = {
    LevelOfNeed.COMPLEX_SIGNIFICANT: "red",
    LevelOfNeed.ADDITIONAL_NEEDS: "amber",
    LevelOfNeed.UNIVERSAL_PLUS: "green",
}


def screening_due(
    level: LevelOfNeed, raised: datetime, timescales: ScreeningTimescales
) -> datetime:
    """When an alert at ``level`` raised at ``raised`` is due to have been screened."""
    return timescales.due(raised, getattr(timescales, level.rag))


@dataclass(frozen=True)
class FamilyPicture:
    """The Think Family problems a family shows across agencies, and the events behind them."""

    problems: dict[Category, tuple[str, ...]]
    agencies: dict[Category, tuple[str, ...]]
    #: The records behind each problem, as their agencies name them ("police WMP-1").
    records: dict[Category, tuple[str, ...]]
    overrides: tuple[str, ...]
    #: Events the hub holds as indicators only (no consent yet, no override).
    indicator_only: tuple[str, ...]
    detailed: tuple[str, ...]

    @property
    def think_family(self) -> bool:
        """Two or more of the six problems, across any agencies."""
        return len(self.problems) >= 2

    @property
    def indicators_only(self) -> bool:
        return bool(self.indicator_only) and not self.detailed


def picture(views: Iterable[ShareView]) -> FamilyPicture:
    """What the MASH and the early help hub hold about one family."""
    # Ordered sets (dicts): a family known for years has thousands of events, and a list's
    # membership test made this quadratic (10,000 entries: 820 ms, now a few).
    problems: dict[Category, dict[str, None]] = defaultdict(dict)
    agencies: dict[Category, set[str]] = defaultdict(set)
    records: dict[Category, dict[str, None]] = defaultdict(dict)
    overrides: list[str] = []
    indicator_only: list[str] = []
    detailed: list[str] = []
    seen: set[str] = set()
    for view in views:
        event_id = str(view.event_id)
        if view.basis.outcome == "override":
            overrides.append(event_id)
        category = counted_as(view.categories)
        if category is not None and event_id not in problems[category]:
            problems[category][event_id] = None
            agencies[category].add(view.source_agency)
            records[category][f"{view.source_agency} {view.record_ref}"] = None
        if event_id in seen:
            continue
        seen.add(event_id)
        (indicator_only if view.basis.outcome == "indicator" else detailed).append(event_id)
    # An event seen in detail by either recipient is not "indicators only".
    in_detail = set(detailed)
    indicator_only = [e for e in indicator_only if e not in in_detail]
    return FamilyPicture(
        problems={c: tuple(e) for c, e in problems.items()},
        agencies={c: tuple(sorted(a)) for c, a in agencies.items()},
        records={c: tuple(r) for c, r in records.items()},
        overrides=tuple(dict.fromkeys(overrides)),
        indicator_only=tuple(indicator_only),
        detailed=tuple(detailed),
    )


def counted_as(categories: Iterable[str]) -> Category | None:
    """The one Think Family problem a record counts towards (``PRECEDENCE``), if any."""
    present = set(categories)
    return next((c for c in PRECEDENCE if c.value in present), None)


def problem_reasons(family: FamilyPicture) -> list[str]:
    """Each problem with the records behind it, for the screener to check."""
    lines = []
    for category in PRECEDENCE:
        named = family.records.get(category, ())
        if not named:
            continue
        more = len(named) - NAMED_RECORDS
        shown = ", ".join(named[:NAMED_RECORDS]) + (f" and {more} more" if more > 0 else "")
        lines.append(f"{PROBLEM_NAMES[category]}: {shown}")
    return lines


def think_family_reasons(family: FamilyPicture) -> list[str]:
    """The family's Think Family problems, the records behind each, and the agencies."""
    names = [PROBLEM_NAMES[c] for c in sorted(family.problems)]
    agencies = sorted({a for group in family.agencies.values() for a in group})
    return [
        f"{len(names)} Think Family problem(s): {', '.join(names)}",
        *problem_reasons(family),
        f"known to {len(agencies)} agency(ies): {', '.join(agencies)}",
    ]


def suggest_level(
    family: FamilyPicture, override_rules: Iterable[str] = ()
) -> tuple[LevelOfNeed, list[str]]:
    """The suggested level of need, with the reasons a screener can check."""
    reasons: list[str] = []
    rules = sorted(set(override_rules))
    if family.overrides or rules:
        reasons.append("a significant-harm rule fired: " + (", ".join(rules) or "override"))
        return LevelOfNeed.COMPLEX_SIGNIFICANT, reasons
    reasons.extend(think_family_reasons(family))
    agencies = sorted({a for group in family.agencies.values() for a in group})
    serious = sorted(PROBLEM_NAMES[c] for c in SERIOUS & set(family.problems))
    if len(family.problems) >= 3:
        reasons.append("three or more problems need a co-ordinated multi-agency response")
        return LevelOfNeed.ADDITIONAL_NEEDS, reasons
    if serious and len(family.problems) >= 2:
        reasons.append(f"{' and '.join(serious)} with another problem")
        return LevelOfNeed.ADDITIONAL_NEEDS, reasons
    if len(agencies) >= 3:
        reasons.append("three or more agencies involved")
        return LevelOfNeed.ADDITIONAL_NEEDS, reasons
    reasons.append("needs one agency can co-ordinate with the family")
    return LevelOfNeed.UNIVERSAL_PLUS, reasons
