"""No verdict without its input: declared needs, strict statuses, one resolver, one shape registry."""

from __future__ import annotations

import ast
import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from agentaudit import pipeline
from agentaudit.collectors.common import aws_tags
from agentaudit.collectors.exports import read_exports
from agentaudit.collectors.shapes import SHAPES, sniff
from agentaudit.config import Config, load_config
from agentaudit.controls.catalog import Control, Need
from agentaudit.controls.context import Context, InvalidStatusError, result
from agentaudit.controls.engine import InvalidSubjectError, checked_catalog, evaluate, subject_frames
from agentaudit.controls.needs import Coverage
from agentaudit.controls.registry import CHECKS, load_builtin_checks
from agentaudit.model.identity import make_uid
from agentaudit.model.kinds import Input
from agentaudit.model.records import Identity, Severity, Source, SourceStatus, Status, evolve
from agentaudit.model.store import Store
from tests.conftest import AS_OF, complete_sources, evaluate_records, evidence_of, identity, status_of

ROOT = Path(__file__).resolve().parents[1]


def _sources_without(kind: Input, account: str, provider: str = "aws") -> list[Source]:
    sources = complete_sources({"identities": [identity("x", account=account)]})
    return [s for s in sources if not (s.kind == kind.value and s.provider == provider)]


def test_iam_users_are_never_passed_on_static_keys_or_human_use_without_the_credential_report(tmp_path: Path) -> None:
    """Was: LC-009 and ACC-007 passed every IAM user when the credential report was not read."""
    user = identity("svc", kind="aws_iam_user", native_id="arn:aws:iam::111122223333:user/svc")
    with_report = evaluate_records(tmp_path / "a", identities=[user])
    assert status_of(with_report, "LC-009", user.uid) == "pass"
    assert status_of(with_report, "ACC-007", user.uid) == "pass"
    without = evaluate_records(
        tmp_path / "b", identities=[user], sources=_sources_without(Input.CREDENTIAL_REPORT, "111122223333")
    )
    for control in ("LC-009", "ACC-007", "MON-001"):
        row = without[(without["control_id"] == control) & (without["subject_uid"] == user.uid)].iloc[0]
        assert row["status"] == "error", control
        assert json.loads(row["evidence"])["missing_input"] == ["credential_report"]
    # A failed credential report is no better than none.
    now = datetime.now(UTC)
    failed = Source("r", "credential_report", "aws", "111122223333", "r", now, now, SourceStatus.FAILED, error="x")
    broken = evaluate_records(tmp_path / "c", identities=[user], sources=[*complete_sources({}), failed])
    assert status_of(broken, "LC-009", user.uid) == "error"


def test_a_need_scoped_to_users_leaves_roles_alone(tmp_path: Path) -> None:
    role = identity("role")
    findings = evaluate_records(
        tmp_path, identities=[role], sources=_sources_without(Input.CREDENTIAL_REPORT, "111122223333")
    )
    assert status_of(findings, "MON-001", role.uid) == "pass"  # RoleLastUsed comes from IAM itself


def test_a_failed_source_of_unknown_account_taints_every_account_of_its_provider() -> None:
    now = datetime.now(UTC)
    rows = [
        Source("a", "credential_report", "aws", "111111111111", "a", now, now, SourceStatus.COMPLETE),
        Source("b", "credential_report", "aws", "222222222222", "b", now, now, SourceStatus.COMPLETE),
        Source("c", "credential_report", "aws", None, "c", now, now, SourceStatus.FAILED),
    ]
    frame = pd.DataFrame([{"kind": s.kind, "account": s.account, "status": s.status.value} for s in rows])
    coverage = Coverage.of(frame)
    assert not coverage.has(Input.CREDENTIAL_REPORT, "111111111111")
    assert Coverage.of(frame.iloc[:2]).has(Input.CREDENTIAL_REPORT, "222222222222")


# Recorded provider responses that give the demo estate subjects it lacks: AgentCore workload
# identities and credential providers, Bedrock API keys, Foundry agents and their MCP tools (only
# the agent list of that tenant: its principals would make a register entry of the demo ambiguous).
FOUNDRY_TENANT = "5b6a7c8d-1111-4222-8333-944455556666"
RICH_EXTRAS = ("aws_agents/agentcore", "aws_agents/exports", f"azure/entra-tenant/{FOUNDRY_TENANT}/foundry")
KEY_HOLDER_ACCOUNT = "123456789012"  # list-service-specific-credentials.json's user lives here


