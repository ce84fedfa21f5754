"""A real SMTP server on loopback (aiosmtpd) that records what it accepts.

Rules make it answer like real mail servers do: temporary (4xx) or permanent (5xx)
refusals at RCPT or after DATA, for given addresses and for a number of attempts.
A Hold keeps the client waiting for an answer, at a known point, until released.
"""

import asyncio
import email
import email.policy
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO; thousands of messages drown test output.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass
class Rule:
    reply: str
    at: str = "rcpt"  # "rcpt" or "data"
    times: int | None = None  # None: every attempt


@dataclass
class Hold:
    """Keeps back the answer to one command for one address, the first time, until
    released: the client is stuck mid-conversation, where a test can kill it. At
    "data" the message has been taken (recorded) and only the answer is missing:
    the client cannot know whether it went."""

    at: str
    address: str
    timeout: float = 30.0
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    async def wait(self, stage: str, address: str) -> None:
        if (stage, address) != (self.at, self.address) or self.reached.is_set():
            return
        self.reached.set()
        # Off the server's event loop, so other connections are still served.
        await asyncio.to_thread(self.released.wait, self.timeout)


@dataclass
class Accepted:
    recipient: str
    message_id: str
    headers: dict
    raw: bytes
    # Which connection it came on, and when (time.monotonic()): tells workers apart.
    peer: tuple = ()
    at: float = 0.0


@dataclass
class SinkHandler:
    delay: float = 0.0
    parse: bool = True
    rules: dict[str, Rule] = field(default_factory=dict)
    accepted: list[Accepted] = field(default_factory=list)
    attempts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called with ("rcpt" or "data", address) before answering: lets a test act
    # (e.g. stop the client) at a known point of the SMTP conversation.
    on_command: Callable[[str, str], None] | None = None
    hold: Hold | None = None

    def _rule(self, address: str, stage: str) -> str | None:
        rule = self.rules.get(address)
        if rule is None or rule.at != stage:
            return None
        with self.lock:
            self.attempts[(address, stage)] += 1
            count = self.attempts[(address, stage)]
        if rule.times is None or count <= rule.times:
            return rule.reply
        return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.on_command:
            self.on_command("rcpt", address)
        if self.hold:
            await self.hold.wait("rcpt", address)
        reply = self._rule(address, "rcpt")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.on_command:
            for address in envelope.rcpt_tos:
                self.on_command("data", address)
        if self.delay:
            await asyncio.sleep(self.delay)
        for address in envelope.rcpt_tos:
            reply = self._rule(address, "data")
            if reply:
                return reply
        raw = envelope.original_content or envelope.content
        headers = {}
        message_id = ""
        if self.parse:
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            headers = {name: str(value).strip() for name, value in parsed.items()}
            message_id = parsed.get("Message-ID", "")
        with self.lock:
            for address in envelope.rcpt_tos:
                self.accepted.append(
                    Accepted(
                        address,
                        message_id,
                        headers,
                        raw,
                        peer=tuple(session.peer or ()),
                        at=time.monotonic(),
                    )
                )
        if self.hold:
            for address in envelope.rcpt_tos:
                await self.hold.wait("data", address)
        return "250 Message accepted for delivery"

    def recipients(self) -> Counter:
        with self.lock:
            return Counter(item.recipient for item in self.accepted)

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)


def free_port() -> int:
    # aiosmtpd's Controller checks its own port once started, so it needs a real one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SMTPSink:
    def __init__(self, handler: SinkHandler | None = None):
        self.handler = handler or SinkHandler()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=free_port()
        )

    def __enter__(self) -> "SMTPSink":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return self.controller.port
