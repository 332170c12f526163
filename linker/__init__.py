"""Identity and family linking: which mentions are one person, which people one family."""

from linker.compare import MatchEvidence, PersonRecord, compare
from linker.families import FamilyIndex, Member, household_key
from linker.index import Band, IdentityIndex, LinkPolicy, Resolution, ReviewItem
from linker.mentions import Mention, mentions_of
from linker.service import Linker, register_linker
from linker.store import LinkedMention, LinkStore

__all__ = [
    "Band",
    "FamilyIndex",
    "IdentityIndex",
    "LinkPolicy",
    "LinkStore",
    "LinkedMention",
    "Linker",
    "MatchEvidence",
    "Member",
    "Mention",
    "PersonRecord",
    "Resolution",
    "ReviewItem",
    "compare",
    "household_key",
    "mentions_of",
    "register_linker",
]
