"""Who may screen and decide an alert (pure).

A significant-harm alert is a child protection matter: only the MASH screens it and
decides what happens next, and only a MASH manager may close one with no further action
(a screener's "nothing to do" on a child at risk of significant harm needs a second,
senior pair of eyes). The early help hub screens the think-family alerts, where the
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


#: The one role that closes a significant-harm alert with no further action.
MASH_MANAGER = "mash_manager"
NO_FURTHER_ACTION = "no_further_action"


def closing_refusal(kind: str, outcome: str, role: str | None) -> str | None:
    """Why someone in ``role`` may not decide ``outcome`` on an alert of ``kind``; or
    None. ``role`` is the ledger's name for it (``mash_screener``), None for a system."""
    closing = AlertKind(kind) is AlertKind.SIGNIFICANT_HARM and outcome == NO_FURTHER_ACTION
    if closing and role != MASH_MANAGER:
        return (
            "a significant-harm alert is closed with no further action only by a MASH "
            "manager (ehx people add NAME --role manager)"
        )
    return None
