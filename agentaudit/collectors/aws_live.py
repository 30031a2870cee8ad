"""Live AWS collection with boto3: every account of an organisation, with the fewest API calls.

The API calls only fetch pages; the saved-export parsers (aws_iam, aws_services) turn them into
records, so a live run and a saved export of the same account give the same snapshot. IAM is read
in bulk (get_account_authorization_details + the credential report: no per-role or per-key
calls). Secret values are never read: the collector has no code path that calls GetSecretValue.

Each (account, service, region) is a Source with its API call count; AccessDenied or any other
failure makes that source failed — a collection gap in the pack — and the rest goes on. Every call
has connect/read timeouts, and every source a deadline checked before each attempt (retries
included), so a hung endpoint costs one source, not the run. Worker threads are daemons: Ctrl-C
ends the run at once (nothing is written to the store before collection finishes).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound
from botocore.parsers import ResponseParserError

from agentaudit.collectors import aws_iam, aws_services
from agentaudit.collectors.aws_live_agentcore import AgentCoreReads
from agentaudit.collectors.aws_live_extras import AgentSurfaceReads
from agentaudit.collectors.shapes import Collected
from agentaudit.collectors.side_by_side import Chain, Step, run_chains, run_side_by_side
from agentaudit.errors import InputError
from agentaudit.model.kinds import Input
from agentaudit.model.records import Source, SourceStatus

Progress = Callable[[str], None]
ACCOUNT_THREADS = 8  # chains of one account read at once (per account worker)
REPORT_POLLS = 20
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


def _one_line(text: str, limit: int = 240) -> str:
    """Error bodies can be whole HTML pages; keep one readable line."""
    text = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(error: Exception) -> str:
    """One line for a botocore failure: the service's code and message, or the client-side error."""
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        text = _one_line(str(err.get("Message", "")))
        code = str(err.get("Code") or "")
        if (not text and code in ("", "Unknown")) or code.isdigit():
            # No AWS error document: something in between (a proxy, a load balancer) answered.
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            where = f"({error.operation_name}): a proxy or load balancer answered?"
            return f"HTTP {status} without an AWS error document {where}"
        return f"{code or 'Error'}: {text} ({error.operation_name})"
    return f"{type(error).__name__}: {_one_line(str(error))}"


@dataclass
class _Account:
    account_id: str
    session: boto3.Session
    label: str


