"""Regenerate the bundled sample estate of Halcyon Freight (fictional): two AWS accounts, one tenant.

Run from the repository root: `python scripts/make_sample_estate.py`. Deterministic: the same
files every time. The planted gaps are listed in PLANTED, which the tests read back.
"""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentaudit.examples import azure_builder as az
from agentaudit.examples import builder as b

ROOT = Path(__file__).resolve().parents[1] / "agentaudit" / "examples"
EST = ROOT / "sample_estate"
AS_OF = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PROD, DEV = "111122223333", "444455556666"
TENANT = "7d3c1e52-9a4b-4c1f-8e2d-5b6a7c8d9e01"
SUB = "3f2a1b0c-4d5e-6f70-8192-a3b4c5d6e7f8"
MS_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
rng = random.Random(20261120)


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def ahead(days: float) -> datetime:
    return AS_OF + timedelta(days=days)


PEOPLE = [
    ("ana.silva@halcyon.example", "Ana Silva", "active", "cto@halcyon.example"),
    ("ben.okafor@halcyon.example", "Ben Okafor", "active", "ana.silva@halcyon.example"),
    ("chen.wei@halcyon.example", "Chen Wei", "active", "ana.silva@halcyon.example"),
    ("dana.leaver@halcyon.example", "Dana Leaver", "leaver", "ana.silva@halcyon.example"),
    ("eli.moreau@halcyon.example", "Eli Moreau", "active", "ben.okafor@halcyon.example"),
    ("fatima.rahman@halcyon.example", "Fatima Rahman", "active", "ben.okafor@halcyon.example"),
    ("gus.departed@halcyon.example", "Gus Departed", "terminated", "chen.wei@halcyon.example"),
    ("hana.ito@halcyon.example", "Hana Ito", "active", "chen.wei@halcyon.example"),
    ("cto@halcyon.example", "Iris Novak", "active", ""),
]
ACTIVE = ["ana.silva", "ben.okafor", "chen.wei", "eli.moreau", "fatima.rahman", "hana.ito"]

PLANTED = {
    "agent_without_business_owner": "route-planner",
    "agent_owned_by_leaver": "kb-ingest-agent",
    "accepted_risk_agent": "invoice-reader",  # OWN-004 accepted until 2027-01-15 (owner handover)
    "expired_acceptance_agent": "ops-copilot",  # PUR-001 acceptance expired 2026-10-31: fails again
    "agent_without_purpose": "ops-copilot",
    "agent_without_profile": "pricing-agent",
    "admin_agent_role": "lc-research-worker",
    "admin_role": "legacy-etl-admin",
    "wildcard_role": "data-sync-role",
    "drift_role": "AmazonBedrockExecutionRoleForAgents_refunds",
    "privesc_role": "ci-deployer",
    "stale_key_user": "svc-legacy-billing",
    "two_keys_user": "svc-reporting",
    "console_user": "svc-shared-admin",
    "unused_role": "old-batch-runner",
    "unused_key_user": "svc-unused",
    "open_trust_role": "partner-integration",
    "oidc_trust_role": "github-deployer",
    "expired_certificate": "api-legacy.halcyon.example",
    "expiring_certificate": "partners.halcyon.example",
    "secret_rotation_off": "prod/payments/stripe-api-key",
    "expired_client_secret_app": "hr-sync",
    "expiring_client_secret_app": "fleet-telemetry",
    "long_lived_client_secret_app": "crm-connector",
    "keyvault_secret_without_expiry": "hal-prod-kv/db-admin-password",
    "ungated_tool": "issue_refund",
    "ungated_email_tool": "send_customer_email",
    "unknown_tool_schema": "s3://halcyon-agent-schemas/dispatch.yaml",
    "azure_owner_agent": "claims-triage-agent",
    "unmatched_register_entry": "retired-chatbot",
    "clean_agent": "support-assistant",
    "clean_role": "orders-api",
    "account_without_data_events": "444455556666",
    "shared_execution_role": "AmazonBedrockExecutionRoleForAgents_evalharness",  # also docs-helper's role
    "cross_environment_role": "staging-data-loader",  # a DEV role writing a PROD table (OWASP NHI8)
    "agent_without_guardrail": "ops-copilot",
    "confused_deputy_role": "old-batch-runner",  # trusts lambda.amazonaws.com without aws:SourceAccount
    "open_secret_policy": "prod/payments/stripe-api-key",
    "weak_certificate_key": "api-legacy.halcyon.example",
    "secret_rotation_not_done": "prod/app/carrier-sftp",  # rotation on, last rotated 200 days ago
    "certificate_without_owner": "track.halcyon.example",  # its tags name a purpose, no owner (OWN-005)
    "certificate_owner_left": "partners.halcyon.example",  # owner tag names a leaver (OWN-006)
    "runtime_env_secret": "quote_runtime",  # AgentCore runtime with CARRIER_API_TOKEN in its environment (AGC-001)
    "gateway_not_enforcing": "dispatch-tools",  # AgentCore gateway whose policy engine only logs (AGC-003)
    "directory_admin_app": "shadow-automation",  # Application Administrator tenant-wide (ACC-012)
    "unused_entra_app": "legacy-sftp",  # last signed in 200 days ago (ACC-005 from sign-in activity)
}
# Built-in Entra directory roles, by the template id Microsoft documents (Entra built-in roles reference).
APPLICATION_ADMINISTRATOR = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
DIRECTORY_READERS = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
AGENTCORE_TRUST = b.policy_doc(
    {
        "Effect": "Allow",
        "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": "111122223333"},
            "ArnLike": {"aws:SourceArn": "arn:aws:bedrock-agentcore:eu-west-1:111122223333:*"},
        },
    }
)

