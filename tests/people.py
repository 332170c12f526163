"""Accounts for the people a test names as readers and actors (``reader=``, ``by``, ``--by``).

Every name the API or the command line is given must be a live account of the
organisation acting: here each is made as its kind's people are (a MASH screener, an
auditor, a school's practitioner under the school's URN).
"""

from __future__ import annotations

from sqlalchemy import Engine

from ehx.organisations.people import LOCAL_AUTHORITY, Accounts, Role
from ehx.schemas.vocabulary import Addressee

PASSWORD = "a long test passphrase"


def registered(engine: Engine, name: str, of: str) -> str:
    """``name``, now a live account acting for ``of``: ``mash``, ``manager`` (a MASH
    manager), ``early_help``, ``police``, ``auditor``, ``dpo``, ``local_authority``, or
    one organisation in the directory (``school:103291``); returns the name. Idempotent."""
    accounts = Accounts(engine)
    if accounts.get(name) is not None:
        return name
    roles = {
        "mash": Role.SCREENER,
        "manager": Role.MANAGER,
        "auditor": Role.AUDITOR,
        "dpo": Role.DPO,
        LOCAL_AUTHORITY: Role.ENCOMPASS_OFFICER,
    }
    if of in roles:
        accounts.add(name, roles[of], PASSWORD)
        return name
    where = Addressee.parse(of)
    accounts.add(name, Role.PRACTITIONER, PASSWORD, where.recipient, where.code)
    return name
