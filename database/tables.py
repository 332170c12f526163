"""Table definitions (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData()

#: The adapters' memory of what each agency has sent: one row per record reference,
#: at its latest version. It makes ingest idempotent across restarts (outbox style:
#: a row is written ``pending`` with its event ids before publishing, ``published``
#: after the broker acknowledged, so a crash in between republishes the same ids).
source_records = Table(
    "source_records",
    metadata,
    Column("agency", String(16), nullable=False),
    Column("record_ref", String(200), nullable=False),
    Column("record_version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("event_ids", JSON, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("agency", "record_ref"),
)

#: Events the intake service has verified off ``ehx.raw.*``, idempotent by event id.
#: Ids, places and a hash only: the content lives on the topics, sealed for recipients
#: (migration 0020 replaced the plaintext copy kept here).
received_events = Table(
    "received_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("agency", String(16), nullable=False),
    Column("record_ref", String(200), nullable=False),
    Column("record_version", Integer, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
)

#: The directory of organisations a council loads (``ehx organisations load``): every
#: version of each, the latest current, so a change is a new row, never an overwrite.
organisations = Table(
    "organisations",
    metadata,
    Column("kind", String(16), nullable=False),
    Column("code", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("key_adult", String(200), nullable=False),
    Column("deputy", String(200), nullable=False),
    Column("calendar", String(64), nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("kind", "code", "version"),
)

#: Credentials of agency systems for the HTTP ingest API. Only a hash of each token is
#: kept; a token is shown once, when it is made.
agency_credentials = Table(
    "agency_credentials",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("agency", String(16), nullable=False),
    Column("label", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    #: Tokens expire (migration 0019 gave those issued before it a year from then).
    Column("expires_at", DateTime(timezone=True)),
    #: The organisation's code in the directory (a school's URN): the token acts, and
    #: sees, as that one organisation. Empty on tokens issued before organisations.
    Column("organisation", String(32)),
    Column("revoked_at", DateTime(timezone=True)),
)

#: The linker's decisions, in the order it made them: replaying them rebuilds its
#: identity and family indexes exactly, so the linker survives restarts. Holds the
#: demographics matching needs; it is the linker's own store, never a log.
linker_mentions = Table(
    "linker_mentions",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, index=True),
    Column("subject_index", Integer, nullable=False),
    Column("person_id", String(32), nullable=False),
    Column("family_id", String(32), nullable=False),
    Column("band", String(16), nullable=False),
    Column("weight", Float),
    Column("given_name", Text, nullable=False),
    Column("family_name", Text, nullable=False),
    Column("date_of_birth", Date),
    Column("postcode", String(16)),
    Column("identifiers", JSON, nullable=False),
    Column("role", String(32), nullable=False),
    Column("household", String(64)),
    Column("related", Boolean, nullable=False),
    #: The agency marked this person restricted: link pages withhold addresses.
    Column("restricted", Boolean, nullable=False, server_default=false()),
)

#: Match models learnt by ``ehx links train`` (m and u, how common each name is, the
#: thresholds set for them): the linker weighs pairs with the latest on start.
link_models = Table(
    "link_models",
    metadata,
    Column("model_id", Integer, primary_key=True, autoincrement=True),
    Column("trained_at", DateTime(timezone=True), nullable=False),
    Column("trained_by", String(64), nullable=False),
    Column("body", JSON, nullable=False),
)

#: The consent registry's records as last seen on ``ehx.consent`` (consents,
#: significant-harm assertions, override reviews), latest state per record id.
consent_records = Table(
    "consent_records",
    metadata,
    Column("record_id", String(80), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("subject_id", String(64), nullable=False, index=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("body", JSON, nullable=False),
)

#: The linked events the consent service has decided, kept so that a consent given
#: later, a withdrawal or an assertion re-decides what the family already has on file.
#: One row per family the event touches (its people may belong to more than one).
consent_events = Table(
    "consent_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("family_id", String(36), primary_key=True, index=True),
    Column("person_ids", JSON, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("body", Text, nullable=False),
)

#: People an agency marked restricted (PDS R or V): no view carries their address.
#: Kept so that a later event about them, from any agency, is withheld too.
restricted_people = Table(
    "restricted_people",
    metadata,
    Column("person_id", String(36), primary_key=True),
    Column("restriction", String(16), nullable=False),
    Column("marked_at", DateTime(timezone=True), nullable=False),
)

#: The latest decision per event and recipient (every revision also goes to
#: ``ehx.decisions``). Ids and bases only: no names, no narratives.
sharing_decisions = Table(
    "sharing_decisions",
    metadata,
    Column("decision_id", String(100), primary_key=True),
    Column("event_id", String(36), nullable=False, index=True),
    Column("family_id", String(36), nullable=False, index=True),
    Column("recipient", String(48), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("rule", String(200)),
    Column("revision", Integer, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("review_due", DateTime(timezone=True)),
    Column("reviewed_outcome", String(16)),
    Column("reviewed_by", String(64)),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("body", JSON, nullable=False),
)

#: Per recipient and person data keys that seal what the recipient receives. Destroying
#: a key (``key`` emptied, ``destroyed_at`` set) makes what it sealed unreadable.
data_keys = Table(
    "data_keys",
    metadata,
    Column("key_id", String(120), primary_key=True),
    Column("recipient", String(48), nullable=False),
    Column("person_id", String(36), nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("destroyed_at", DateTime(timezone=True)),
    Column("destroyed_because", String(200)),
    #: The retention period it seals (``mash/2026``: ``consent.retention``); none for a
    #: key made before the schedule (migration 0025).
    Column("period", String(48), index=True),
    # A batch's people's keys, read before sealing; a person's keys, destroyed on
    # withdrawal (migration 0014: without it both scanned every key on file).
    Index("ix_data_keys_person_recipient", "person_id", "recipient"),
    Index("ix_data_keys_destroyed_at", "destroyed_at"),
)

#: Each retention sweep and erasure: the items it removed (ids), whether it finished (an
#: interrupted one resumes), and for an erasure salted hashes of the person's names, date
#: of birth and identifiers, which the proof looks for in every table and topic.
removals = Table(
    "removals",
    metadata,
    Column("removal_id", String(80), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("person_id", String(36)),
    Column("requested_by", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("periods", JSON, nullable=False),
    Column("items", JSON, nullable=False),
    Column("fingerprints", JSON, nullable=False),
)

#: Each recipient's timeline: one row per event it was given, as last decided. A
#: retraction keeps the row as a tombstone (``state`` retracted) so that a late copy of
#: an older revision cannot bring the entry back; a higher version of the same source
#: record marks the earlier one superseded. Sealed parts stay sealed at rest.
timeline_entries = Table(
    "timeline_entries",
    metadata,
    Column("recipient", String(48), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("family_id", String(36), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("state", String(12), nullable=False),
    Column("source_agency", String(16)),
    Column("event_type", String(64)),
    Column("record_ref", String(200)),
    Column("record_version", Integer),
    Column("occurred_at", DateTime(timezone=True), index=True),
    Column("categories", JSON),
    Column("view", JSON),
    # A correction finds the other versions of its agency record (migration 0011).
    Index("ix_timeline_entries_record", "record_ref", "recipient", "source_agency"),
    # A family's entries for some recipients (the alert desk, a family timeline): with
    # family_id alone SQLite read every entry of the recipients instead (migration 0013).
    Index("ix_timeline_entries_family_recipient", "family_id", "recipient"),
)

#: Who each timeline entry is about, for a person's timeline.
timeline_people = Table(
    "timeline_people",
    metadata,
    Column("recipient", String(48), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("person_id", String(36), primary_key=True, index=True),
)

#: Alerts for the MASH screening team: one open alert per family and kind, filled in as
#: more arrives; a decided alert stays as it was decided and a new one opens if needed.
alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", String(80), primary_key=True),
    Column("family_id", String(36), nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("status", String(16), nullable=False),
    Column("level", String(24), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("problems", JSON, nullable=False),
    Column("event_ids", JSON, nullable=False),
    Column("indicators_only", Boolean, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True)),
    Column("screened_by", String(64)),
    Column("screened_at", DateTime(timezone=True)),
    Column("decision", String(32)),
    Column("decided_by", String(64)),
    Column("decided_at", DateTime(timezone=True)),
    #: Why it was decided as it was, in the screener's words (or, for an alert gathered
    #: into its family's significant-harm case, which case).
    Column("rationale", Text),
    #: Early help with a team around the family: who leads it, and for whom they work.
    Column("lead_professional", String(200)),
)

#: What the screening team decided, told to each organisation whose records were behind
#: the case: one row an organisation a decision.
screening_outcomes = Table(
    "screening_outcomes",
    metadata,
    Column("alert_id", String(80), primary_key=True),
    Column("told", String(48), primary_key=True),
    Column("family_id", String(36), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("lead_professional", String(200)),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    #: Their own records the case drew on ("WMP-2026-0409931").
    Column("records", JSON, nullable=False),
)

#: Items a practitioner marked "withhold: serious harm" from a subject access release:
#: listed for the data protection officer's decision with the reason, never dropped.
withheld_items = Table(
    "withheld_items",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("marked_by", String(64), nullable=False),
    #: For whom they marked it (``school:103291``, ``police``).
    Column("marked_for", String(48), nullable=False),
    Column("reason", Text, nullable=False),
    Column("marked_at", DateTime(timezone=True), nullable=False),
)

#: Items the data subject disputes (rectification): every view of the item shows it.
disputed_items = Table(
    "disputed_items",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("disputed_by", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("disputed_at", DateTime(timezone=True), nullable=False),
)

#: Operation Encompass notifications: one per child per incident, due before the start
#: of the next school day, acknowledged by the key adult or escalated.
encompass_notifications = Table(
    "encompass_notifications",
    metadata,
    Column("notification_id", String(80), primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("family_id", String(36), nullable=False),
    Column("person_id", String(36), nullable=False),
    Column("school_urn", String(16)),
    Column("addressed_to", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("acknowledged_by", String(64)),
    Column("escalation", String(24), nullable=False),
    Column("escalated_at", DateTime(timezone=True)),
)

#: The audit ledger: append-only, hash-chained (``audit/chain.py``). ``body`` is the
#: entry's canonical bytes, the only thing the hash covers; the other columns are copies
#: for querying, so a query can never be fooled into trusting a column the chain does
#: not cover (queries re-read the body).
audit_ledger = Table(
    "audit_ledger",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("audit_id", String(36), nullable=False, unique=True),
    Column("action", String(40), nullable=False, index=True),
    Column("agency", String(48), index=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("body", LargeBinary, nullable=False),
    Column("previous_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

#: Which entries are about which person (for ``who-saw``): one row per subject id.
audit_subjects = Table(
    "audit_subjects",
    metadata,
    # The primary key (subject_id first) is the index ``who-saw`` reads by.
    Column("subject_id", String(40), nullable=False),
    Column("seq", Integer, nullable=False),
    PrimaryKeyConstraint("subject_id", "seq"),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("head_hash", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("signature", String(120), nullable=False),
)

#: CP-IS style access notifications: a record about a child on a protection plan was
#: viewed by another agency; the owning agency is told, and both can see the history.
access_notifications = Table(
    "access_notifications",
    metadata,
    Column("seq", Integer, nullable=False),
    Column("owner", String(48), nullable=False, index=True),
    Column("person_id", String(40), nullable=False, index=True),
    Column("viewer", String(48), nullable=False, index=True),
    Column("actor", String(120), nullable=False),
    Column("role", String(40), nullable=False),
    Column("purpose", String(200), nullable=False),
    Column("event_ids", JSON, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("seq", "owner", "person_id"),
)

#: People who sign in to the console, each with one role; passwords as Argon2id hashes.
console_people = Table(
    "console_people",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    #: The recipient view a practitioner reads (schools, health, ...); None for others.
    Column("view", String(16)),
    #: The organisation they work for (a school's URN); None where the view is a hub's.
    Column("organisation", String(32)),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
)

#: The console's sessions: the cookie carries a random token, the server its hash, so a
#: session signed out (or its account disabled) is over even for a copied cookie.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
)

#: Who-is-who changes in order: merges (shared identifier, probabilistic link, reviewer),
#: splits of a wrong merge, pairs kept apart. Replayed after ``linker_mentions`` on start.
linker_journal = Table(
    "linker_journal",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("op", String(8), nullable=False),
    Column("a", String(32), nullable=False, index=True),
    Column("b", String(32), nullable=False, index=True),
    Column("cause", String(80), nullable=False),
    Column("decided_by", String(64)),
    Column("reason", Text),
    Column("at", DateTime(timezone=True), nullable=False),
)

#: The highest person and family numbers the linker has handed out, stored before the
#: batch that used them is published: a batch replayed after a crash may be fetched in
#: another order, and must never give an id consent already holds to someone else.
linker_ids = Table(
    "linker_ids",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("high", Integer, nullable=False),
)

#: The clerical review queue: each uncertain pair the linker met, the evidence field by
#: field, and (once decided) the reviewer's decision.
link_reviews = Table(
    "link_reviews",
    metadata,
    Column("review_id", String(80), primary_key=True),
    Column("person_id", String(32), nullable=False),
    Column("candidate_id", String(32), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("weight", Float, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("same_person", Boolean),
    Column("decided_by", String(64)),
    Column("reason", Text),
    Column("decided_at", DateTime(timezone=True)),
)