@pytest.fixture(scope="module")
def rich_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo estate's exports plus RICH_EXTRAS and the Bedrock API key holder's IAM user."""
    root = tmp_path_factory.mktemp("rich")
    shutil.copytree(pipeline.demo_paths()["source"], root / "estate")
    for extra in RICH_EXTRAS:
        shutil.copytree(ROOT / "tests" / "data" / extra, root / "estate" / "extra" / extra)
    holder = {"UserName": "bedrock-caller", "UserId": "AIDAEXAMPLEHOLDER", "Path": "/",
              "Arn": f"arn:aws:iam::{KEY_HOLDER_ACCOUNT}:user/bedrock-caller", "CreateDate": "2025-01-01T00:00:00Z",
              "UserPolicyList": [], "AttachedManagedPolicies": [], "GroupList": [], "Tags": []}  # fmt: skip
    _write(
        root / "estate" / "holder" / KEY_HOLDER_ACCOUNT / "iam.json",
        {"UserDetailList": [holder], "RoleDetailList": [], "GroupDetailList": [], "Policies": []},
    )
    return root / "estate"


def _demo_context(folder: Path, db: Path, complete: bool = True) -> tuple[Context, Config]:
    """A folder of exports collected with the demo's register, roster and policy."""
    paths = pipeline.demo_paths()
    config = load_config(paths["config"])
    store = Store(f"sqlite:///{db}")
    collected = pipeline.collect(folder, store, config, [paths["register"]], paths["roster"])
    assert collected.status == "complete" or not complete, collected.warnings
    return pipeline.load_context(store, collected.snapshot_id, config, AS_OF), config


@pytest.fixture(scope="module")
def rich_estate(rich_folder: Path) -> tuple[Context, Config]:
    """The rich folder collected, with a Revoke decision on one identity, credential and
    entitlement per provider (ATT-002's subjects)."""
    ctx, config = _demo_context(rich_folder, rich_folder.parent / "rich.db")
    return replace(ctx, attestations=_revokes(ctx)), config


def _revokes(ctx: Context) -> pd.DataFrame:
    """Revoke decisions, decided long before the snapshot, on the first identity, credential and
    entitlement of each provider."""
    decided = AS_OF - timedelta(days=60)
    rows = []
    for provider in ("aws", "azure"):
        uid = ctx.identities.loc[ctx.identities["provider"] == provider, "uid"].iloc[0]
        cred = ctx.credentials.loc[ctx.credentials["provider"] == provider, "uid"].iloc[0]
        held = ctx.grants[ctx.grants["identity_uid"].str.startswith(provider + ":")].iloc[0]
        for kind, subject, entitlement in (
            ("identity", uid, None),
            ("credential", cred, None),
            ("entitlement", held["identity_uid"], held["source"]),
        ):
            rows.append({"campaign_id": 1, "period": "2026-Q4", "reviewer": "r@example.com",
                         "row_id": f"{kind}:{subject}:{entitlement}", "kind": kind, "subject_uid": subject,
                         "identity_uid": subject if kind != "credential" else None, "entitlement": entitlement,
                         "label": subject, "decision": "revoke", "comment": None, "decided_at": decided,
                         "file_name": "f.xlsx", "file_sha256": "0" * 64})  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True)
    return frame


def _without(ctx: Context, need: Need) -> Context:
    """The context as if every source of the needed input had failed (or, for an input the
    customer supplies, as if it was not given)."""
    if need.input is Input.ROSTER:
        return replace(ctx, people=ctx.people.iloc[0:0])
    if need.input is Input.REGISTER:
        return replace(ctx, register=ctx.register.iloc[0:0])
    sources = ctx.sources.copy()
    sources.loc[sources["kind"] == need.input.value, "status"] = "failed"
    return replace(ctx, sources=sources)


