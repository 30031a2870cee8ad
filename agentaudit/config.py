"""Policy config (YAML): thresholds, the tag keys that carry owners/purpose/agent markers, output.

Every key has a documented default (`DEFAULTS`, printed by `agentaudit config --defaults`); a file
only overrides what it names, and an unknown key is an error naming it, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from agentaudit import safeyaml
from agentaudit.errors import InputError

DEFAULTS_YAML = """\
# agentaudit policy config. Every key is optional; these are the defaults.
store: sqlite:///agentaudit.db        # evidence store: a SQLite file path or URL, or postgresql+psycopg://...
store_busy_timeout_s: 600              # wait this long for another run's write to the store, then give up
output: output                         # folder for result and pack folders
thresholds:
  key_max_age_days: 90                 # LC: access keys / client secrets rotated at least this often
  unused_after_days: 90                # ACC/LC: no use for this long = unused, offboard candidate
  expiring_within_days: 30             # LC: warn when a credential expires within this many days
  max_credential_lifetime_days: 365    # LC: longest validity allowed for a secret or certificate
  secret_rotation_max_days: 90         # LC: Secrets Manager rotation interval upper bound
  revoke_grace_days: 0                 # ATT: days after import a Revoke decision may still be pending
  no_expiry_from_year: 2099            # LC: an end date in this year or later counts as "no expiry"
tags:                                  # tag keys (case-insensitive) that carry facts about an identity
  business_owner: [business-owner, businessowner, owner]
  identity_owner: [identity-owner, identityowner, technical-owner]
  control_owner: [control-owner, controlowner]
  purpose: [purpose, agent-purpose]
  approved_profile: [approved-profile, access-profile]
  agent: [ai-agent, agentaudit-agent, agent]        # a truthy value marks an AI agent
  identity: [agent-identity, nhi-identity]          # on a secret: the identity (name/ARN) it serves
  business_unit: [business-unit, businessunit, department, team, cost-center]  # groups owner gaps in the pack
ownership:
  agents_inherit_from_execution_role: false  # OWN/PUR: true = a Bedrock agent's owners/purpose may come
                                       # from its execution role's tags; false (strict) = only its own
compute_service_principals:            # INV-001: a role trusting these that may invoke Bedrock models
  - lambda.amazonaws.com               # (bedrock:InvokeModel*) or obtain AgentCore workload tokens
  - ec2.amazonaws.com                  # acts like an AI agent
  - ecs-tasks.amazonaws.com
  - pods.eks.amazonaws.com
  - tasks.apprunner.amazonaws.com
  - states.amazonaws.com
  - sagemaker.amazonaws.com
ai_service_principals:                 # INV-001: a role trusting these that may obtain AgentCore workload
  - bedrock-agentcore.amazonaws.com    # tokens acts like an agent (bedrock.amazonaws.com only for a Bedrock
                                       # agent named by aws:SourceArn: knowledge-base roles are not agents)
risky_tool_words: [delete, remove, refund, pay, payment, transfer, send, email, write, update,
                   create, purchase, approve, terminate, drop, wire]
organisation: Your organisation        # shown on the pack's cover
signing:                               # empty key/cert = a generated DEMO key, labelled DEMO on every page
  key: ""                              # PEM private key (RSA or EC) that signs the PDF and the manifest
  cert: ""                             # its PEM certificate (needs the emailProtection EKU for openssl cms)
  key_passphrase_env: ""               # name of the environment variable holding the key's (or PKCS#12) passphrase
  pkcs12: ""                           # instead of key + cert: a PKCS#12 (.p12/.pfx) file with both
  aws_kms_key_id: ""                   # instead of key: an asymmetric AWS KMS key (SIGN_VERIFY, RSA or ECC_NIST_P256)
  azure_key_id: ""                     # instead of key: Key Vault key URL https://VAULT.vault.azure.net/keys/NAME/VER
  chain: ""                            # PEM file: intermediate/root certificates of the signer and of the TSA
  tsa_url: ""                          # RFC 3161 TSA URL: timestamps both signatures; the PDF becomes PAdES-B-LT
pack:                                  # PDF row caps; the XLSX and JSON always hold every row
  pdf_rows_per_control: 40             # failing subjects named per control
  pdf_rows_per_owner: 10               # subjects (each with its failing controls and evidence) per owner
  pdf_owners: 60                       # owners in the evidence part, most critical/high first
  pdf_subjects: 100                    # subjects with evidence in the evidence part in all, owners in
                                       # that order (about 6 subjects a page; a page takes ~0.15 CPU s)
  pdf_owner_gap_rows: 100
  pdf_credential_rows: 100
  pdf_tool_rows: 100
  include_passes: false                # findings JSON/CSV, OCSF, OSCAL: passing and not-applicable results too
                                       # (findings.parquet always holds every result)
  xlsx_include_passes: false           # review-pack.xlsx Findings sheet: passing and not-applicable too
  audit_manager: false                 # add audit-manager/: AWS Audit Manager controls + manual evidence
export:                                # copies of each signed pack (`export`, `run --export-to`)
  to: ""                               # default destination: a folder, s3://bucket/prefix, azure://account/container/prefix
  sse_kms_key_id: ""                   # S3: encrypt with SSE-KMS under this key id/ARN ("aws/s3" = the AWS managed key)
  object_lock_mode: ""                 # S3 Object Lock retention per object: GOVERNANCE or COMPLIANCE ("" = none)
  retain_days: 0                       # with object_lock_mode: days each object stays undeletable
  azure_blob_url: ""                   # Azure: blob service URL with {account} (default: azure.cloud's, https://{account}.blob.core.windows.net)
