"""Identity and family linking's rules: which mentions are one person, which people one family.

Pure (no Kafka, no database). ``linker.service`` subscribes; ``linker.store`` keeps the index.
"""

from ehx.linker.compare import MatchEvidence, PersonRecord, compare
from ehx.linker.families import FamilyIndex, Member, household_key
from ehx.linker.index import Band, IdentityIndex, Resolution, ReviewItem
from ehx.linker.mentions import Mention, mentions_of
from ehx.linker.model import LinkPolicy

__all__ = [
    "Band",
    "FamilyIndex",
    "IdentityIndex",
    "LinkPolicy",
    "MatchEvidence",
    "Member",
    "Mention",
    "PersonRecord",
    "Resolution",
    "ReviewItem",
    "compare",
    "household_key",
    "mentions_of",
]
