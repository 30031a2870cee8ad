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

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound
from botocore.parsers import ResponseParserError

from agentaudit.collectors import aws_iam, aws_services
from agentaudit.collectors.aws_live_agentcore import AgentCoreReads
from agentaudit.collectors.aws_live_calls import (
    ApiCounter,
    AwsOptions,
    EndpointSettingError,
    describe_error,
)
from agentaudit.collectors.aws_live_extras import AgentSurfaceReads
from agentaudit.collectors.shapes import Collected
from agentaudit.collectors.side_by_side import Chain, Step, run_chains, run_side_by_side
from agentaudit.errors import InputError
from agentaudit.model.kinds import Input
from agentaudit.model.records import Source, SourceStatus

Progress = Callable[[str], None]
ACCOUNT_THREADS = 8  # chains of one account read at once (per account worker)
REPORT_POLLS = 20


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
                    f"AWS: cannot identify the caller with {label} (sts:GetCallerIdentity): {describe_error(exc)}"
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
        message = describe_error(error) if error is not None else None
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