class AwsCollector(AgentSurfaceReads, AgentCoreReads):
    def __init__(
        self,
        options: AwsOptions,
        progress: Progress | None = None,
        session_factory: Callable[..., boto3.Session] = boto3.Session,
    ):
        self.options = options
        self.progress = progress or (lambda _msg: None)
        self.session_factory = session_factory
        self.counter = ApiCounter(options.source_deadline)
        self.out = Collected()
        self._lock = threading.Lock()
        self._client_lock = threading.Lock()
        self.boto_config = BotoConfig(
            # total_max_attempts counts the first try, as AWS_MAX_ATTEMPTS does (max_attempts would not)
            retries={"mode": options.retry_mode, "total_max_attempts": options.max_attempts},
            user_agent_extra="agentaudit",
            connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout,
        )
        # Who am I: a dead endpoint or missing credentials should fail in seconds, not minutes.
        self.startup_config = self.boto_config.merge(
            BotoConfig(retries={"mode": "standard", "total_max_attempts": min(3, options.max_attempts)})
        )

    # -- sessions -------------------------------------------------------------------------
    def _session(self, **kwargs: Any) -> boto3.Session:
        session = self.session_factory(**kwargs)
        self.counter.attach(session)
        return session

    def _client(
        self, session: boto3.Session, service: str, region: str | None = None, config: BotoConfig | None = None
    ) -> Any:
        try:
            with self._client_lock:  # a boto3 Session is not thread-safe; its clients are
                return session.client(
                    service, region_name=region or session.region_name or "us-east-1", config=config or self.boto_config
                )
        except ValueError as exc:  # botocore's "Invalid endpoint: …" (InvalidRegionError is a BotoCoreError)
            raise EndpointSettingError(service=service, error=str(exc)) from None

    def _caller(self, session: boto3.Session) -> str:
        return str(self._client(session, "sts", config=self.startup_config).get_caller_identity()["Account"])

    def _bases(self) -> list[tuple[boto3.Session, str]]:
        """One session per profile (or the default chain) and its account id; a start-up failure
        (unknown profile, no credentials, unreachable endpoint) is one line, not a traceback."""
        found = []
        profiles: list[str | None] = list(self.options.profiles) or [None]
        for profile in profiles:
            label = f"profile {profile!r}" if profile else "the default credential chain"
            try:
                base = self._session(profile_name=profile) if profile else self._session()
                with self.counter.source("sts:GetCallerIdentity"):
                    found.append((base, self._caller(base)))
            except ProfileNotFound as exc:
                if profile:
                    raise InputError(f"--profiles: no AWS profile named {profile!r} in the AWS config files") from None
                named = exc.kwargs.get("profile")  # AWS_PROFILE, read by botocore
                raise InputError(f"AWS_PROFILE: no AWS profile named {named!r} in the AWS config files") from None
            except NoCredentialsError:
                raise InputError(
                    f"AWS: no credentials found for {label} (set AWS_PROFILE, run `aws configure` or `aws sso login`)"
                ) from None
            except (BotoCoreError, ClientError) as exc:
                raise InputError(
                    f"AWS: cannot identify the caller with {label} (sts:GetCallerIdentity): {_describe(exc)}"
                ) from None
        return found

    def _assume(self, base: boto3.Session, account_id: str) -> boto3.Session:
        arn = f"arn:aws:iam::{account_id}:role/{self.options.role_name}"
        creds = self._client(base, "sts").assume_role(RoleArn=arn, RoleSessionName="agentaudit")["Credentials"]
        return self._session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=base.region_name,
        )

    def accounts(self) -> list[_Account]:
        """The accounts to read: profiles, the caller, organisation members, explicit ids."""
        found: dict[str, _Account] = {}
        bases = self._bases()
        for base, account_id in bases:
            found.setdefault(account_id, _Account(account_id, base, account_id))
        base = bases[0][0]
        members: list[str] = list(self.options.accounts)
        if self.options.org:
            members += self._organisation_accounts(base)
        for account_id in members:
            if account_id in found:
                continue
            started = datetime.now(UTC)
            name = f"aws/{account_id}/sts:AssumeRole"
            try:
                with self.counter.source(name):
                    found[account_id] = _Account(account_id, self._assume(base, account_id), account_id)
            except (ClientError, BotoCoreError) as exc:
                self._record(name, Input.AWS_ASSUME_ROLE, account_id, started, 0, exc)
        return list(found.values())

    def _organisation_accounts(self, base: boto3.Session) -> list[str]:
        started = datetime.now(UTC)
        name = "aws/organizations:ListAccounts"
        try:
            with self.counter.source(name):
                pages = self._client(base, "organizations").get_paginator("list_accounts").paginate()
                ids = [a["Id"] for page in pages for a in page["Accounts"] if a.get("Status", "ACTIVE") == "ACTIVE"]
        except (ClientError, BotoCoreError) as exc:
            self._record(name, Input.AWS_ORGANIZATION, None, started, 0, exc)
            return []
        self._record(name, Input.AWS_ORGANIZATION, None, started, len(ids))
        return ids

    # -- recording --------------------------------------------------------------------------
    def _record(
        self,
        name: str,
        kind: Input,
        account: str | None,
        started: datetime,
        records: int,
        error: Exception | None = None,
    ) -> None:
        status = SourceStatus.COMPLETE if error is None else SourceStatus.FAILED
        message = _describe(error) if error is not None else None
        source = Source(
            name=name,
            kind=kind.value,
            provider="aws",
            account=account,
            location=name,
            started=started,
            finished=datetime.now(UTC),
            status=status,
            api_calls=self.counter.calls[name],
            records=records,
            error=message,
        )
        with self._lock:
            self.out.sources.append(source)
            if message:
                self.out.warnings.append(f"{name}: {message}")

    def _run_source(self, name: str, kind: Input, account: str, func: Callable[[], int]) -> None:
        started = datetime.now(UTC)
        self.progress(name)
        try:
            with self.counter.source(name):
                records = func()
        except (ClientError, BotoCoreError, InputError) as exc:  # InputError: a response we cannot parse
            self._record(name, kind, account, started, 0, exc)
            return
        except ResponseParserError as exc:  # botocore could not read the reply (e.g. a proxy's HTML 500 page)
            error = InputError(f"unreadable response from AWS: {' '.join(str(exc).split())[:160]}")
            self._record(name, kind, account, started, 0, error)
            return
        except (TypeError, KeyError, AttributeError, IndexError, ValueError) as exc:
            # A response in a shape no parser expects (records are only added once a source is
            # parsed whole, so nothing partial is kept): a gap, never a traceback.
            self._record(name, kind, account, started, 0, InputError(f"unexpected response shape: {exc!r}"))
            return
        self._record(name, kind, account, started, records)

    # -- per-account work ------------------------------------------------------------------
    def collect(self) -> Collected:
        """Accounts in parallel on daemon threads: on Ctrl-C the main thread stops waiting at once
        and the workers stop at their next attempt (or die with the process if a read hangs)."""
        accounts = self.accounts()
        workers = max(1, self.options.max_workers)
        run_side_by_side(accounts, self._collect_account, self.counter.cancelled, workers, "agentaudit-aws")
        return self.out

    def _regions(self, account: _Account) -> list[str]:
        if self.options.regions:
            return list(self.options.regions)
        name = f"aws/{account.account_id}/ec2:DescribeRegions"
        regions: list[str] = []

        def fetch() -> int:
            response = self._client(account.session, "ec2").describe_regions(AllRegions=False)
            regions.extend(sorted(r["RegionName"] for r in response["Regions"]))
            return len(regions)

        self._run_source(name, Input.AWS_REGIONS, account.account_id, fetch)
        return regions or [account.session.region_name or "us-east-1"]

    def _collect_account(self, account: _Account) -> None:
        """The account's sources as independent chains run side by side: a slow or retrying
        endpoint (a throttled service, a 500 retried with backoff) no longer delays the others.
        Within a chain the order is kept: tags and policies follow the records they complete."""
        acc = account.account_id
        source = self._source_step
        chains: list[Chain] = [
            [source(f"aws/{acc}/iam:GetAccountAuthorizationDetails", Input.IAM, acc, partial(self._iam, account))],
            [source(f"aws/{acc}/iam:CredentialReport", Input.CREDENTIAL_REPORT, acc, partial(self._report, account))],
            [self._extras_global(account)],
        ]
        for region in self._regions(account):
            chains += self._regional_chains(account, region)
        run_chains(chains, self.counter.cancelled, ACCOUNT_THREADS)

    def _source_step(self, name: str, kind: Input, account: str, func: Callable[[], int]) -> Step:
        return partial(self._run_source, name, kind, account, func)

    def _regional_chains(self, account: _Account, region: str) -> list[Chain]:
        acc, prefix, session = account.account_id, f"aws/{account.account_id}/{region}", account.session
        source = self._source_step
        agents: list[tuple[str, str]] = []

        def action_groups() -> None:  # only when the agents source found agents
            if agents:
                groups = partial(self._action_groups, account, region, agents)
                self._run_source(f"{prefix}/bedrock-agent:ActionGroups", Input.BEDROCK_TOOLS, acc, groups)

        def step(operation: str, kind: Input, func: Callable[..., int], *args: Any) -> Step:
            return source(f"{prefix}/{operation}", kind, acc, partial(func, *args))

        with_account, with_session = (account, region), (session, acc, region)
        chains: list[Chain] = [
            [
                step("secretsmanager:ListSecrets", Input.SECRETS, self._secrets, *with_account),
                step("secretsmanager:ResourcePolicies", Input.SECRET_POLICIES, self._secret_policies, *with_session),
            ],
            [
                step("acm:Certificates", Input.CERTIFICATES, self._certificates, *with_account),
                step("acm:Tags", Input.CERTIFICATE_TAGS, self._certificate_tags, *with_session),
            ],
            [step("cloudtrail:Trails", Input.CLOUDTRAIL_TRAILS, self._trails, *with_account)],
            [
                step("bedrock-agent:Agents", Input.BEDROCK_AGENTS, self._agents, *with_account, agents),
                step("bedrock-agent:Tags", Input.BEDROCK_TAGS, self._agent_tags, *with_session),
                action_groups,  # needs the agents' ids; after the (quick) tags
            ],
        ]
        return chains + self._agentcore_chains(session, acc, region)

    def _extras_global(self, account: _Account) -> Step:
        """Bedrock API keys (IAM service-specific credentials), once per account."""
        acc = account.account_id
        reads = partial(self._service_credentials, account.session, acc)
        return self._source_step(f"aws/{acc}/iam:ServiceSpecificCredentials", Input.SERVICE_CREDENTIALS, acc, reads)

    def _iam(self, account: _Account) -> int:
        client = self._client(account.session, "iam")
        pages = list(
            client.get_paginator("get_account_authorization_details").paginate(PaginationConfig={"PageSize": 1000})
        )
        name = f"aws/{account.account_id}/iam:GetAccountAuthorizationDetails"
        parsed = aws_iam.parse_authorization_details(pages, name, name)
        with self._lock:
            self.out.identities += parsed.identities
            self.out.grants += parsed.grants
        return len(parsed.identities)

    def _report(self, account: _Account) -> int:
        client = self._client(account.session, "iam")
        delay = 0.05  # the report is often ready at once or within a second: back off up to the poll interval
        for _ in range(REPORT_POLLS + 6):  # the 6 short waits first, then as long as before
            if client.generate_credential_report().get("State") == "COMPLETE":
                break
            time.sleep(delay)
            delay = min(delay * 2, self.options.report_poll_seconds)
        response = client.get_credential_report()
        name = f"aws/{account.account_id}/iam:CredentialReport"
        text = aws_iam.decode_credential_report(response, name)
        credentials, users = aws_iam.parse_credential_report(text, name, name)
        with self._lock:
            self.out.credentials += credentials
            self.out.user_facts.update(users)
        return len(credentials)

    def _secrets(self, account: _Account, region: str) -> int:
        client = self._client(account.session, "secretsmanager", region)
        pages = list(client.get_paginator("list_secrets").paginate())
        name = f"aws/{account.account_id}/{region}/secretsmanager:ListSecrets"
        credentials = aws_services.parse_secrets(pages, name, name)
        with self._lock:
            self.out.credentials += credentials
        return len(credentials)

    def _certificates(self, account: _Account, region: str) -> int:
        client = self._client(account.session, "acm", region)
        name = f"aws/{account.account_id}/{region}/acm:Certificates"
        arns = [
            c["CertificateArn"]
            for page in client.get_paginator("list_certificates").paginate()
            for c in page["CertificateSummaryList"]
        ]
        credentials = []
        for arn in arns:
            credentials += aws_services.parse_certificate(client.describe_certificate(CertificateArn=arn), name, name)
        with self._lock:
            self.out.credentials += credentials
        return len(credentials)

    def _trails(self, account: _Account, region: str) -> int:
        """Trails whose home is this region, with what they record and whether they log."""
        client = self._client(account.session, "cloudtrail", region)
        name = f"aws/{account.account_id}/{region}/cloudtrail:Trails"
        listed = client.describe_trails(includeShadowTrails=False)
        trails = aws_services.parse_trails(listed, name, name)
        selectors: dict[str, dict[str, Any]] = {}
        for trail in trails:
            arn, found = aws_services.parse_event_selectors(client.get_event_selectors(TrailName=trail.uid), name)
            found["logging"] = bool(client.get_trail_status(Name=trail.uid).get("IsLogging"))
            selectors[arn] = found
        with self._lock:
            self.out.trails += trails
            self.out.trail_selectors.update(selectors)
        return len(trails)

    def _agents(self, account: _Account, region: str, found: list[tuple[str, str]]) -> int:
        client = self._client(account.session, "bedrock-agent", region)
        name = f"aws/{account.account_id}/{region}/bedrock-agent:Agents"
        summaries = [s for page in client.get_paginator("list_agents").paginate() for s in page["agentSummaries"]]
        agents = [aws_services.parse_agent(client.get_agent(agentId=s["agentId"]), name, name) for s in summaries]
        with self._lock:
            self.out.identities += agents
        found += [(s["agentId"], a.uid) for s, a in zip(summaries, agents, strict=True)]
        return len(agents)

    def _action_groups(self, account: _Account, region: str, agents: list[tuple[str, str]]) -> int:
        """Tools and their requireConfirmation flags: a separate source, so that an agent whose
        groups cannot be read still appears (and the gap shows) rather than vanishing."""
        client = self._client(account.session, "bedrock-agent", region)
        name = f"aws/{account.account_id}/{region}/bedrock-agent:ActionGroups"
        version = "DRAFT"
        tools = []
        for agent_id, agent_uid in agents:
            pages = client.get_paginator("list_agent_action_groups").paginate(agentId=agent_id, agentVersion=version)
            for group in (g for page in pages for g in page["actionGroupSummaries"]):
                detail = client.get_agent_action_group(
                    agentId=agent_id, agentVersion=version, actionGroupId=group["actionGroupId"]
                )
                tools += aws_services.parse_action_group(detail, agent_uid, name, name)
        with self._lock:
            self.out.tools += tools
        return len(tools)


def collect_aws(options: AwsOptions, progress: Progress | None = None) -> tuple[Collected, ApiCounter]:
    collector = AwsCollector(options, progress)
    return collector.collect(), collector.counter
