"""The input kinds: what a source read, named once for collectors, the store and the controls.

A `Source` record's `kind` is one of these; a control's `needs:` in the catalog lists the kinds its
verdict depends on. A saved CLI output and the live API call that returns the same data share a
kind, so "the credential report was not read" means the same thing on both paths. Each kind names
the provider whose accounts/tenants it is read per (None: an input the customer supplies).
"""

from __future__ import annotations

from enum import StrEnum


class Input(StrEnum):
    provider: str | None

    def __new__(cls, value: str, provider: str | None) -> Input:
        member = str.__new__(cls, value)
        member._value_ = value
        member.provider = provider
        return member

    # AWS
    IAM = "iam_authorization_details", "aws"  # roles, users, policies, trust
    CREDENTIAL_REPORT = "credential_report", "aws"  # access keys, console passwords, users' last use
    SECRETS = "secretsmanager_secrets", "aws"
    CERTIFICATES = "acm_certificates", "aws"
    BEDROCK_AGENTS = "bedrock_agent", "aws"
    BEDROCK_TOOLS = "bedrock_action_group", "aws"
    CLOUDTRAIL_TRAILS = "cloudtrail_trails", "aws"
    CLOUDTRAIL_SELECTORS = "cloudtrail_event_selectors", "aws"
    CLOUDTRAIL_STATUS = "cloudtrail_status", "aws"
    BEDROCK_TAGS = "bedrock_tags", "aws"  # a Bedrock agent's or AgentCore resource's own tags
    CERTIFICATE_TAGS = "acm_certificate_tags", "aws"
    SECRET_POLICIES = "secretsmanager_resource_policy", "aws"
    SERVICE_CREDENTIALS = "iam_service_specific_credentials", "aws"  # Bedrock API keys
    AGENTCORE_RUNTIMES = "agentcore_runtimes", "aws"
    AGENTCORE_GATEWAYS = "agentcore_gateways", "aws"  # gateways and their targets (the agents' tools)
    AGENTCORE_WORKLOAD_IDENTITIES = "agentcore_workload_identities", "aws"
    AGENTCORE_CREDENTIAL_PROVIDERS = "agentcore_credential_providers", "aws"
    AWS_REGIONS = "aws_regions", "aws"
    AWS_ASSUME_ROLE = "sts_assume_role", "aws"
    AWS_ORGANIZATION = "organizations_accounts", "aws"
    # Azure / Entra ID
    ENTRA_PRINCIPALS = "azure_service_principals", "azure"
    ENTRA_APPLICATIONS = "azure_applications", "azure"
    AZURE_ROLE_ASSIGNMENTS = "azure_role_assignments", "azure"
    KEYVAULT = "azure_keyvault_items", "azure"
    ENTRA_OWNERS = "entra_owners", "azure"  # owner lists (az ad app|sp owner list) and sponsors, per object
    ENTRA_USERS = "entra_users", "azure"  # owner liveness: accountEnabled, employeeLeaveDateTime
    ENTRA_SIGN_INS = "entra_sign_in_activity", "azure"  # reports/servicePrincipalSignInActivities
    AZURE_ROLE_DEFINITIONS = "azure_role_definitions", "azure"
    AZURE_SUBSCRIPTIONS = "azure_subscriptions", "azure"
    AZURE_MANAGED_IDENTITIES = "azure_managed_identities", "azure"
    AZURE_KEYVAULTS = "azure_keyvaults", "azure"
    ENTRA_DIRECTORY_ROLES = "entra_directory_role_assignments", "azure"  # /roleManagement/directory/roleAssignments
    ENTRA_DIRECTORY_ROLE_DEFINITIONS = "entra_directory_role_definitions", "azure"
    FOUNDRY_AGENTS = "foundry_agents", "azure"  # Foundry project agent lists (agents and their tools)
    # Inputs the customer supplies
    REGISTER = "register", None
    ROSTER = "roster", None
    # A file whose shape is not recognised: no kind can be claimed for it
    UNKNOWN = "unknown", None


# The last-use signal enrichment gives an IAM user the credential report lists: a user without it
# was not in the report read (a report is cached for up to four hours), so nothing is known of its
# keys or console password.
CREDENTIAL_REPORT_SIGNAL = "iam:credential_report"


def parse_input(value: str) -> Input:
    """An input kind by its value; ValueError names the known ones."""
    found = _BY_VALUE.get(value)
    if found is None or found is Input.UNKNOWN:
        known = ", ".join(sorted(k.value for k in Input if k is not Input.UNKNOWN))
        raise ValueError(f"unknown input kind {value!r} (known: {known})")
    return found


_BY_VALUE: dict[str, Input] = {kind.value: kind for kind in Input}
