"""Data subject rights: subject access, withholding for serious harm, disputes.

``redaction`` is the rule (what a release shows of one record, pure); ``access``
assembles everything held about a person from the stores; ``markers`` keeps the items a
practitioner asked to withhold and those the data subject disputes.
"""