ROLE_LAMBDA = b.trust_service("lambda.amazonaws.com", PROD)
ROLE_ECS = b.trust_service("ecs-tasks.amazonaws.com", PROD)
BEDROCK_TRUST = b.policy_doc(
    {
        "Effect": "Allow",
        "Principal": {"Service": "bedrock.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": PROD}},
    }
)
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def owner_tags(business: str | None, identity: str | None = None, **more: str) -> dict[str, str]:
    tags = {"team": rng.choice(["logistics", "finance", "platform", "data"]), "env": "prod"}
    if business:
        tags["business-owner"] = f"{business}@halcyon.example"
    if identity:
        tags["identity-owner"] = f"{identity}@halcyon.example"
    tags.update(more)
    return tags


# Bedrock agents: (id, name, description, functions, profile actions granted to the exec role)
AGENTS_PROD = [
    ("SUPPASST01", "support-assistant", "Answers order-status questions for customers",
     [("lookup_order", "Look up an order by id", "DISABLED"), ("escalate_to_human", "Hand over to an agent", "DISABLED"),
      ("cancel_order", "Cancel an order", "ENABLED")],
     ["dynamodb:GetItem", "dynamodb:Query", "bedrock:InvokeModel"]),
    ("REFUNDS001", "refunds", "Processes refund requests under 200 EUR",
     [("lookup_order", "Look up an order", "DISABLED"), ("issue_refund", "Refund a payment", "DISABLED"),
      ("send_customer_email", "Email the customer", "DISABLED")],
     ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:DeleteItem", "ses:SendEmail", "bedrock:InvokeModel"]),
    ("INVREAD001", "invoice-reader", "Extracts invoice lines from supplier PDFs",
     [("read_invoice", "Read an invoice from S3", "DISABLED")], ["s3:GetObject", "bedrock:InvokeModel"]),
    ("ROUTEPLN01", "route-planner", "Plans delivery routes",
     [("get_routes", "List routes", "DISABLED"), ("update_route", "Change a route", "ENABLED")],
     ["dynamodb:Query", "bedrock:InvokeModel"]),
    ("OPSCOPIL01", "ops-copilot", None,
     [("get_alarms", "List CloudWatch alarms", "DISABLED")], ["cloudwatch:DescribeAlarms", "bedrock:InvokeModel"]),
    ("PRICING001", "pricing-agent", "Suggests spot freight prices",
     [("get_rates", "Read rate cards", "DISABLED")], ["dynamodb:Query", "bedrock:InvokeModel"]),
    ("DISPATCH01", "dispatch-agent", "Assigns drivers to loads", None, ["dynamodb:Query", "bedrock:InvokeModel"]),
    ("CUSTSURV01", "survey-summariser", "Summarises customer surveys",
     [("fetch_surveys", "Read survey answers", "DISABLED")], ["s3:GetObject", "bedrock:InvokeModel"]),
    ("CARRIER001", "carrier-onboarding", "Checks carrier documents",
     [("verify_document", "Verify a document", "DISABLED"), ("approve_carrier", "Approve a carrier", "ENABLED")],
     ["s3:GetObject", "bedrock:InvokeModel"]),
    ("CLAIMSAG01", "damage-claims", "Drafts damage claim assessments",
     [("get_claim", "Read a claim", "DISABLED"), ("pay_claim", "Pay a claim", "ENABLED")],
     ["dynamodb:GetItem", "bedrock:InvokeModel"]),
]  # fmt: skip
AGENTS_DEV = [
    ("DEVTEST001", "support-assistant-dev", "Dev copy of the support assistant",
     [("lookup_order", "Look up an order", "DISABLED")], ["dynamodb:Query", "bedrock:InvokeModel"]),
    ("DEVEXPR001", "eval-harness", "Runs prompt evaluations",
     [("write_results", "Write evaluation results", "DISABLED")], ["s3:PutObject", "bedrock:InvokeModel"]),
    ("DEVDOCS001", "docs-helper", "Answers engineering documentation questions",
     [("search_docs", "Search docs", "DISABLED")], ["bedrock:Retrieve", "bedrock:InvokeModel"]),
]  # fmt: skip


def aws_account(account: str, agents: list, n_roles: int, n_users: int) -> dict:
    roles, users, policies, report, secrets = [], [], [], [], []
    folder = EST / "aws" / account
    for agent_id, name, description, functions, actions in agents:
        role_name = (
            f"AmazonBedrockExecutionRoleForAgents_{name.replace('-', '')}"
            if name != "refunds"
            else PLANTED["drift_role"]
        )
        role_arn = f"arn:aws:iam::{account}:role/service-role/{role_name}"
        roles.append(
            b.role(account, role_name, ago(rng.randint(120, 500)), BEDROCK_TRUST,
                   inline={"agent-access": b.policy_doc(b.statement(actions, f"arn:aws:*:eu-west-1:{account}:*"))},
                   last_used=ago(rng.randint(0, 5)), path="/service-role/")
        )  # fmt: skip
        guardrail = None if name == PLANTED["agent_without_guardrail"] else f"gr-{agent_id.lower()}"
        b.write(folder / "bedrock" / agent_id / "get-agent.json",
                b.bedrock_agent(account, agent_id, name, role_arn, ago(rng.randint(60, 400)), description, guardrail))  # fmt: skip
        groups = []
        if functions is not None:
            gid = f"AG{agent_id[:8]}"
            groups.append((gid, f"{name}-actions"))
            b.write(folder / "bedrock" / agent_id / "action-groups" / f"{gid}.json",
                    b.action_group(account, agent_id, gid, f"{name}-actions", functions, created=ago(30)))  # fmt: skip
        else:
            gid = f"AS{agent_id[:8]}"
            groups.append((gid, f"{name}-api"))
            b.write(folder / "bedrock" / agent_id / "action-groups" / f"{gid}.json",
                    b.action_group(account, agent_id, gid, f"{name}-api", None,
                                   s3_schema=("halcyon-agent-schemas", "dispatch.yaml"), created=ago(30)))  # fmt: skip
        b.write(folder / "bedrock" / agent_id / "list-agent-action-groups.json", b.action_group_list(groups, ago(30)))
        # The agent's own tags (list-tags-for-resource): owners live in the register in this sample.
        b.write(
            folder / "bedrock" / agent_id / "list-tags-for-resource.json",
            {"tags": {"env": "prod" if account == PROD else "dev"}},
        )
    for i in range(n_roles):
        service = rng.choice(["orders", "billing", "tracking", "fleet", "warehouse", "customs", "returns", "pricing"])
        name = f"{service}-{rng.choice(['lambda', 'worker', 'sync', 'api', 'job'])}-{i:02d}"
        table = f"arn:aws:dynamodb:eu-west-1:{account}:table/{service}"
        owner = rng.choice(ACTIVE)
        roles.append(
            b.role(account, name, ago(rng.randint(100, 900)),
                   rng.choice([b.trust_service("lambda.amazonaws.com", account), b.trust_service("ecs-tasks.amazonaws.com", account)]),
                   inline={"app": b.policy_doc(b.statement(["dynamodb:GetItem", "dynamodb:PutItem"], table))},
                   tags=owner_tags(owner, owner), last_used=ago(rng.randint(0, 40)))
        )  # fmt: skip
    for i in range(n_users):
        name = f"svc-integration-{i:02d}"
        created = ago(rng.randint(30, 600))
        users.append(b.user(account, name, created, inline={"put": b.policy_doc(b.statement("s3:PutObject", f"arn:aws:s3:::halcyon-drop-{i}/*"))},
                            tags=owner_tags(None, rng.choice(ACTIVE))))  # fmt: skip
        rotated = ago(rng.randint(5, 80))
        report.append(b.report_row(account, name, created, [(True, rotated, ago(rng.randint(0, 10)))]))
    for i in range(8 if account == PROD else 4):
        name = f"{'prod' if account == PROD else 'dev'}/app/{rng.choice(['db', 'queue', 'api', 'smtp'])}-{i}"
        secrets.append(b.secret(account, name, ago(400), rotation=30, last_rotated=ago(rng.randint(1, 29)),
                                last_accessed=ago(1), tags={"owner": f"{rng.choice(ACTIVE)}@halcyon.example"}))  # fmt: skip
    return {
        "roles": roles,
        "users": users,
        "policies": policies,
        "report": report,
        "secrets": secrets,
        "folder": folder,
    }


def plant_aws_prod(acc: dict) -> None:
    roles, users, policies, report, secrets = acc["roles"], acc["users"], acc["policies"], acc["report"], acc["secrets"]
    ecs = ROLE_ECS
    roles += [
        b.role(PROD, "orders-api", ago(300), ROLE_LAMBDA,
               inline={"orders": b.policy_doc(b.statement(["dynamodb:GetItem", "dynamodb:Query"], f"arn:aws:dynamodb:eu-west-1:{PROD}:table/orders"))},
               tags=owner_tags("ben.okafor", "eli.moreau"), last_used=ago(0.2)),
        b.role(PROD, "lc-research-worker", ago(200), ecs, managed=[ADMIN],
               tags=owner_tags("chen.wei", "chen.wei", **{"ai-agent": "true", "purpose": "LangChain market research agent"}), last_used=ago(1)),
        b.role(PROD, "legacy-etl-admin", ago(1200), ROLE_LAMBDA, managed=[ADMIN], tags=owner_tags("dana.leaver", "dana.leaver"), last_used=ago(3)),
        b.role(PROD, "data-sync-role", ago(500), ROLE_LAMBDA, inline={"sync": b.policy_doc(b.statement("s3:*", "*"))},
               tags=owner_tags("fatima.rahman", "fatima.rahman"), last_used=ago(2)),
        b.role(PROD, "ci-deployer", ago(700), ecs,
               inline={"deploy": b.policy_doc(b.statement(["iam:PassRole", "lambda:UpdateFunctionCode"], "*"))},
               tags=owner_tags("hana.ito", "hana.ito"), last_used=ago(1)),
        b.role(PROD, "old-batch-runner", ago(900), b.trust_service("lambda.amazonaws.com"), inline={"batch": b.policy_doc(b.statement("sqs:ReceiveMessage", f"arn:aws:sqs:eu-west-1:{PROD}:batch"))},
               tags=owner_tags("ben.okafor", "ben.okafor"), last_used=ago(300)),
        b.role(PROD, "partner-integration", ago(400),
               b.policy_doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}),
               inline={"read": b.policy_doc(b.statement("s3:GetObject", "arn:aws:s3:::halcyon-partner-share/*"))},
               tags=owner_tags("eli.moreau", "eli.moreau"), last_used=ago(4)),
        b.role(PROD, "github-deployer", ago(250),
               b.policy_doc({"Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{PROD}:oidc-provider/token.actions.githubusercontent.com"},
                             "Action": "sts:AssumeRoleWithWebIdentity"}),
               inline={"deploy": b.policy_doc(b.statement(["s3:PutObject"], "arn:aws:s3:::halcyon-site/*"))},
               tags=owner_tags("hana.ito", "hana.ito"), last_used=ago(1)),
        b.role(PROD, "AWSServiceRoleForSupport", ago(1500), b.trust_service("support.amazonaws.com"),
               managed=["arn:aws:iam::aws:policy/aws-service-role/AWSSupportServiceRolePolicy"], path="/aws-service-role/support.amazonaws.com/",
               last_used=ago(10)),
        b.role(PROD, "AWSServiceRoleForOrganizations", ago(1500), b.trust_service("organizations.amazonaws.com"),
               managed=["arn:aws:iam::aws:policy/aws-service-role/AWSOrganizationsServiceTrustPolicy"],
               path="/aws-service-role/organizations.amazonaws.com/"),
        b.role(PROD, "AgentCoreRuntimeRole-quote", ago(40), AGENTCORE_TRUST,
               inline={"runtime": b.policy_doc(
                   b.statement(["bedrock-agentcore:GetWorkloadAccessToken", "bedrock-agentcore:GetWorkloadAccessTokenForJWT"],
                               f"arn:aws:bedrock-agentcore:eu-west-1:{PROD}:workload-identity-directory/default*"),
                   b.statement(["bedrock:InvokeModel"], "arn:aws:bedrock:eu-west-1::foundation-model/*"))},
               tags={"business-owner": "ben.okafor@halcyon.example", "identity-owner": "ben.okafor@halcyon.example"},
               last_used=ago(0.5)),
        b.role(PROD, "AgentCoreGatewayRole-dispatch", ago(40), AGENTCORE_TRUST,
               inline={"gateway": b.policy_doc(
                   b.statement(["bedrock-agentcore:GetWorkloadAccessToken", "bedrock-agentcore:GetResourceOauth2Token"],
                               f"arn:aws:bedrock-agentcore:eu-west-1:{PROD}:*"),
                   b.statement(["lambda:InvokeFunction"], f"arn:aws:lambda:eu-west-1:{PROD}:function:dispatch-*"))},
               tags={"business-owner": "hana.ito@halcyon.example", "identity-owner": "hana.ito@halcyon.example"},
               last_used=ago(0.5)),
        b.role(PROD, "quote-agent-worker", ago(90), ecs, inline={"q": b.policy_doc(b.statement(["bedrock:InvokeModel"], "*"))},
               tags=owner_tags("ben.okafor", "ben.okafor", **{"ai-agent": "yes", "purpose": "Drafts freight quotes", "approved-profile": "quote-drafting"}),
               last_used=ago(0.5)),
        b.role(PROD, "email-triage-worker", ago(60), ecs,
               inline={"mail": b.policy_doc(b.statement(["ses:SendEmail", "s3:GetObject"], "*"))},
               tags=owner_tags(None, "fatima.rahman", **{"ai-agent": "true"}), last_used=ago(0.1)),
        b.role(PROD, "sagemaker-forecaster", ago(150), b.trust_service("sagemaker.amazonaws.com"), managed=[READONLY],
               tags=owner_tags("chen.wei", "chen.wei", purpose="Demand forecasting model"), last_used=ago(2)),
        b.role(PROD, "kb-ingest-agent", ago(45), ecs, inline={"kb": b.policy_doc(b.statement(["bedrock:Retrieve", "s3:GetObject"], "*"))},
               tags=owner_tags("gus.departed", "gus.departed", **{"ai-agent": "true", "purpose": "Indexes documents into the knowledge base"}), last_used=ago(1)),
    ]  # fmt: skip
    policies.append(
        b.managed_policy(
            PROD, "halcyon-readonly-s3", b.policy_doc(b.statement(["s3:GetObject", "s3:ListBucket"], "*")), ago(800)
        )
    )
    roles[-1]["AttachedManagedPolicies"].append(
        {"PolicyName": "halcyon-readonly-s3", "PolicyArn": f"arn:aws:iam::{PROD}:policy/halcyon-readonly-s3"}
    )
    users += [
        b.user(PROD, "svc-legacy-billing", ago(1400), inline={"billing": b.policy_doc(b.statement("s3:PutObject", "arn:aws:s3:::halcyon-billing/*"))},
               tags=owner_tags(None, "ben.okafor")),
        b.user(PROD, "svc-reporting", ago(700), managed=[READONLY], tags=owner_tags(None, "chen.wei")),
        b.user(PROD, "svc-shared-admin", ago(900), managed=[ADMIN], tags=owner_tags(None, "dana.leaver")),
        b.user(PROD, "svc-unused", ago(200), inline={"q": b.policy_doc(b.statement("sqs:SendMessage", f"arn:aws:sqs:eu-west-1:{PROD}:legacy"))}),
    ]  # fmt: skip
    report += [
        b.report_row(PROD, "svc-legacy-billing", ago(1400), [(True, ago(400), ago(1))]),
        b.report_row(PROD, "svc-reporting", ago(700), [(True, ago(60), ago(1)), (True, ago(50), ago(2))]),
        b.report_row(
            PROD, "svc-shared-admin", ago(900), [(True, ago(30), ago(3))], password=True, password_used=ago(2)
        ),
        b.report_row(PROD, "svc-unused", ago(200), [(True, ago(200), None)]),
    ]
    secrets += [
        b.secret(PROD, "prod/payments/stripe-api-key", ago(700), last_accessed=ago(1), tags={"owner": "ben.okafor@halcyon.example"}),
        b.secret(PROD, "prod/agents/refunds-payment-token", ago(100), rotation=180, last_rotated=ago(100), last_accessed=ago(2),
                 tags={"agent-identity": "refunds"}),
        b.secret(PROD, PLANTED["secret_rotation_not_done"], ago(500), rotation=30, last_rotated=ago(200), last_accessed=ago(1),
                 tags={"owner": "hana.ito@halcyon.example", "purpose": "Carrier document drop"}),
    ]  # fmt: skip


