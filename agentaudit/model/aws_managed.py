"""What agentaudit knows about AWS managed policies without reading their documents.

Used by the register (a profile may name a managed policy instead of listing verbs) and by the
access checks (an AWS `*FullAccess` policy is a service-wide grant by its name). Pure data.
"""

from __future__ import annotations

import re
from functools import lru_cache

from agentaudit.model.iam_policy import action_matches, action_pattern

AWS_MANAGED_PREFIX = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/", re.IGNORECASE)
FULL_ACCESS = re.compile(r"FullAccess$")
ADMIN_POLICIES = frozenset({"AdministratorAccess"})

# Allow patterns (and deny patterns) that stand for a managed policy in an approved profile. The
# patterns are the policy's documented intent (read verbs only), a slight superset of its current
# document: a profile is a ceiling, so an over-generous ceiling can only hide drift, never invent it.
PROFILE_POLICIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "AdministratorAccess": (("*",), ()),
    # PowerUserAccess allows a few IAM, Organizations and Account actions besides NotAction: a deny
    # list cannot say "all of iam:* but these", so the ceiling is "*" (ACC-001 still finds admins).
    "PowerUserAccess": (("*",), ()),
    "ReadOnlyAccess": (("*:Describe*", "*:Get*", "*:List*", "*:BatchGet*", "*:View*", "*:Search*", "*:Query*"), ()),
    "ViewOnlyAccess": (("*:Describe*", "*:Get*", "*:List*", "*:View*"), ()),
    "SecurityAudit": (("*:Describe*", "*:Get*", "*:List*"), ()),
    "AmazonS3ReadOnlyAccess": (
        ("s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"),
        (),
    ),
    "AmazonDynamoDBReadOnlyAccess": (
        (
            "dynamodb:BatchGet*",
            "dynamodb:Describe*",
            "dynamodb:Get*",
            "dynamodb:List*",
            "dynamodb:Query",
            "dynamodb:Scan",
            "dynamodb:PartiQLSelect",
        ),
        (),
    ),
    "AmazonBedrockReadOnly": (("bedrock:Get*", "bedrock:List*"), ()),
    "AWSLambda_ReadOnlyAccess": (("lambda:Get*", "lambda:List*"), ()),
    "CloudWatchReadOnlyAccess": (
        (
            "cloudwatch:Describe*",
            "cloudwatch:Get*",
            "cloudwatch:List*",
            "logs:Get*",
            "logs:Describe*",
            "logs:FilterLogEvents",
            "logs:StartQuery",
        ),
        (),
    ),
}


def policy_name(arn: str) -> str | None:
    """The name of an AWS managed policy from its ARN (path dropped); None for customer policies."""
    if not AWS_MANAGED_PREFIX.match(arn):
        return None
    return arn.rsplit("/", 1)[-1]


def is_full_access(arn: str) -> bool:
    """An AWS managed `*FullAccess` policy (e.g. AmazonS3FullAccess), which is never admin."""
    name = policy_name(arn)
    return name is not None and name not in ADMIN_POLICIES and bool(FULL_ACCESS.search(name))


# What an identity must be allowed to act *as* an AI agent (INV-001): invoke a model itself, or
# obtain the AgentCore workload-identity tokens (and the OAuth tokens / API keys behind them) an
# agent runtime or gateway uses to reach its tools. Calling an agent (bedrock:InvokeAgent,
# bedrock-agentcore:InvokeAgentRuntime) is being its client, not being an agent.
AGENT_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "invokes models": ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"),
    "obtains AgentCore workload tokens": (
        "bedrock-agentcore:GetWorkloadAccessToken",
        "bedrock-agentcore:GetWorkloadAccessTokenForJWT",
        "bedrock-agentcore:GetWorkloadAccessTokenForUserId",
        "bedrock-agentcore:GetResourceOauth2Token",
        "bedrock-agentcore:GetResourceApiKey",
    ),
}


@lru_cache(maxsize=65536)
def agent_capabilities(action: str) -> frozenset[str]:
    """Which AGENT_CAPABILITIES an allowed action pattern covers (`bedrock:*`, `bedrock:Invoke*`,
    `bedrock-agentcore:Get*` …). `*` alone is not a sign of an agent: an administrator is ACC-001's.
    Cached: an estate's grants repeat a few thousand action patterns millions of times."""
    if action.strip() == "*":
        return frozenset()
    return frozenset(
        name for name, actions in AGENT_CAPABILITIES.items() if any(action_matches(a, action) for a in actions)
    )


@lru_cache(maxsize=65536)
def covers_service(actions: tuple[str, ...], not_actions: tuple[str, ...], service: str) -> bool:
    """Does an allow statement grant every action of `service` (`svc:*`, `*`, or a NotAction that
    spares it)? Probed with an action name no real API has, so `svc:Get*` does not count. Cached
    per distinct statement (estates repeat them)."""
    probe = f"{service.lower()}:zzagentauditprobe"
    if not_actions:
        return not any(action_pattern(n).match(probe) for n in not_actions)
    return any(action_pattern(a).match(probe) for a in actions)