schedule:                              # unattended runs: `run --period auto`
  period: previous                     # auto = the quarter that just ended (previous) or the one under way (current)
  lock_minutes: 240                    # a run holds its period's lock at most this long (a crashed run's lapses)
environments:                          # ACC-009 (OWASP NHI8): which AWS accounts / Azure subscriptions are
  production: []                       # production and which are not (ids); both empty = not evaluated
  non_production: []
aws:                                   # live collection (--aws)
  connect_timeout_seconds: 10          # per connection attempt
  read_timeout_seconds: 60             # per response; a hung endpoint fails the call after this
  source_deadline_seconds: 900         # per source (account x service x region), retries included; past it, a gap
azure:                                 # live Azure (--azure): which cloud, or explicit endpoints
  cloud: public                        # public, usgovernment or china
  authority_host: ""                   # Entra authority; AZURE_AUTHORITY_HOST overrides it
  graph_url: ""                        # Microsoft Graph base URL (default: the cloud's)
  arm_url: ""                          # Azure Resource Manager base URL (default: the cloud's)
  foundry_projects: []                 # Foundry project endpoints whose agents --azure reads:
                                       # https://ACCOUNT.services.ai.azure.com/api/projects/PROJECT
  connect_timeout_seconds: 10          # per connection attempt
  read_timeout_seconds: 60             # per response (azure-core's default is 300); a hung endpoint fails the call
  request_deadline_seconds: 900        # per request, retries included; past it, that source is a gap
attestation:
  workbooks: true                      # write attestation/<reviewer>.xlsx into every pack
  max_file_mb: 20                      # returned workbooks larger than this are refused on import
  fallback_reviewer: ""                # reviews rows whose owner left with no active manager, or is unknown
  deadline_days: 21                    # reviewers return their workbook this many days after it is issued
  return_to: ""                        # where returned workbooks go (an address), shown on every workbook
"""

DEFAULTS: dict[str, Any] = yaml.safe_load(DEFAULTS_YAML)
MAX_CONFIG_BYTES = 1_000_000


@dataclass(frozen=True)
class Config:
    data: dict[str, Any]
    path: str | None = None

    @property
    def thresholds(self) -> dict[str, int]:
        return dict(self.data["thresholds"])

    @cached_property
    def tags(self) -> dict[str, list[str]]:
        return {k: [t.lower() for t in v] for k, v in self.data["tags"].items()}

    @property
    def store(self) -> str:
        """The store URL; a plain path (no `scheme://`) means a SQLite file there."""
        value = str(self.data["store"])
        return value if "://" in value else f"sqlite:///{Path(value).expanduser().resolve()}"

    @property
    def output(self) -> str:
        return str(self.data["output"])

    @property
    def signing(self) -> dict[str, str]:
        return dict(self.data["signing"])

    @property
    def azure(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.data["azure"].items() if not isinstance(v, list)}

    @property
    def azure_foundry_projects(self) -> list[str]:
        return [str(u).rstrip("/") for u in self.data["azure"]["foundry_projects"]]

    @property
    def ai_service_principals(self) -> list[str]:
        return [str(s).lower() for s in self.data["ai_service_principals"]]

    @property
    def compute_service_principals(self) -> list[str]:
        return [str(s).lower() for s in self.data["compute_service_principals"]]

    @property
    def agents_inherit_from_execution_role(self) -> bool:
        return bool(self.data["ownership"]["agents_inherit_from_execution_role"])

    @property
    def risky_tool_words(self) -> list[str]:
        return [str(s).lower() for s in self.data["risky_tool_words"]]


def _merge(base: dict[str, Any], override: dict[str, Any], path: str, trail: str = "") -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        where = f"{trail}{key}"
        if key not in base:
            known = ", ".join(sorted(base))
            raise InputError(f"unknown key {where!r} (known here: {known})", path)
        default = base[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise InputError(f"{where!r} must be a mapping", path)
            merged[key] = _merge(default, value, path, where + ".")
        elif isinstance(default, list):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(f"{where!r} must be a list of strings", path)
            merged[key] = value
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise InputError(f"{where!r} must be true or false, got {value!r}", path)
            merged[key] = value
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"{where!r} must be a whole number >= 0, got {value!r}", path)
            merged[key] = value
        else:
            if not isinstance(value, str) or (not value and default):
                raise InputError(f"{where!r} must be a {'non-empty ' if default else ''}string", path)
            merged[key] = value
    return merged


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    data = copy.deepcopy(DEFAULTS)
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InputError("config file not found", p)
        if p.stat().st_size > MAX_CONFIG_BYTES:
            raise InputError(f"config file is larger than {MAX_CONFIG_BYTES} bytes", p)
        try:
            loaded = safeyaml.load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"not valid YAML: {getattr(exc, 'problem', exc)}", p, safeyaml.error_line(exc)) from None
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", p) from None
        if not isinstance(loaded, dict):
            raise InputError("config must be a YAML mapping", p)
        _rename_old_keys(loaded)
        data = _merge(data, loaded, str(p))
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    _check_environments(data["environments"], str(path))
    return Config(data=data, path=str(path) if path else None)


def _rename_old_keys(loaded: dict[str, Any]) -> None:
    """pack.ocsf_include_passes (before 0.2) is pack.include_passes, which now covers every file."""
    pack = loaded.get("pack")
    if isinstance(pack, dict) and "ocsf_include_passes" in pack and "include_passes" not in pack:
        pack["include_passes"] = pack.pop("ocsf_include_passes")


def _check_environments(environments: dict[str, list[str]], path: str) -> None:
    both = {a.lower() for a in environments["production"]} & {a.lower() for a in environments["non_production"]}
    if both:
        raise InputError(f"environments: {', '.join(sorted(both))} listed as production and non_production", path)