def _in_scope(findings: pd.DataFrame, subjects: pd.DataFrame, control: Control, need: Need) -> pd.DataFrame:
    """The control's results on subjects the need applies to: of the need's provider (and of the
    subject kinds it names)."""
    scoped = subjects[subjects["provider"] == need.input.provider]
    if need.subjects is not None:
        scoped = scoped[scoped["subject_kind"].isin(need.subjects)]
    mine = findings[findings["control_id"] == control.id]
    return mine[mine["subject_uid"].isin(set(scoped["subject_uid"]))]


def test_every_control_declares_its_needs_and_removing_each_turns_its_verdicts_into_error_or_manual(
    rich_estate: tuple[Context, Config],
) -> None:
    """Registry-wide: for every control and every input it needs, fail that input's sources (or
    withhold the roster/register). Each need must first judge some subject pass or fail (else
    this test proves nothing for it); without the input, none of those subjects may pass or fail
    (a guessed fail is as wrong as a pass), and a control needing the roster or register is not
    evaluated at all."""
    base, config = rich_estate
    catalog, _checks = checked_catalog(config)
    owner_keys = config.tags["business_owner"] + config.tags["identity_owner"]
    before = evaluate(base, config).findings
    subjects = subject_frames(base, owner_keys)
    problems: list[str] = []
    for control in catalog.controls.values():
        assert isinstance(control.needs, tuple) and all(isinstance(n, Need) for n in control.needs), control.id
        for need in control.needs:
            after = evaluate(_without(base, need), config, only={control.id})
            if need.input.provider is None:
                [summary] = after.controls
                if summary["evaluated"] or not after.findings.empty:
                    problems.append(f"{control.id} is evaluated without the {need.input.value}")
                continue
            judged = _in_scope(before, subjects[control.applies_to], control, need)
            judged = judged[judged["status"].isin(["pass", "fail"])]
            if judged.empty:
                problems.append(f"{control.id}: no subject judged pass/fail on {need.describe()} to test with")
                continue
            now = after.findings.set_index("subject_uid")["status"]
            guessed = {uid: now.get(uid) for uid in judged["subject_uid"] if now.get(uid) not in ("error", "manual")}
            if guessed:
                problems.append(f"{control.id} without {need.describe()}: {len(guessed)} still {set(guessed.values())}")
    assert problems == [], "\n".join(problems)


# Inputs removed together from the rich estate (fewer collections keep the test fast), each group
# named by its first; IAM and the credential report alone, as most controls rest on them.
INPUT_GROUPS = (
    (Input.IAM,),
    (Input.CREDENTIAL_REPORT,),
    (Input.SECRETS, Input.SECRET_POLICIES, Input.CERTIFICATES, Input.CERTIFICATE_TAGS, Input.SERVICE_CREDENTIALS),
    (Input.BEDROCK_AGENTS, Input.BEDROCK_TOOLS, Input.BEDROCK_TAGS),
    (Input.AGENTCORE_RUNTIMES, Input.AGENTCORE_GATEWAYS, Input.AGENTCORE_WORKLOAD_IDENTITIES,
     Input.AGENTCORE_CREDENTIAL_PROVIDERS),
    (Input.CLOUDTRAIL_TRAILS, Input.CLOUDTRAIL_SELECTORS, Input.CLOUDTRAIL_STATUS),
    (Input.ENTRA_PRINCIPALS, Input.ENTRA_APPLICATIONS, Input.AZURE_ROLE_ASSIGNMENTS, Input.KEYVAULT,
     Input.ENTRA_DIRECTORY_ROLES, Input.ENTRA_DIRECTORY_ROLE_DEFINITIONS, Input.FOUNDRY_AGENTS),
)  # fmt: skip
# Verdicts known to rest on an input their control does not declare, and why (none left).
KNOWN_UNDECLARED: dict[tuple[str, str], str] = {}


