"""Who may screen and decide an alert (pure).

A significant-harm alert is a child protection matter: only the MASH screens it and
decides what happens next. The early help hub screens the think-family alerts, where the
question is whether a family needs early help.
"""

from __future__ import annotations

from enum import StrEnum

from ehx.schemas.vocabulary import Recipient


class AlertKind(StrEnum):
    SIGNIFICANT_HARM = "significant_harm"
    THINK_FAMILY = "think_family"


#: Who screens each kind of alert.
DECIDERS: dict[AlertKind, frozenset[Recipient]] = {
    AlertKind.SIGNIFICANT_HARM: frozenset({Recipient.MASH}),
    AlertKind.THINK_FAMILY: frozenset({Recipient.MASH, Recipient.EARLY_HELP}),
}


def refusal(kind: str, team: Recipient | None) -> str | None:
    """Why ``team`` may not screen or decide an alert of ``kind``, naming who may; or None."""
    allowed = DECIDERS.get(AlertKind(kind), frozenset())
    if team in allowed:
        return None
    who = " or ".join(sorted(r.label for r in allowed)) or "nobody"
    return f"a {AlertKind(kind).value.replace('_', '-')} alert is screened and decided by {who}"
