"""Errors of the broker layer: the embedded broker and reaching a cluster."""

from __future__ import annotations

from ehx.schemas.errors import ExchangeError


class BrokerError(ExchangeError):
    """Something went wrong with the Kafka side."""


class EmbeddedBrokerError(BrokerError):
    """The embedded broker could not be started; ``cause`` says why in words."""

    def __init__(self, cause: str) -> None:
        self.cause = cause
        super().__init__(f"embedded broker did not start: {cause}")


class BrokerUnavailable(BrokerError):
    """No broker answers where one was expected."""

    def __init__(self, bootstrap: str, cause: str) -> None:
        self.bootstrap = bootstrap
        self.cause = cause
        super().__init__(f"no Kafka broker answers at {bootstrap}: {cause}")


class NoRunningBroker(BrokerError):
    """A command needs a broker that outlives it, and none is running or configured."""

    def __init__(self) -> None:
        super().__init__(
            "no broker is running: start the local one with `ehx up`, "
            "or set EHX_BOOTSTRAP_SERVERS to a Kafka cluster"
        )


class BrokerRefused(BrokerError):
    """The cluster's ACLs do not let this principal do what it tried."""

    def __init__(self, principal: str, what: str) -> None:
        self.principal = principal
        super().__init__(
            f"the broker refused {principal} {what}: the cluster's ACLs do not allow it "
            "(each principal's rights are in deploy/kafka/acls.yaml)"
        )