def test_no_verdict_rests_on_an_input_its_control_does_not_declare(rich_folder: Path, tmp_path: Path) -> None:
    """Registry-wide, the other way round: delete the export files of a group of inputs and collect
    again. A control declaring none of them may lose subjects or turn to error/manual (its check saw
    the gap), but no subject present in both runs may change to or between pass and fail: that
    verdict rested on the removed input, which the control does not declare. (COL controls judge
    the collection itself.)"""
    base, config = _demo_context(rich_folder, tmp_path / "base.db")
    catalog, _checks = checked_catalog(config)
    before = evaluate(base, config).findings
    verdict = dict(zip(zip(before["control_id"], before["subject_uid"], strict=True), before["status"], strict=True))
    found: set[tuple[str, str]] = set()
    for number, group in enumerate(INPUT_GROUPS):
        kinds = {kind.value for kind in group}
        folder = tmp_path / f"without-{number}"
        shutil.copytree(rich_folder, folder)
        removed = [s.name for s in base.sources.itertuples() if s.kind in kinds]
        assert removed, f"the rich estate has no source of {sorted(kinds)}"
        for name in removed:
            (folder / name).unlink()
        after = evaluate(_demo_context(folder, tmp_path / f"without-{number}.db", complete=False)[0], config).findings
        for control, subject, now in zip(after["control_id"], after["subject_uid"], after["status"], strict=True):
            declared = {need.input.value for need in catalog.controls[control].needs}
            was = verdict.get((control, subject))
            if declared & kinds or was in (None, now) or now not in ("pass", "fail") or control.startswith("COL-"):
                continue
            found.add((control, group[0].value))
    assert found == set(KNOWN_UNDECLARED), sorted(found ^ set(KNOWN_UNDECLARED))


def _trusting(name: str, service: str) -> Identity:
    entry = {"type": "Service", "principal": service, "effect": "Allow", "condition": {}}
    return identity(name, trust=(entry,))


def test_a_role_an_ai_service_may_assume_is_not_failed_for_what_unread_agents_would_give_it(tmp_path: Path) -> None:
    """An execution role takes its identity owner from the agent that names it: where that
    service's agents were not read, "no owner" on such a role is `error` naming them. A role only
    a compute service assumes owes nothing to agents (boundary)."""
    bedrock, compute = _trusting("exec", "bedrock.amazonaws.com"), _trusting("batch", "lambda.amazonaws.com")
    read = evaluate_records(tmp_path / "a", identities=[bedrock, compute])
    assert status_of(read, "OWN-002", bedrock.uid) == "fail" and status_of(read, "OWN-002", compute.uid) == "fail"
    unread = evaluate_records(
        tmp_path / "b", identities=[bedrock, compute], sources=_sources_without(Input.BEDROCK_AGENTS, "111122223333")
    )
    assert status_of(unread, "OWN-002", bedrock.uid) == "error"
    assert "bedrock_agent" in evidence_of(unread, "OWN-002", bedrock.uid)["unknown_because"]
    assert status_of(unread, "OWN-002", compute.uid) == "fail"


def test_every_identity_uid_is_made_of_its_provider_account_and_native_id(rich_estate: tuple[Context, Config]) -> None:
    """Needs apply by the subject's provider and account, which a tool takes from its agent's uid:
    a uid whose prefix is not its identity's provider (Foundry agents' was `azure-foundry`) put
    TOOL-005 beyond its `foundry_agents` need."""
    ids = rich_estate[0].identities
    assert len(ids) > 150
    wrong = [u for u, p, a, n in zip(ids["uid"], ids["provider"], ids["account"], ids["native_id"], strict=True)
             if u != make_uid(p, a, n)]  # fmt: skip
    assert wrong == []
    tools = subject_frames(rich_estate[0], [])["tools"]
    assert {"aws", "azure"} <= set(tools["provider"]) <= {"aws", "azure"}


def test_result_refuses_a_misspelled_status_naming_the_control(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidStatusError, match="passed"):
        result(["a"], ["passed"], [{}])
    # A check (built-in or plug-in) that writes one stops the evaluation naming its control.
    role = identity("r")
    load_builtin_checks()
    monkeypatch.setitem(CHECKS, "OWN-002", lambda ctx: result(ctx.nhis["uid"], ["passed"] * len(ctx.nhis), None))
    with pytest.raises(InvalidStatusError, match=r"control OWN-002: .*'passed'"):
        evaluate_records(tmp_path, identities=[role])
    frame = result(["a", "b"], [Status.PASS, Status.ERROR], [{}, {}])
    assert frame["status"].tolist() == ["pass", "error"]
    assert all(type(s) is str for s in frame["status"])


def test_evolve_refuses_unknown_fields() -> None:
    base = identity("r")
    with pytest.raises(TypeError, match="owner_business"):
        evolve(base, owner_business="x")
    assert evolve(base, name="n").name == "n"


