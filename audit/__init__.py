"""The audit ledger: ``ehx.audit`` chained into the database, checkpointed, queried.

- ``chain``: the hash chain (pure); ``checkpoints``: signed heads a partner can keep;
  ``verify``: check both and name the first place they fail.
- ``ledger``: the store; ``service``: the consumer that appends; ``queries``: who-saw,
  overrides, received, FHIR AuditEvent and CSV exports; ``access``: CP-IS notifications.
"""
