"""The live AWS collector against moto's standalone server (real HTTP, real botocore).

moto 5.2 does not implement bedrock-agent's action-group calls, and never returns Secrets
Manager's LastAccessedDate; those paths are covered with recorded response shapes replayed through
botocore's own event hooks (the same mechanism that injects throttling and AccessDenied here).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from agentaudit import pipeline
from agentaudit.collectors.aws_live import AwsCollector
from agentaudit.collectors.aws_live_calls import AwsOptions, SecretReadRefusedError
from agentaudit.collectors.shapes import SHAPES, sniff
from agentaudit.config import load_config
from agentaudit.model.kinds import Input, parse_input
from agentaudit.model.store import Store
from tests.conftest import read_findings

MGMT = "123456789012"  # moto's default account
# Sources whose calls moto 5.2 does not implement: gaps in runs without the replay hooks below.
MOTO_LACKS = (
    "iam:ServiceSpecificCredentials",
    "bedrock-agentcore:WorkloadIdentities",
    "bedrock-agentcore:CredentialProviders",
)
REGION = "eu-west-1"
BEDROCK_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = os.environ.get("AGENTAUDIT_TEST_MOTO_URL")
    if not url:
        pytest.fail("AGENTAUDIT_TEST_MOTO_URL is not set: start moto with `scripts/services.sh start`")
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)  # what plain boto3 honours; the collector takes no URL
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    yield url


def seed_account(session: boto3.Session, prefix: str, roles: int = 3, agent: bool = True) -> None:
    """Roles (one a Bedrock execution role with admin), a user with a key, a secret, an agent."""
    iam = session.client("iam")
    account = session.client("sts").get_caller_identity()["Account"]
    for n in range(roles):
        iam.create_role(
            RoleName=f"{prefix}-role-{n}",
            AssumeRolePolicyDocument=json.dumps(BEDROCK_TRUST),
            Tags=[{"Key": "identity-owner", "Value": "ops@example.com"}],
        )
        iam.put_role_policy(
            RoleName=f"{prefix}-role-{n}",
            PolicyName="inline",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
            ),
        )
    iam.attach_role_policy(RoleName=f"{prefix}-role-0", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.create_user(UserName=f"{prefix}-svc")
    iam.create_access_key(UserName=f"{prefix}-svc")
    secrets = session.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name=f"{prefix}/db", SecretString="never-read-this")
    s3 = session.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=f"{prefix}-trail-{account}", CreateBucketConfiguration={"LocationConstraint": REGION})
    trail = session.client("cloudtrail", region_name=REGION)
    trail.create_trail(Name=f"{prefix}-audit", S3BucketName=f"{prefix}-trail-{account}", IsMultiRegionTrail=True)
    trail.put_event_selectors(
        TrailName=f"{prefix}-audit",
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
            }
        ],
    )
    trail.start_logging(Name=f"{prefix}-audit")
    if not agent:
        return
    session.client("bedrock-agent", region_name=REGION).create_agent(
        agentName=f"{prefix}-agent",
        agentResourceRoleArn=f"arn:aws:iam::{account}:role/{prefix}-role-0",
        foundationModel="anthropic.claude-v2",
        description="answers questions",
    )


def _assumed(account_id: str) -> boto3.Session:
    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def _replay_action_groups(session: boto3.Session) -> None:
    """Recorded ListAgentActionGroups / GetAgentActionGroup responses (moto lacks them)."""

    def reply(parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("https://bedrock-agent", 200, {}, None), parsed  # type: ignore[arg-type]

    def list_groups(params: dict[str, Any], **_: Any) -> Any:
        summary = {"actionGroupId": "GRP0000001", "actionGroupName": "payments", "actionGroupState": "ENABLED"}
        return reply({"actionGroupSummaries": [summary]})

    def get_group(params: dict[str, Any], **_: Any) -> Any:
        group = {
            "agentId": "RECORDED01",
            "agentVersion": "DRAFT",
            "actionGroupId": "GRP0000001",
            "actionGroupName": "payments",
            "actionGroupState": "ENABLED",
            "actionGroupExecutor": {"lambda": "arn:aws:lambda:eu-west-1:123456789012:function:pay"},
            "functionSchema": {
                "functions": [
                    {"name": "issue_refund", "requireConfirmation": "DISABLED"},
                    {"name": "lookup_order", "requireConfirmation": "DISABLED"},
                ]
            },
        }
        return reply({"agentActionGroup": group})

    session.events.register("before-call.bedrock-agent.ListAgentActionGroups", list_groups)
    session.events.register("before-call.bedrock-agent.GetAgentActionGroup", get_group)
    _replay_service_credentials(session)
    _replay_no_agentcore_identities(session)


def _replay_no_agentcore_resources(session: boto3.Session) -> None:
    """Under IAM enforcement moto's signature check rejects AgentCore's REST paths (as it does
    GetAgent's), so the enforcement tests answer the two list calls before they are signed; the
    bedrock-agentcore actions of the policy are checked against AWS's documentation only."""
    for operation, key in (("ListAgentRuntimes", "agentRuntimes"), ("ListGateways", "items")):

        def answer(_key: str = key, **_: Any) -> Any:
            return AWSResponse("https://bedrock-agentcore", 200, {}, None), {_key: []}  # type: ignore[arg-type]

        session.events.register(f"before-call.bedrock-agentcore-control.{operation}", answer)


def _replay_no_agentcore_identities(session: boto3.Session) -> None:
    """moto 5.2 implements AgentCore runtimes and gateways but not its identity service: empty
    lists (tests/test_agentcore_live.py replays non-empty ones)."""
    for operation, key in (
        ("ListWorkloadIdentities", "workloadIdentities"),
        ("ListOauth2CredentialProviders", "credentialProviders"),
        ("ListApiKeyCredentialProviders", "credentialProviders"),
    ):

        def answer(_key: str = key, **_: Any) -> Any:
            return AWSResponse("https://bedrock-agentcore", 200, {}, None), {_key: []}  # type: ignore[arg-type]

        session.events.register(f"before-call.bedrock-agentcore-control.{operation}", answer)


# IAM API reference, ListServiceSpecificCredentials (AllUsers): a Bedrock API key with an expiry.
SERVICE_CREDENTIALS: dict[str, Any] = {
    "ServiceSpecificCredentials": [
        {
            "UserName": "a-svc",
            "Status": "Active",
            "ServiceUserName": "a-svc-at-123456789012",
            "ServiceCredentialAlias": "a-svc+1-at-123456789012",
            "CreateDate": "2026-10-01T00:00:00Z",
            "ExpirationDate": "2027-01-01T00:00:00Z",
            "ServiceSpecificCredentialId": "ACCAEXAMPLE123EXAMPLE",
            "ServiceName": "bedrock.amazonaws.com",
        }
    ],
    "IsTruncated": False,
}


def _replay_service_credentials(session: boto3.Session, body: dict[str, Any] | None = None) -> None:
    """moto 5.2 does not implement ListServiceSpecificCredentials: replay the documented shape."""

    def answer(**_: Any) -> Any:
        return AWSResponse("https://iam", 200, {}, None), body or SERVICE_CREDENTIALS  # type: ignore[arg-type]

    session.events.register("before-call.iam.ListServiceSpecificCredentials", answer)


def _factory(*hooks: Callable[[boto3.Session], None]) -> Callable[..., boto3.Session]:
    def make(**kwargs: Any) -> boto3.Session:
        session = boto3.Session(**kwargs)
        for hook in hooks:
            hook(session)
        return session

    return make


def _collect(options: AwsOptions, *hooks: Callable[[boto3.Session], None]) -> AwsCollector:
    collector = AwsCollector(options, session_factory=_factory(_replay_action_groups, *hooks))
    collector.collect()
    return collector


def test_single_account_reads_every_service_and_never_a_secret_value(moto: str) -> None:
    seed_account(boto3.Session(region_name=REGION), "a")
    collector = _collect(AwsOptions(regions=[REGION]))
    out = collector.out
    assert {s.status for s in out.sources} == {"complete"}, [(s.name, s.error) for s in out.sources]
    # Each call is a source of the input kind its saved export has (the region list, role
    # assumption and organisation listing exist only live).
    live_only = {Input.AWS_REGIONS, Input.AWS_ASSUME_ROLE, Input.AWS_ORGANIZATION}
    read = {parse_input(s.kind) for s in out.sources}
    sniff([])  # loads the parser modules
    assert Input.CREDENTIAL_REPORT in read and read - live_only <= {shape.provides for shape in SHAPES.values()}
    kinds = {i.name: i.kind for i in out.identities}
    assert kinds["a-role-0"] == "aws_iam_role" and kinds["a-svc"] == "aws_iam_user"
    assert kinds["a-agent"] == "aws_bedrock_agent"
    assert any(g.admin for g in out.grants), "AdministratorAccess (moto loads managed policies) was not resolved"
    assert {c.type for c in out.credentials} == {"access_key", "secret", "api_key"}
    assert [(t.name, t.requires_approval) for t in out.tools] == [("issue_refund", False), ("lookup_order", False)]
    assert [(t.name, t.multi_region) for t in out.trails] == [("a-audit", True)]
    assert out.trail_selectors[out.trails[0].uid] == {
        "management_events": True,
        "data_events": True,
        "data_resources": ("AWS::S3::Object",),
        "logging": True,
    }
    operations = collector.counter.operations
    assert "secretsmanager:GetSecretValue" not in operations and "secretsmanager:BatchGetSecretValue" not in operations
    assert operations["iam:GetAccountAuthorizationDetails"] == 1
    assert not any(op in operations for op in ("iam:GetRole", "iam:ListRoleTags", "iam:GetAccessKeyLastUsed"))


def test_secret_reads_are_refused_by_the_collector_session(moto: str) -> None:
    collector = AwsCollector(AwsOptions(regions=[REGION]))
    session = collector._session()
    client = session.client("secretsmanager", region_name=REGION)
    with pytest.raises(SecretReadRefusedError):
        client.get_secret_value(SecretId="anything")


def test_organisation_run_assumes_into_every_member_account(moto: str) -> None:
    org = boto3.client("organizations")
    org.create_organization(FeatureSet="ALL")
    members = []
    for n in range(2):
        status = org.create_account(Email=f"m{n}@example.com", AccountName=f"member-{n}")["CreateAccountStatus"]
        members.append(
            org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
        )
    seed_account(boto3.Session(region_name=REGION), "mgmt", roles=1)
    for n, member in enumerate(members):
        seed_account(_assumed(member), f"m{n}", roles=2)
    collector = _collect(AwsOptions(org=True, regions=[REGION], max_workers=3))
    accounts = {i.account for i in collector.out.identities}
    assert accounts == {MGMT, *members}
    assert {i.name for i in collector.out.identities if i.account == members[1]} >= {"m1-role-0", "m1-role-1", "m1-svc"}
    assert collector.counter.operations["sts:AssumeRole"] == 2
    assert collector.counter.operations["organizations:ListAccounts"] == 1


def _deny(service: str, operation: str) -> Callable[[boto3.Session], None]:
    def hook(session: boto3.Session) -> None:
        def refuse(**_: Any) -> Any:
            body = {"Error": {"Code": "AccessDeniedException", "Message": f"not authorized to perform {operation}"}}
            return AWSResponse("https://aws", 403, {}, None), body  # type: ignore[arg-type]

        session.events.register(f"before-call.{service}.{operation}", refuse)

    return hook


def test_access_denied_on_one_service_is_a_recorded_gap_and_the_rest_goes_on(moto: str, tmp_path: Path) -> None:
    seed_account(boto3.Session(region_name=REGION), "a")
    collector = AwsCollector(
        AwsOptions(regions=[REGION]),
        session_factory=_factory(_replay_action_groups, _deny("secretsmanager", "ListSecrets")),
    )
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    config = load_config()
    from agentaudit.collectors.enrich import enrich

    collected = collector.collect()
    failed = [s for s in collected.sources if s.status != "complete"]
    assert [s.name for s in failed] == [f"aws/{MGMT}/{REGION}/secretsmanager:ListSecrets"]
    assert failed[0].error is not None and failed[0].error.startswith("AccessDeniedException")
    assert any(i.name == "a-role-0" for i in collected.identities)
    data, _ = enrich(collected, [], [], [], config, "aws")
    snapshot = store.write_snapshot(data)
    findings = pipeline.check(store, config, None, snapshot).evaluation.findings
    gap = findings[(findings["control_id"] == "COL-001") & (findings["status"] == "fail")]
    assert list(gap["subject_uid"]) == [failed[0].name]


def test_throttling_is_retried_and_counted(moto: str) -> None:
    seed_account(boto3.Session(region_name=REGION), "a")
    state = {"left": 3}

    def throttle(session: boto3.Session) -> None:
        def maybe(request: Any, **_: Any) -> Any:
            if (
                "secretsmanager.ListSecrets" not in request.headers.get("X-Amz-Target", b"").decode()
                or not state["left"]
            ):
                return None
            state["left"] -= 1
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            return AWSResponse(request.url, 400, {"x-amzn-errortype": "ThrottlingException"}, _Raw(body))

        session.events.register("before-send.secrets-manager.ListSecrets", maybe)

    collector = _collect(AwsOptions(regions=[REGION], retry_mode="standard"), throttle)
    name = f"aws/{MGMT}/{REGION}/secretsmanager:ListSecrets"
    source = next(s for s in collector.out.sources if s.name == name)
    assert source.status == "complete" and source.records == 1
    assert state["left"] == 0
    assert collector.counter.attempts[name] == collector.counter.calls[name] + 3


class _Raw:
    """The minimal raw-body object botocore reads a response from."""

    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body

    def read(self, *_: Any) -> bytes:
        body, self.body = self.body, b""
        return body


def test_cli_run_aws_writes_a_verified_pack(moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from agentaudit.cli import app

    # moto answers the unimplemented action-group calls with HTTP 500, which botocore retries.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    seed_account(boto3.Session(region_name=REGION), "cli")
    result = CliRunner().invoke(
        app,
        ["run", "--aws", "--regions", REGION, "--out", str(tmp_path / "out"), "--store", f"sqlite:///{tmp_path}/s.db"],
    )
    assert result.exit_code == 0, result.output
    folder = Path(result.stdout.strip().splitlines()[-1])
    findings = read_findings(folder)
    assert any(
        f["identity_name"] == "cli-role-0" and f["control_id"] == "ACC-001" and f["status"] == "fail" for f in findings
    )
    assert CliRunner().invoke(app, ["verify", str(folder)]).exit_code == 0
    summary = json.loads((folder / "summary.json").read_text())
    gaps = next(c for c in summary["controls"] if c["control_id"] == "COL-001")
    # What moto cannot serve (action groups, ListServiceSpecificCredentials, AgentCore workload
    # identities and credential providers): reported, not passed.
    assert gaps["fail"] == 4


def _enforce_iam(url: str, on: bool) -> None:
    """moto's server checks every request against the caller's IAM policies once this is set."""
    body = b"0" if on else b"inf"
    request = urllib.request.Request(
        f"{url}/moto-api/reset-auth", data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request)


def _auditor(policy: dict[str, Any]) -> boto3.Session:
    iam = boto3.client("iam")
    iam.create_user(UserName="auditor")
    iam.put_user_policy(UserName="auditor", PolicyName="agentaudit", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    return boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )


def _documented_policy() -> dict[str, Any]:
    from importlib import resources

    text = resources.files("agentaudit.collectors").joinpath("aws_readonly_policy.json").read_text()
    return dict(json.loads(text))


def test_documented_read_only_policy_is_sufficient(moto: str) -> None:
    # No Bedrock agent here: moto 5.2's signature check rejects GetAgent's path under enforcement
    # (SignatureDoesNotMatch for any key), so the bedrock:* actions are checked against AWS's
    # documentation only. ListAgents is still called, and authorised, under the policy.
    seed_account(boto3.Session(region_name=REGION), "a", agent=False)
    auditor = _auditor(_documented_policy())
    _enforce_iam(moto, True)
    try:
        collector = AwsCollector(
            AwsOptions(regions=[REGION]),
            session_factory=_factory(_replay_action_groups, _replay_no_agentcore_resources, _as(auditor)),
        )
        out = collector.collect()
    finally:
        _enforce_iam(moto, False)
    assert [(s.name, s.error) for s in out.sources if s.status != "complete"] == []
    assert {"a-role-0", "a-svc", "auditor"} <= {i.name for i in out.identities}
    assert any(c.type == "secret" for c in out.credentials) and any(c.type == "access_key" for c in out.credentials)


def test_missing_permission_is_an_access_denied_gap_from_the_server(moto: str) -> None:
    seed_account(boto3.Session(region_name=REGION), "a", agent=False)
    policy = _documented_policy()
    policy["Statement"][0]["Action"].remove("secretsmanager:ListSecrets")
    auditor = _auditor(policy)
    _enforce_iam(moto, True)
    try:
        out = AwsCollector(
            AwsOptions(regions=[REGION]),
            session_factory=_factory(_replay_action_groups, _replay_no_agentcore_resources, _as(auditor)),
        ).collect()
    finally:
        _enforce_iam(moto, False)
    failed = {s.name: s.error for s in out.sources if s.status != "complete"}
    assert list(failed) == [f"aws/{MGMT}/{REGION}/secretsmanager:ListSecrets"]
    assert "403" in str(failed) or "AccessDenied" in str(failed)
    assert any(i.name == "a-role-0" for i in out.identities)


def _as(auditor: boto3.Session) -> Callable[[boto3.Session], None]:
    """Give each collector session the auditor's keys (the standard chain would find env keys)."""
    creds = auditor.get_credentials()

    def hook(session: boto3.Session) -> None:
        if creds is not None and session.get_credentials().access_key == "testing":
            session._session.set_credentials(creds.access_key, creds.secret_key)

    return hook


def test_live_iam_pagination_merges_every_page(moto: str) -> None:
    """moto never paginates GetAccountAuthorizationDetails; replay two recorded pages instead."""
    data = Path(__file__).parent / "data" / "aws"
    pages = [_as_raw_api(json.loads((data / f"auth-details-page{n}.json").read_text())) for n in (1, 2)]
    seen: list[str | None] = []

    def replay(session: boto3.Session) -> None:
        def answer(params: dict[str, Any], **_: Any) -> Any:
            body = params.get("body") or {}
            marker = body.get("Marker") if isinstance(body, dict) else None
            seen.append(marker)
            page = pages[1] if marker == "page-2-marker" else pages[0]
            return AWSResponse("https://iam", 200, {}, None), page  # type: ignore[arg-type]

        session.events.register("before-call.iam.GetAccountAuthorizationDetails", answer)

    collector = _collect(AwsOptions(regions=[REGION]), replay)
    assert seen == [None, "page-2-marker"]
    names = {i.name for i in collector.out.identities}
    assert {"svc-etl", "report-agent"} <= names
    assert collector.counter.operations["iam:GetAccountAuthorizationDetails"] == 2


def _as_raw_api(value: Any) -> Any:
    """The raw IAM API returns policy documents URL-encoded (botocore decodes them)."""
    from urllib.parse import quote

    if isinstance(value, list):
        return [_as_raw_api(v) for v in value]
    if isinstance(value, dict):
        keys = ("PolicyDocument", "Document", "AssumeRolePolicyDocument")
        return {
            k: quote(json.dumps(v)) if k in keys and isinstance(v, dict) else _as_raw_api(v) for k, v in value.items()
        }
    return value
