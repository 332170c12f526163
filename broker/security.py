"""FastStream's security object for the configured protocol (TLS, SASL PLAIN or SCRAM)."""

from __future__ import annotations

from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from ehx.broker.settings import BrokerSettings


def security_for(settings: BrokerSettings) -> BaseSecurity | None:
    """FastStream's security object for the configured protocol."""
    options = settings.client_options()
    ssl_context = options.get("ssl_context")
    use_ssl = settings.security_protocol == "SASL_SSL"
    if settings.security_protocol.startswith("SASL"):
        username = settings.sasl_username or ""
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        kinds: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        kind = kinds[settings.sasl_mechanism or "PLAIN"]
        return kind(username, password, ssl_context=ssl_context, use_ssl=use_ssl)
    if settings.security_protocol == "SSL":
        return BaseSecurity(ssl_context=ssl_context, use_ssl=True)
    return None
