"""A real SMTP server (aiosmtpd) on a free local port that keeps every message it receives.

Use the ``smtp_sink`` fixture (import ``smtp_sink_fixture`` into the test module) or
``SmtpSink`` directly, and point the app at it with ``sink.settings_for(settings)``::

    from smtp_sink import SmtpSink, smtp_sink_fixture  # noqa: F401  (provides smtp_sink)

    def test_mail(smtp_sink: SmtpSink) -> None:
        settings = smtp_sink.settings_for(test_settings(database_url, tmp_path))
        ...
        message = smtp_sink.wait_for("someone@example.com")
        link = smtp_sink.link(message, "/verify")
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from techbridge.config import Settings

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpSink:
    """Collects messages; ``wait_for`` polls because the app's mailer delivers in a thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname=HOST, port=self.port)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
        return "250 OK"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def settings_for(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"smtp_host": HOST, "smtp_port": self.port})

    def received(self, to: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if to.lower() in str(m["To"]).lower()]

    def wait_for(self, to: str, count: int = 1, timeout: float = 10.0) -> EmailMessage:
        """The ``count``-th message to this address, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.received(to)
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.05)
        raise AssertionError(f"no mail #{count} for {to} within {timeout} s: {self.messages}")

    @staticmethod
    def link(message: EmailMessage, path: str) -> str:
        """The first link in the message whose path starts with ``path`` (e.g. "/verify")."""
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        found = re.search(rf"https?://[^\s/]+({re.escape(path)}[^\s]*)", text)
        assert found, f"no {path} link in: {text}"
        return found.group(0)


@pytest.fixture(name="smtp_sink")
def smtp_sink_fixture() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()
