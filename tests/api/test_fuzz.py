"""Finding 20 and the proof the security issue asks for: a bounded schema fuzz of the
API with three kinds of token, failing on any 5xx and on any answer the OpenAPI does not
describe (status code, body, content type).

One check is left out: that a request the schema allows is accepted. Rules behind the
schema refuse some on purpose (a consent for a family the recorder does not work with, a
body that is not the agency's format), with a 403 or a 422 that says why.

Every operation gets a fixed number of generated requests, derandomised, so a failure is
reproduced by running the test again. The probe found 422 bodies that broke the
documented schema, inputs accepted that the schema forbids, and 50+ undocumented status
codes per token. (Schemathesis' own pytest integration reads a pytest internal that
pytest 9 removed; the operations are driven through Hypothesis directly instead.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import Engine

from ehx.api import AgencyCredentials
from ehx.organisations.people import AUDITOR
from ehx.schemas import KeyStore
from ehx.schemas.vocabulary import Recipient
from tests.serving import auth, serve

pytestmark = [
    pytest.mark.kafka,
    # Schemathesis registers Hypothesis settings lazily, which Hypothesis deprecates when
    # it happens inside @settings: a note about the libraries, not about the API.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

#: The probe's three kinds of caller: an agency, the MASH, an auditor.
HOLDERS = (Recipient.POLICE.value, Recipient.MASH.value, AUDITOR)
#: Generated requests per operation (each sent once per kind of caller).
EXAMPLES = 12
SLOW_OR_STATEFUL = [
    HealthCheck.too_slow,
    HealthCheck.filter_too_much,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
]


def test_every_operation_answers_as_its_openapi_says(
    kafka_bootstrap: str, sqlite_engine: Engine, keys: KeyStore
) -> None:
    with serve(kafka_bootstrap, sqlite_engine, keys) as base:
        credentials = AgencyCredentials(sqlite_engine)
        tokens = [credentials.issue(holder, f"fuzz {holder}") for holder in HOLDERS]
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        operations = [
            result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)
        ]
        assert len(operations) >= 20
        failures: dict[str, str] = {}
        for operation in operations:

            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                deadline=None,
                database=None,
                # Not list(HealthCheck): it holds deprecated members, and a health check
                # that fires on a loaded machine would then warn (an error here).
                suppress_health_check=SLOW_OR_STATEFUL,
                # No shrinking: a replay against a server whose state moved on is not the
                # same case; the first failing request is reported as it was.
                phases=[Phase.explicit, Phase.generate],
            )
            @given(case=operation.as_strategy(), holder=st.sampled_from(range(len(HOLDERS))))
            def answers_as_documented(case: schemathesis.Case[Any], holder: int) -> None:
                case.call_and_validate(
                    headers=auth(tokens[holder]), excluded_checks=[positive_data_acceptance]
                )

            try:
                answers_as_documented()
            except (Exception, BaseExceptionGroup) as failure:
                failures[operation.label] = " ".join(str(failure).split())[:600]
        assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())