def write_aws(acc: dict, account: str) -> None:
    folder = acc["folder"]
    b.write(
        folder / "iam-authorization-details.json", b.authorization_details(acc["users"], acc["roles"], acc["policies"])
    )
    b.write(folder / "credential-report.json", b.credential_report(acc["report"], AS_OF - timedelta(hours=2)))
    b.write(folder / "secretsmanager-list-secrets.json", {"SecretList": acc["secrets"]})
    for item in acc["secrets"]:  # get-resource-policy per secret; one planted policy open to anyone
        document = None
        if item["Name"] == PLANTED["open_secret_policy"]:
            document = b.policy_doc(
                {"Sid": "PartnerRead", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "secretsmanager:GetSecretValue",
                 "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
            )  # fmt: skip
        safe = item["Name"].replace("/", "_")
        b.write(folder / "secretsmanager" / "get-resource-policy" / f"{safe}.json", b.secret_policy(item, document))
    if account == PROD:
        agentcore(folder / "eu-west-1" / "bedrock-agentcore")
    # Production records S3 and DynamoDB data events; development records management events only.
    audit = b.trail(account, "org-audit" if account == PROD else "dev-mgmt", "eu-west-1")
    b.write(folder / "cloudtrail" / "describe-trails.json", {"trailList": [audit]})
    b.write(folder / "cloudtrail" / "trail-status" / f"{audit['Name']}.json", b.trail_status(logging=True))
    data_types = ["AWS::S3::Object", "AWS::DynamoDB::Table"] if account == PROD else []
    b.write(folder / "cloudtrail" / "get-event-selectors.json", b.event_selectors(audit["TrailARN"], data_types))
    if account == PROD:
        certs = [
            ("1a2b3c4d-0001-4e5f-8a9b-000000000001", "www.halcyon.example", ago(200), ahead(195), ["arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/1"]),
            ("1a2b3c4d-0002-4e5f-8a9b-000000000002", "api-legacy.halcyon.example", ago(420), ago(25), ["arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/legacy/2"]),
            ("1a2b3c4d-0003-4e5f-8a9b-000000000003", "partners.halcyon.example", ago(383), ahead(12), ["arn:aws:cloudfront::111122223333:distribution/E2EXAMPLE"]),
            ("1a2b3c4d-0004-4e5f-8a9b-000000000004", "track.halcyon.example", ago(30), ahead(365), []),
        ]  # fmt: skip
        # `aws acm list-tags-for-certificate` per certificate, saved as acm/<id>.tags.json (the output
        # names no certificate: the id comes from the file name).
        cert_tags = {
            "www.halcyon.example": {"owner": "ana.silva@halcyon.example", "purpose": "public web site TLS"},
            "api-legacy.halcyon.example": {"owner": "ben.okafor@halcyon.example", "purpose": "legacy partner API TLS"},
            PLANTED["certificate_owner_left"]: {
                "owner": "dana.leaver@halcyon.example",
                "purpose": "partner portal TLS",
            },
            PLANTED["certificate_without_owner"]: {"purpose": "parcel tracking site TLS"},
        }
        for cert_id, domain, start, end, in_use in certs:
            key = "RSA_1024" if domain == PLANTED["weak_certificate_key"] else "RSA_2048"
            b.write(folder / "acm" / f"{cert_id}.json", b.certificate(PROD, cert_id, domain, start, end, in_use, key))
            b.write(folder / "acm" / f"{cert_id}.tags.json", {"Tags": b.aws_tags(cert_tags[domain])})


def agentcore(folder: Path) -> None:
    """A small Bedrock AgentCore estate: one runtime, one gateway with one tool (saved
    `bedrock-agentcore-control get-…` outputs and their tag lists, named by resource id)."""
    arn = f"arn:aws:bedrock-agentcore:eu-west-1:{PROD}"
    runtime_id, gateway_id = "quote_runtime-Qr7St9Uv1W", "dispatch-tools-k3l4m5n6o7"
    b.write(folder / "runtimes" / runtime_id / "get-agent-runtime.json", {
        "agentRuntimeArn": f"{arn}:runtime/{runtime_id}", "agentRuntimeName": PLANTED["runtime_env_secret"],
        "agentRuntimeId": runtime_id, "agentRuntimeVersion": "4", "createdAt": b.iso(ago(40)),
        "lastUpdatedAt": b.iso(ago(3)), "roleArn": f"arn:aws:iam::{PROD}:role/AgentCoreRuntimeRole-quote",
        "networkConfiguration": {"networkMode": "VPC"}, "status": "READY",
        "description": "Drafts freight quotes for the sales desk",
        "workloadIdentityDetails": {"workloadIdentityArn": f"{arn}:workload-identity-directory/default/workload-identity/quote"},
        "protocolConfiguration": {"serverProtocol": "HTTP"},
        "environmentVariables": {"LOG_LEVEL": "INFO", "CARRIER_API_TOKEN": "sample-not-a-secret"},
        "authorizerConfiguration": {"customJWTAuthorizer": {
            "discoveryUrl": "https://login.halcyon.example/.well-known/openid-configuration", "allowedClients": ["quote-ui"]}},
    })  # fmt: skip
    b.write(folder / "runtimes" / runtime_id / "list-tags-for-resource.json", {"tags": {
        "business-owner": "ben.okafor@halcyon.example", "identity-owner": "ben.okafor@halcyon.example",
        "control-owner": "eli.moreau@halcyon.example", "purpose": "Drafts freight quotes", "approved-profile": "agentcore-quote"}})  # fmt: skip
    b.write(folder / "gateways" / gateway_id / "get-gateway.json", {
        "gatewayArn": f"{arn}:gateway/{gateway_id}", "gatewayId": gateway_id,
        "gatewayUrl": f"https://{gateway_id}.gateway.bedrock-agentcore.eu-west-1.amazonaws.com/mcp",
        "createdAt": b.iso(ago(40)), "updatedAt": b.iso(ago(3)), "status": "READY", "name": PLANTED["gateway_not_enforcing"],
        "description": "Dispatch tools for the quote agent",
        "roleArn": f"arn:aws:iam::{PROD}:role/AgentCoreGatewayRole-dispatch", "protocolType": "MCP",
        "authorizerType": "CUSTOM_JWT",
        "policyEngineConfiguration": {"arn": f"{arn}:policy-engine/dispatch-pe", "mode": "LOG_ONLY"},
    })  # fmt: skip
    b.write(folder / "gateways" / gateway_id / "list-tags-for-resource.json", {"tags": {
        "business-owner": "hana.ito@halcyon.example", "identity-owner": "hana.ito@halcyon.example",
        "control-owner": "eli.moreau@halcyon.example", "purpose": "Dispatch tools for the quote agent",
        "approved-profile": "agentcore-dispatch-tools"}})  # fmt: skip
    # No credential providers in this account: the (empty) lists say so, so AGC-005 can judge the tool.
    b.write(folder / "identity" / "list-oauth2-credential-providers.json", {"credentialProviders": []})
    b.write(folder / "identity" / "list-api-key-credential-providers.json", {"credentialProviders": []})
    b.write(folder / "gateways" / gateway_id / "rates-target.json", {
        "gatewayArn": f"{arn}:gateway/{gateway_id}", "targetId": "RATESTGT01", "createdAt": b.iso(ago(40)),
        "updatedAt": b.iso(ago(3)), "status": "READY", "name": "carrier-rates", "description": "Looks up carrier rates",
        "targetConfiguration": {"mcp": {"lambda": {"lambdaArn": f"arn:aws:lambda:eu-west-1:{PROD}:function:dispatch-rates",
                                                   "toolSchema": {"inlinePayload": []}}}},
        "credentialProviderConfigurations": [{"credentialProviderType": "GATEWAY_IAM_ROLE"}],
    })  # fmt: skip


def azure_tenant() -> None:
    folder = EST / "azure" / TENANT
    sps, apps, assignments = [], [], []
    counter = iter(range(1, 10_000))

    def guid(prefix: str) -> str:
        return f"{prefix}{next(counter):04x}-1111-4222-8333-{rng.randrange(16**12):012x}"

    def add_app(name: str, secrets: list[tuple[datetime, datetime]], **sp_args: object) -> str:
        app_id, obj, app_obj = guid("a0a0"), guid("b0b0"), guid("c0c0")
        passwords = [az.graph_password(f"{name}-secret-{i}", guid("d0d0"), s, e) for i, (s, e) in enumerate(secrets)]
        apps.append(az.application(app_obj, app_id, name, secrets[0][0] if secrets else ago(300), passwords))
        sps.append(az.service_principal(obj, app_id, name, TENANT, **sp_args))  # type: ignore[arg-type]
        return obj

    ok = [(ago(40), ahead(140))]
    owners = {}
    for name in ["payroll-export", "erp-connector", "bi-refresh", "sharepoint-archiver", "teams-notifier",
                              "backup-orchestrator", "vendor-portal", "edi-gateway", "tms-sync", "analytics-loader",
                              "ticket-bot", "doc-scanner", "telematics-ingest", "customs-filer", "invoice-matcher",
                              "forecast-publisher", "hr-directory-sync", "gis-tiles", "expense-import", "audit-log-shipper"]:  # fmt: skip
        owner = rng.choice(ACTIVE)
        owners[name] = add_app(
            name, ok, tags=[f"identity-owner:{owner}@halcyon.example", "WindowsAzureActiveDirectoryIntegratedApp"]
        )
    owners["hr-sync"] = add_app("hr-sync", [(ago(400), ago(35))], tags=["identity-owner:ana.silva@halcyon.example"])
    owners["fleet-telemetry"] = add_app(
        "fleet-telemetry", [(ago(340), ahead(20))], tags=["identity-owner:hana.ito@halcyon.example"]
    )
    owners["crm-connector"] = add_app(
        "crm-connector", [(ago(30), ahead(700))], tags=["identity-owner:eli.moreau@halcyon.example"]
    )
    owners["legacy-sftp"] = add_app("legacy-sftp", [(ago(90), ahead(200))])
    owners["shadow-automation"] = add_app(
        "shadow-automation", [(ago(10), ahead(80))], tags=["identity-owner:gus.departed@halcyon.example"]
    )
    for name in [
        "aks-kubelet",
        "func-orders",
        "logic-app-edi",
        "vm-backup",
        "adf-pipelines",
        "apim-gateway",
        "webapp-portal",
        "automation-runbooks",
    ]:
        sps.append(az.service_principal(guid("e0e0"), guid("f0f0"), name, None, sp_type="ManagedIdentity",
                                       tags=[f"identity-owner:{rng.choice(ACTIVE)}@halcyon.example"]))  # fmt: skip
    agent_specs = [
        ("claims-triage-agent", ["fatima.rahman@halcyon.example"], "Triages insurance claims"),
        ("dispatch-copilot", ["ben.okafor@halcyon.example"], "Suggests dispatch changes to planners"),
        ("contract-reviewer", [], None),
        ("procurement-agent", ["dana.leaver@halcyon.example"], "Raises purchase orders under 1,000 EUR"),
        ("helpdesk-agent", ["hana.ito@halcyon.example"], "Resets passwords after approval"),
        ("translation-agent", ["chen.wei@halcyon.example"], "Translates customs documents"),
    ]
    for name, sponsors, notes in agent_specs:
        obj = guid("a9e0")
        sps.append(az.service_principal(obj, guid("a9e1"), name, TENANT, sp_type="ServiceIdentity",
                                       odata_type="#microsoft.graph.agentIdentity", notes=notes, sponsors=sponsors,
                                       blueprint="5e1b0c2d-1111-4222-8333-444455556666"))  # fmt: skip
        owners[name] = obj
    for name in [
        "Microsoft Graph",
        "Office 365 Exchange Online",
        "Azure Portal",
        "Microsoft Teams Services",
        "Windows Azure Service Management API",
    ]:
        sps.append(az.service_principal(guid("0ff1"), guid("0ff2"), name, MS_TENANT, tags=[]))
    sub_scope = f"/subscriptions/{SUB}"
    rg = f"{sub_scope}/resourceGroups/rg-claims"
    grants = [
        ("claims-triage-agent", "Owner", sub_scope),
        ("dispatch-copilot", "Reader", f"{sub_scope}/resourceGroups/rg-dispatch"),
        ("helpdesk-agent", "User Access Administrator", sub_scope),
        (
            "translation-agent",
            "Storage Blob Data Reader",
            f"{sub_scope}/resourceGroups/rg-customs/providers/Microsoft.Storage/storageAccounts/customsdocs",
        ),
        ("erp-connector", "Contributor", f"{sub_scope}/resourceGroups/rg-erp"),
        ("backup-orchestrator", "Contributor", sub_scope),
        ("bi-refresh", "Reader", rg),
    ]
    for name, role_name, scope in grants:
        assignments.append(az.role_assignment(SUB, owners[name], name, role_name, scope, guid("9a9a")))
    b.write(folder / "sp-list.json", sps)
    b.write(folder / "app-list.json", apps)
    b.write(folder / "role-assignments.json", assignments)
    directory_roles(folder, owners)
    sign_ins(folder, sps)
    kv = "hal-prod-kv"
    b.write(folder / "keyvault" / f"{kv}-secrets.json", [
        az.keyvault_item(kv, "secrets", "db-admin-password", ago(500), None, {"owner": "ana.silva@halcyon.example"}),
        az.keyvault_item(kv, "secrets", "sftp-partner-key", ago(100), ahead(265)),
        az.keyvault_item(kv, "secrets", "openai-api-key", ago(20), ahead(10), {"agent-identity": "dispatch-copilot"}),
        az.keyvault_item(kv, "secrets", "webhook-signing", ago(60), ahead(300)),
    ])  # fmt: skip
    b.write(folder / "keyvault" / f"{kv}-keys.json", [
        az.keyvault_item(kv, "keys", "tde-protector", ago(300), ahead(400)),
        az.keyvault_item(kv, "keys", "token-signing", ago(700), None),
    ])  # fmt: skip
    b.write(folder / "keyvault" / f"{kv}-certificates.json", [
        az.keyvault_item(kv, "certificates", "portal-tls", ago(340), ahead(25)),
        az.keyvault_item(kv, "certificates", "edi-client", ago(100), ahead(265)),
    ])  # fmt: skip


def sign_ins(folder: Path, sps: list[dict]) -> None:
    """Saved `az rest` page of Graph beta reports/servicePrincipalSignInActivities: every principal of
    the tenant signed in within the last days but the planted unused one (no randomness: the
    generator's other draws stay as they were)."""
    items = []
    for index, sp in enumerate(sp for sp in sps if sp["appOwnerOrganizationId"] in (TENANT, None)):
        days = 200 if sp["displayName"] == PLANTED["unused_entra_app"] else 1 + index % 6
        items.append(az.sign_in_activity(sp["appId"], ago(days)))
    context = "https://graph.microsoft.com/beta/$metadata#reports/servicePrincipalSignInActivities"
    b.write(folder / "sign-in-activity.json", {"@odata.context": context, "value": items})


def directory_roles(folder: Path, owners: dict[str, str]) -> None:
    """Saved `az rest` pages of Graph roleManagement/directory: one planted privileged role, one reader."""
    context = "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/"
    held = [("shadow-automation", APPLICATION_ADMINISTRATOR), ("hr-directory-sync", DIRECTORY_READERS)]
    assignments = [
        {"id": f"sample-{i}", "principalId": owners[name], "directoryScopeId": "/", "roleDefinitionId": role}
        for i, (name, role) in enumerate(held)
    ]
    definitions = [
        az.directory_role(APPLICATION_ADMINISTRATOR, "Application Administrator",
                         ["microsoft.directory/applications/allProperties/allTasks"]),
        az.directory_role(DIRECTORY_READERS, "Directory Readers", ["microsoft.directory/users/standard/read"]),
    ]  # fmt: skip
    b.write(
        folder / "directory-role-assignments.json",
        {"@odata.context": context + "roleAssignments", "value": assignments},
    )
    b.write(
        folder / "directory-role-definitions.json",
        {"@odata.context": context + "roleDefinitions", "value": definitions},
    )


def register_and_roster() -> None:
    profiles = {
        "support-readonly": {
            "description": "Read orders and call the model",
            "allow": ["dynamodb:GetItem", "dynamodb:Query", "bedrock:InvokeModel"],
        },
        "document-reader": {
            "description": "Read documents and call the model",
            "allow": ["s3:GetObject", "bedrock:InvokeModel", "bedrock:Retrieve"],
        },
        "ops-readonly": {
            "description": "Read monitoring data",
            "allow": ["cloudwatch:Describe*", "cloudwatch:Get*", "bedrock:InvokeModel"],
        },
        "quote-drafting": {"description": "Call the model only", "allow": ["bedrock:InvokeModel"]},
        "agentcore-quote": {
            "description": "Call the model with the runtime's own workload identity",
            "allow": ["bedrock:InvokeModel", "bedrock-agentcore:GetWorkloadAccessToken*"],
        },
        "agentcore-dispatch-tools": {
            "description": "Reach the dispatch tools with the gateway's identity",
            "allow": [
                "bedrock-agentcore:GetWorkloadAccessToken",
                "bedrock-agentcore:GetResourceOauth2Token",
                "lambda:InvokeFunction",
            ],
        },
        "research": {"description": "Read-only research", "allow": ["s3:GetObject", "bedrock:*"]},
        "claims": {
            "description": "Claims triage",
            "allow": ["azure-role:Reader", "azure-role:Storage Blob Data Reader"],
        },
    }
    agents = [
        {"identity": "support-assistant", "account": PROD, "business_owner": "ben.okafor@halcyon.example", "identity_owner": "eli.moreau@halcyon.example",
         "control_owner": "chen.wei@halcyon.example", "purpose": "Answers order-status questions", "approved_profile": "support-readonly",
         "autonomous_tools": ["lookup_order", "escalate_to_human"], "approval_required_tools": ["cancel_order"]},
        {"identity": "refunds", "business_owner": "fatima.rahman@halcyon.example", "identity_owner": "eli.moreau@halcyon.example",
         "control_owner": "ben.okafor@halcyon.example", "purpose": "Refunds under 200 EUR", "approved_profile": "support-readonly",
         "autonomous_tools": ["lookup_order"], "approval_required_tools": ["issue_refund", "send_customer_email"]},
        {"identity": "invoice-reader", "business_owner": "dana.leaver@halcyon.example", "identity_owner": "dana.leaver@halcyon.example",
         "control_owner": "chen.wei@halcyon.example", "purpose": "Extract invoice lines", "approved_profile": "document-reader",
         "autonomous_tools": ["read_invoice"],
         "risk_acceptances": [{"control": "OWN-004", "reason": "owner left; handover to finance ops agreed",
                               "approver": "ana.silva@halcyon.example", "expires": "2027-01-15"}]},
        {"identity": "ops-copilot", "business_owner": "hana.ito@halcyon.example", "identity_owner": "hana.ito@halcyon.example",
         "control_owner": "hana.ito@halcyon.example", "approved_profile": "ops-readonly", "autonomous_tools": ["get_alarms"],
         "risk_acceptances": [{"control": "PUR-001", "reason": "purpose being written", "approver": "ana.silva@halcyon.example",
                               "expires": "2026-10-31"}]},
        {"identity": "pricing-agent", "business_owner": "ana.silva@halcyon.example", "identity_owner": "eli.moreau@halcyon.example",
         "control_owner": "ana.silva@halcyon.example", "purpose": "Spot price suggestions", "autonomous_tools": ["get_rates"]},
        {"identity": "damage-claims", "business_owner": "fatima.rahman@halcyon.example", "identity_owner": "eli.moreau@halcyon.example",
         "control_owner": "fatima.rahman@halcyon.example", "purpose": "Drafts damage claim assessments", "approved_profile": "support-readonly",
         "autonomous_tools": ["get_claim"], "approval_required_tools": ["pay_claim"],
         "risk_acceptances": [{"control": "ACC-005", "reason": "seasonal agent", "approver": "ana.silva@halcyon.example", "expires": "2027-03-31"}]},
        {"identity": "lc-research-worker", "business_owner": "chen.wei@halcyon.example", "identity_owner": "chen.wei@halcyon.example",
         "control_owner": "chen.wei@halcyon.example", "approved_profile": "research"},
        {"identity": "claims-triage-agent", "business_owner": "fatima.rahman@halcyon.example", "identity_owner": "hana.ito@halcyon.example",
         "control_owner": "ana.silva@halcyon.example", "approved_profile": "claims"},
        {"identity": "retired-chatbot", "business_owner": "gus.departed@halcyon.example", "purpose": "Old website chatbot"},
    ]  # fmt: skip
    text = "# Halcyon Freight agent register (fictional sample). Owners are emails from the HR roster.\n"
    text += json.dumps({"profiles": profiles, "agents": agents}, indent=2)  # JSON is valid YAML
    (ROOT / "register.yaml").write_text(text + "\n", encoding="utf-8")
    rows = ["email,name,status,manager"] + [",".join(p) for p in PEOPLE]
    (ROOT / "roster.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def main() -> None:
    if EST.exists():
        shutil.rmtree(EST)
    prod = aws_account(PROD, AGENTS_PROD, 40, 11)
    plant_aws_prod(prod)
    write_aws(prod, PROD)
    dev = aws_account(DEV, AGENTS_DEV, 20, 8)
    # A staging loader that writes the production orders table: one identity, two environments (NHI8).
    dev["roles"].append(
        b.role(DEV, PLANTED["cross_environment_role"], ago(180), ROLE_LAMBDA,
               inline={"load": b.policy_doc(b.statement(["dynamodb:PutItem", "dynamodb:BatchWriteItem"],
                                                        f"arn:aws:dynamodb:eu-west-1:{PROD}:table/orders"))},
               tags={"team": "data", "env": "staging",  # no rng draw: the rest of the estate stays as it was
                     "business-owner": "fatima.rahman@halcyon.example", "identity-owner": "fatima.rahman@halcyon.example"},
               last_used=ago(1))
    )  # fmt: skip
    write_aws(dev, DEV)
    # docs-helper was pointed at eval-harness's execution role: two agents, one role (NHI9).
    docs = EST / "aws" / DEV / "bedrock" / "DEVDOCS001" / "get-agent.json"
    agent = json.loads(docs.read_text())
    agent["agent"]["agentResourceRoleArn"] = f"arn:aws:iam::{DEV}:role/service-role/{PLANTED['shared_execution_role']}"
    b.write(docs, agent)
    azure_tenant()
    register_and_roster()
    (ROOT / "planted.json").write_text(json.dumps(PLANTED, indent=2) + "\n", encoding="utf-8")
    print(f"sample estate written to {EST}")


if __name__ == "__main__":
    main()