def test_null_tag_values_stay_empty_never_the_text_none() -> None:
    tags = aws_tags([{"Key": "owner", "Value": None}, {"Key": "team", "Value": "ops"}, {"Key": None, "Value": "x"}])
    assert tags == {"owner": "", "team": "ops"}
    assert aws_tags({"owner": None}) == {"owner": ""}


def _write(path: Path, payload: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))


def _role(account: str, name: str) -> dict[str, object]:
    arn = f"arn:aws:iam::{account}:role/{name}"
    return {
        "RoleName": name,
        "RoleId": "AROA" + name.upper(),
        "Arn": arn,
        "Path": "/",
        "CreateDate": "2025-01-01T00:00:00Z",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
        "Tags": [],
    }


def test_a_secret_links_to_the_same_named_role_in_its_own_account_only(tmp_path: Path) -> None:
    """Was: the last identity with the name won, across accounts."""
    for account in ("111111111111", "222222222222"):
        _write(
            tmp_path / account / "iam.json",
            {"RoleDetailList": [_role(account, "worker")], "UserDetailList": [], "GroupDetailList": [], "Policies": []},
        )
    secret = {
        "ARN": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:db-AbCdEf",
        "Name": "db",
        "Tags": [{"Key": "agent-identity", "Value": "worker"}],
    }
    _write(tmp_path / "111111111111" / "secrets.json", {"SecretList": [secret]})
    lonely = {**secret, "ARN": "arn:aws:secretsmanager:eu-west-1:333333333333:secret:x-AbCdEf", "Name": "x"}
    _write(tmp_path / "333333333333" / "secrets.json", {"SecretList": [lonely]})
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    pipeline.collect(tmp_path, store, load_config(None))
    snapshot = store.latest_snapshot_id()
    assert snapshot is not None
    creds = store.read_table("credentials", snapshot)
    linked = dict(zip(creds["name"], creds["identity_uid"], strict=True))
    assert linked["db"] == "aws:111111111111:arn:aws:iam::111111111111:role/worker"
    assert linked["x"] is None  # no "worker" in account 333333333333: not linked to another account's role


def test_a_secret_tag_naming_two_identities_of_its_account_links_to_neither_and_says_so(tmp_path: Path) -> None:
    """IAM lets a role and a user share a name: the tag is ambiguous, reported, never guessed."""
    account = "111111111111"
    user = {"UserName": "worker", "UserId": "AIDAWORKER", "Arn": f"arn:aws:iam::{account}:user/worker",
            "Path": "/", "CreateDate": "2025-01-01T00:00:00Z", "UserPolicyList": [], "AttachedManagedPolicies": [],
            "GroupList": []}  # fmt: skip
    _write(
        tmp_path / account / "iam.json",
        {"RoleDetailList": [_role(account, "worker")], "UserDetailList": [user], "GroupDetailList": [], "Policies": []},
    )
    secret = {"ARN": f"arn:aws:secretsmanager:eu-west-1:{account}:secret:db-AbCdEf", "Name": "db",
              "Tags": [{"Key": "agent-identity", "Value": "worker"}]}  # fmt: skip
    _write(tmp_path / account / "secrets.json", {"SecretList": [secret]})
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    collected = pipeline.collect(tmp_path, store, load_config(None))
    assert any("names no single identity" in w and "not linked" in w for w in collected.warnings), collected.warnings
    snapshot = store.latest_snapshot_id()
    assert snapshot is not None
    assert store.read_table("credentials", snapshot)["identity_uid"].isna().all()


def test_one_severity_order_everywhere() -> None:
    """Severity.rank is the order: the pack's severity table and OCSF's severity_id follow it."""
    from agentaudit.output.ocsf import SEVERITY_ID
    from agentaudit.output.packtables import SEVERITY_ORDER

    ranked = [s.value for s in sorted(Severity, key=lambda s: s.rank)]
    assert ranked == ["info", "low", "medium", "high", "critical"]
    assert list(SEVERITY_ORDER) == ranked[::-1]
    assert [SEVERITY_ID[s] for s in ranked] == [1, 2, 3, 4, 5]


