"""How the live AWS collector makes its calls: its options (checked before any client exists),
per-source call counting and deadlines, the refusal of any secret-value read, and one-line errors.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from agentaudit.errors import InputError

SECRET_READS = ("GetSecretValue", "BatchGetSecretValue")


class SecretReadRefusedError(RuntimeError):
    """Raised if any code path ever tries to read a secret value through a collector session."""


def _refuse_secret_read(model: Any, **_: Any) -> None:
    raise SecretReadRefusedError(f"agentaudit never reads secret values; refused {model.name}")


class SourceDeadlineError(BotoCoreError):
    """A source ran past its deadline (a hung or throttling endpoint): it becomes a collection gap."""

    fmt = "no complete answer within the source deadline of {seconds:g} s (source_deadline_seconds)"


class CollectionCancelledError(BotoCoreError):
    """The run was interrupted: worker threads stop at their next API attempt."""

    fmt = "collection interrupted"


class EndpointSettingError(BotoCoreError):
    """botocore refused to make a client (e.g. AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_* is not a URL)."""

    fmt = "cannot make a {service} client: {error} (check AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_* settings)"


RETRY_MODES = ("legacy", "standard", "adaptive")
# botocore's own check (utils.validate_region_name), made before any client exists: a bad name is
# one line at start-up, not a traceback from whichever worker makes the first regional client.
REGION_NAME = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?$")
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")


def _env_attempts() -> int:
    """AWS_MAX_ATTEMPTS as botocore reads it, refused in one line when it is not a number."""
    text = os.environ.get("AWS_MAX_ATTEMPTS", "").strip() or "8"
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"AWS_MAX_ATTEMPTS={text!r}: must be a whole number of at least 1")
    return int(text)


def _env_retry_mode() -> str:
    mode = os.environ.get("AWS_RETRY_MODE", "").strip() or "adaptive"
    if mode not in RETRY_MODES:
        raise InputError(f"AWS_RETRY_MODE={mode!r}: must be one of {', '.join(RETRY_MODES)}")
    return mode


@dataclass
class AwsOptions:
    profiles: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    org: bool = False
    role_name: str = "OrganizationAccountAccessRole"
    regions: list[str] = field(default_factory=list)  # empty: every enabled region
    max_workers: int = 4
    # botocore's own variables win, as users of the AWS CLI expect.
    max_attempts: int = field(default_factory=_env_attempts)
    retry_mode: str = field(default_factory=_env_retry_mode)
    report_poll_seconds: float = 2.0
    connect_timeout: float = 10.0  # config aws.connect_timeout_seconds
    read_timeout: float = 60.0  # config aws.read_timeout_seconds
    source_deadline: float = 900.0  # config aws.source_deadline_seconds

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "source_deadline"):
            if getattr(self, name) <= 0:
                raise InputError(f"aws.{name}_seconds must be more than 0")
        for region in self.regions:
            if not REGION_NAME.match(region):
                raise InputError(f"--regions: {region!r} is not an AWS region name (such as eu-west-1)")
        for account in self.accounts:
            if not ACCOUNT_ID.match(account):
                raise InputError(f"--accounts: {account!r} is not an AWS account id (12 digits)")


class ApiCounter:
    """Counts API calls (and attempts, retries included) per source, across worker threads, and
    stops a source's attempts once its deadline has passed or the run was cancelled."""

    def __init__(self, deadline_seconds: float = 900.0) -> None:
        self.calls: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()
        self.operations: Counter[str] = Counter()
        self.seconds: dict[str, float] = defaultdict(float)  # wall time per source: where a slow run spent it
        self.deadline_seconds = deadline_seconds
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def source(self, name: str) -> Iterator[None]:
        previous = getattr(self._local, "name", None), getattr(self._local, "deadline", None)
        self._local.name = name
        started = time.monotonic()
        self._local.deadline = started + self.deadline_seconds
        try:
            yield
        finally:
            self._local.name, self._local.deadline = previous
            with self._lock:
                self.seconds[name] += time.monotonic() - started

    def _current(self) -> str:
        return getattr(self._local, "name", None) or "(outside a source)"

    def on_call(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[self._current()] += 1
            self.operations[f"{model.service_model.service_name}:{model.name}"] += 1

    def on_send(self, **_: Any) -> None:
        if self.cancelled.is_set():
            raise CollectionCancelledError()
        deadline = getattr(self._local, "deadline", None)
        if deadline is not None and time.monotonic() > deadline:
            raise SourceDeadlineError(seconds=self.deadline_seconds)
        with self._lock:
            self.attempts[self._current()] += 1

    def attach(self, session: boto3.Session) -> None:
        # before-parameter-build fires once per API call, before any handler can answer it.
        session.events.register("before-parameter-build", self.on_call)
        session.events.register("before-send", self.on_send)
        for operation in SECRET_READS:
            session.events.register(f"before-call.secretsmanager.{operation}", _refuse_secret_read)


def one_line(text: str, limit: int = 240) -> str:
    """Error bodies can be whole HTML pages; keep one readable line."""
    text = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_error(error: Exception) -> str:
    """One line for a botocore failure: the service's code and message, or the client-side error."""
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        text = one_line(str(err.get("Message", "")))
        code = str(err.get("Code") or "")
        if (not text and code in ("", "Unknown")) or code.isdigit():
            # No AWS error document: something in between (a proxy, a load balancer) answered.
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            where = f"({error.operation_name}): a proxy or load balancer answered?"
            return f"HTTP {status} without an AWS error document {where}"
        return f"{code or 'Error'}: {text} ({error.operation_name})"
    return f"{type(error).__name__}: {one_line(str(error))}"
