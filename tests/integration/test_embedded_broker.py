"""The embedded broker fails with a clear cause when it cannot start."""

from __future__ import annotations

import socket

import pytest

from ehx.broker.embedded import HOST, EmbeddedBroker
from ehx.broker.errors import EmbeddedBrokerError


def test_a_port_already_taken_is_named_in_the_error() -> None:
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(EmbeddedBrokerError, match=f"port {port} .* already in use"):
            EmbeddedBroker(port=port).start()


def test_a_binary_that_will_not_start_is_named_in_the_error() -> None:
    with pytest.raises(EmbeddedBrokerError, match="cannot run /nonexistent/tansu"):
        EmbeddedBroker(binary="/nonexistent/tansu").start()


def test_a_binary_that_exits_at_once_reports_its_exit_code() -> None:
    with pytest.raises(EmbeddedBrokerError, match="exited with code 1 before answering"):
        EmbeddedBroker(binary="/bin/false").start()