def test_an_azure_file_without_a_tenant_folder_takes_no_other_folders_tenant(tmp_path: Path) -> None:
    tenant = "7d3c1e52-9a4b-4c1f-8e2d-5b6a7c8d9e01"
    sp = {
        "id": "00000000-0000-0000-0000-000000000001",
        "appId": "a1",
        "displayName": "svc",
        "servicePrincipalType": "Application",
        "appOwnerOrganizationId": tenant,
    }
    _write(tmp_path / tenant / "sp.json", [sp])
    vault = [{"id": "https://v.vault.azure.net/secrets/s1", "attributes": {"enabled": True}}]
    _write(tmp_path / "elsewhere" / "kv.json", vault)
    collected = read_exports(tmp_path)
    by_name = {s.name: s for s in collected.sources}
    assert by_name[str(Path("elsewhere") / "kv.json")].status is SourceStatus.FAILED
    assert "folder named by the tenant id" in str(by_name[str(Path("elsewhere") / "kv.json")].error)
    assert by_name[str(Path("elsewhere") / "kv.json")].provider == "azure"


def test_every_shape_declares_a_provider_and_an_input_kind_of_that_provider() -> None:
    sniff([])  # loads the parser modules
    assert len(SHAPES) >= 13
    for shape in SHAPES.values():
        assert shape.provides.provider in (None, shape.provider), shape.name


ABOVE_MODEL = ("collectors", "controls", "output", "pipeline", "cli", "config")
# Stages import downward only: cli -> pipeline -> output/controls -> model <- collectors.
BANNED_IMPORTS = {
    "controls": ("collectors", "output", "pipeline", "cli"),
    "model": ABOVE_MODEL,
    "collectors": ("controls", "output", "pipeline", "cli"),
    "output": ("collectors", "pipeline", "cli"),
    "pipeline.py": ("cli",),
    # The foundations every stage uses import no stage.
    "config.py": ABOVE_MODEL[:-1],
    "errors.py": (*ABOVE_MODEL, "model"),
    "safeyaml.py": (*ABOVE_MODEL, "model"),
}


def imported_modules(path: Path, root: Path = ROOT) -> list[str]:
    """Every module a source file imports, anywhere in it (inside functions too), with relative
    imports resolved against the file's own package."""
    package = list(path.relative_to(root).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found += [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
    return found


def test_stages_import_downward_only() -> None:
    """controls never import collectors; model imports nothing above it; collectors nothing of
    controls/output; nothing below the CLI imports it."""
    problems = []
    for stage, banned in BANNED_IMPORTS.items():
        prefixes = tuple(f"agentaudit.{b}" for b in banned)
        target = ROOT / "agentaudit" / stage
        for path in sorted(target.rglob("*.py")) if target.is_dir() else [target]:
            problems += [
                f"{path.relative_to(ROOT)} imports {name}"
                for name in imported_modules(path)
                if name.startswith(prefixes) and name.split(".")[1] in banned
            ]
    assert problems == []


def test_the_import_walk_sees_relative_and_nested_imports(tmp_path: Path) -> None:
    """The walk above must not miss what Python would import: a relative import two packages up,
    or one inside a function."""
    probe = tmp_path / "agentaudit" / "controls" / "checks" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from ...collectors import aws_policy\ndef f():\n    from ..context import result\n")
    assert imported_modules(probe, tmp_path) == ["agentaudit.collectors", "agentaudit.controls.context"]


@pytest.mark.parametrize(("saved", "expected"), [(True, "pass"), (False, "fail"), (None, "manual")])
def test_saved_trail_status_decides_data_access_logging(tmp_path: Path, saved: bool | None, expected: str) -> None:
    """describe-trails has no IsLogging; get-trail-status (saved as trail-status/NAME.json, the
    documented response shape) supplies it. Without it the verdict is manual, never pass."""
    account = tmp_path / "exports" / "111122223333"
    role = _role("111122223333", "worker")
    _write(
        account / "iam.json", {"RoleDetailList": [role], "UserDetailList": [], "GroupDetailList": [], "Policies": []}
    )
    arn = "arn:aws:cloudtrail:eu-west-1:111122223333:trail/audit"
    _write(account / "trails.json", {"trailList": [{"Name": "audit", "TrailARN": arn, "HomeRegion": "eu-west-1"}]})
    selectors = {
        "TrailARN": arn,
        "EventSelectors": [{"DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}],
    }
    _write(account / "selectors.json", selectors)
    if saved is not None:
        status = json.loads((ROOT / "tests" / "data" / "aws" / "get-trail-status.json").read_text())
        _write(account / "trail-status" / "audit.json", {**status, "IsLogging": saved})
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    pipeline.collect(tmp_path / "exports", store, load_config(None))
    findings = pipeline.check(store, load_config(None), AS_OF).evaluation.findings
    assert status_of(findings, "MON-002", "aws-account:111122223333") == expected


def test_documented_exports_decide_only_what_they_show(tmp_path: Path) -> None:
    """The documented describe-trails, get-event-selectors and credential report (tests/data/aws),
    read as saved exports: a trail whose logging state and selectors were not saved is no pass, and
    a user the report does not list gets no verdict on keys or console."""
    data, account = ROOT / "tests" / "data" / "aws", "123456789012"
    folder = tmp_path / "exports" / account
    folder.mkdir(parents=True)
    for name in ("describe-trails.json", "get-event-selectors.json", "get-credential-report.json"):
        shutil.copy(data / name, folder / name)
    # Trail2 records data events (the documented basic selectors); whether it is logging is unknown.
    trail2 = json.loads((data / "event-selectors-basic.json").read_text())
    _write(
        folder / "trail2-selectors.json", {**trail2, "TrailARN": f"arn:aws:cloudtrail:us-east-1:{account}:trail/Trail2"}
    )
    users = [{"UserName": n, "UserId": f"AIDA{n.upper()}", "Arn": f"arn:aws:iam::{account}:user{p}{n}", "Path": p,
              "CreateDate": "2024-01-05T09:59:12Z", "UserPolicyList": [], "AttachedManagedPolicies": [],
              "GroupList": []}
             for n, p in (("ci-deployer", "/"), ("alice", "/division_abc/subdivision_xyz/"), ("bob", "/"))]  # fmt: skip
    _write(folder / "iam.json", {"UserDetailList": users, "RoleDetailList": [], "GroupDetailList": [], "Policies": []})
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    pipeline.collect(tmp_path / "exports", store, load_config(None))
    findings = pipeline.check(store, load_config(None), AS_OF).evaluation.findings
    uid = {u["UserName"]: f"aws:{account}:{u['Arn']}" for u in users}
    assert status_of(findings, "MON-002", f"aws-account:{account}") == "manual"  # Trail2's IsLogging unknown
    assert [status_of(findings, "LC-009", uid[n]) for n in ("ci-deployer", "alice", "bob")] == ["fail", "pass", "error"]
    assert [status_of(findings, "ACC-007", uid[n]) for n in ("ci-deployer", "alice", "bob")] == [
        "pass",
        "fail",
        "error",
    ]


def test_keys_of_a_user_whose_iam_details_were_not_read_do_not_stop_the_check(tmp_path: Path) -> None:
    """The documented credential report alone (authorization details not saved, or failed): LC-007
    counted keys per holder and reported a holder that is no collected identity, a result without
    a subject that the store refused (NOT NULL subject_type), so the whole check failed."""
    folder = tmp_path / "exports" / "123456789012"
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "data" / "aws" / "get-credential-report.json", folder)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    pipeline.collect(tmp_path / "exports", store, load_config(None))
    findings = pipeline.check(store, load_config(None), AS_OF).evaluation.findings
    holder = "aws:123456789012:arn:aws:iam::123456789012:user/ci-deployer"
    assert holder not in set(findings.loc[findings["control_id"] == "LC-007", "subject_uid"])
    keys = findings[findings["subject_uid"].str.startswith(holder + "#")]
    assert set(keys["subject_type"]) == {"credential"} and len(keys) > 0


def test_a_check_reporting_on_something_outside_its_subjects_stops_naming_the_control(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such a result has no provider or account, so no need could apply to it: never let it through."""
    load_builtin_checks()
    monkeypatch.setitem(CHECKS, "OWN-002", lambda ctx: result(["aws:1:nobody"], [Status.PASS], [{}]))
    with pytest.raises(InvalidSubjectError, match=r"control OWN-002: .*aws:1:nobody"):
        evaluate_records(tmp_path, identities=[identity("r")])


def test_a_user_the_credential_report_does_not_list_gets_no_verdict_on_keys_or_console(tmp_path: Path) -> None:
    """The report is cached for up to four hours: a newer user is missing from a complete report."""
    listed = identity("old", kind="aws_iam_user", native_id="arn:aws:iam::111122223333:user/old",
                      last_used_signal="iam:credential_report")  # fmt: skip
    unlisted = identity("new", kind="aws_iam_user", native_id="arn:aws:iam::111122223333:user/new",
                        last_used_signal=None, last_used=None)  # fmt: skip
    findings = evaluate_records(tmp_path, identities=[listed, unlisted])
    for control in ("LC-009", "ACC-007", "MON-001"):
        assert status_of(findings, control, listed.uid) == "pass", control
        assert status_of(findings, control, unlisted.uid) == "error", control


def test_a_policy_whose_document_was_not_exported_is_manual_not_pass(tmp_path: Path) -> None:
    from agentaudit.model.records import Grant

    role = identity("role")
    blind = Grant(role.uid, "Allow", (), (), "arn:aws:iam::111122223333:policy/Everything", "managed_policy",
                  resolved=False)  # fmt: skip
    findings = evaluate_records(tmp_path, identities=[role], grants=[blind])
    for control in ("ACC-001", "ACC-003", "ACC-004"):
        assert status_of(findings, control, role.uid) == "manual", control


def test_failed_region_listing_leaves_every_regional_input_incomplete_for_that_account() -> None:
    now = datetime.now(UTC)
    rows = [
        Source("s", "secretsmanager_secrets", "aws", "111111111111", "s", now, now, SourceStatus.COMPLETE),
        Source("i", "iam_authorization_details", "aws", "111111111111", "i", now, now, SourceStatus.COMPLETE),
        Source("r", "aws_regions", "aws", "111111111111", "r", now, now, SourceStatus.FAILED),
    ]
    frame = pd.DataFrame([{"kind": s.kind, "account": s.account, "status": s.status.value} for s in rows])
    coverage = Coverage.of(frame)
    assert not coverage.has(Input.SECRETS, "111111111111")
    assert coverage.has(Input.IAM, "111111111111")


def test_lookalike_outputs_are_not_taken_for_the_shapes_agentaudit_reads() -> None:
    pem = {"Certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "CertificateChain": ""}
    list_policies = {"Policies": [{"PolicyName": "p", "Arn": "arn:aws:iam::aws:policy/p", "DefaultVersionId": "v1"}]}
    assert sniff(pem) is None  # `acm get-certificate`, not describe-certificate
    assert sniff(list_policies) is None  # `iam list-policies`, not authorization details
    details = {"Policies": [{"PolicyName": "p", "Arn": "arn", "PolicyVersionList": []}]}
    assert (found := sniff(details)) is not None and found.name == "iam_authorization_details"


def test_key_vault_file_beside_its_tenants_principals_is_read_whatever_the_names(tmp_path: Path) -> None:
    tenant = "7d3c1e52-9a4b-4c1f-8e2d-5b6a7c8d9e01"
    sp = {"id": "00000000-0000-0000-0000-000000000001", "appId": "a1", "displayName": "svc",
          "servicePrincipalType": "Application", "appOwnerOrganizationId": tenant}  # fmt: skip
    _write(tmp_path / "entra" / "sp.json", [sp])
    _write(tmp_path / "entra" / "a-vault.json", [{"id": "https://v.vault.azure.net/secrets/s1", "attributes": {}}])
    collected = read_exports(tmp_path)
    vault = next(s for s in collected.sources if s.name.endswith("a-vault.json"))
    assert vault.status is SourceStatus.COMPLETE and vault.account == tenant


def test_an_arn_names_its_identity_in_any_account_a_name_only_in_its_own() -> None:
    from agentaudit.model.identity import IdentityIndex

    a, b = identity("worker", account="111111111111"), identity("worker", account="222222222222")
    index = IdentityIndex.of([a, b])
    assert index.resolve(b.native_id.upper(), "aws", "111111111111").uid == b.uid
    assert index.resolve("Worker", "aws", "111111111111").uid == a.uid
    unsure = index.resolve("worker")
    assert unsure.uid is None and unsure.ambiguous and set(unsure.candidates) == {a.uid, b.uid}
    assert index.resolve("worker", "aws", "333333333333").candidates == tuple(sorted([a.uid, b.uid]))
