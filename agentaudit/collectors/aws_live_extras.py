"""Live reads that complete records of the main AWS sources (issue 11): a Bedrock agent's own tags,
a certificate's tags, a secret's resource policy, and IAM service-specific credentials (Bedrock API
keys). Each is its own source, so a refused call is a recorded gap while the records it would
complete still appear; the attributes it would add stay absent (= unknown to the checks).

Calls: one per agent, certificate or secret, and one paginated list per account for API keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.parsers import ResponseParserError

from agentaudit.collectors import aws_extras
from agentaudit.errors import InputError
from agentaudit.model.records import evolve

if TYPE_CHECKING:
    import threading

    from agentaudit.collectors.shapes import Collected


class AgentSurfaceReads:
    """Mixed into AwsCollector: uses its `_client`, `_lock` and `out`."""

    out: Collected
    _lock: threading.Lock

    def _client(self, session: Any, service: str, region: str | None = None) -> Any: ...  # pragma: no cover

    def _in_region(self, store: str, account: str, region: str) -> list[str]:
        with self._lock:
            return [
                c.native_id
                for c in self.out.credentials
                if c.store == store and c.account == account and c.native_id.split(":")[3] == region
            ]

    def _agent_tags(self, session: Any, account: str, region: str) -> int:
        """ListTagsForResource per Bedrock agent: the agent's own declared owners and purpose."""
        with self._lock:
            agents = [
                i.native_id
                for i in self.out.identities
                if i.kind == "aws_bedrock_agent" and i.account == account and i.native_id.split(":")[3] == region
            ]
        client = self._client(session, "bedrock-agent", region)
        tags = {arn: aws_extras.parse_tag_map(client.list_tags_for_resource(resourceArn=arn)) for arn in agents}
        with self._lock:
            self.out.identities[:] = [
                evolve(i, tags=aws_extras.merge_tags(i.tags, tags[i.native_id])) if i.native_id in tags else i
                for i in self.out.identities
            ]
        return len(tags)

    def _certificate_tags(self, session: Any, account: str, region: str) -> int:
        client = self._client(session, "acm", region)
        tags = {
            arn: aws_extras.parse_tag_map(client.list_tags_for_certificate(CertificateArn=arn))
            for arn in self._in_region("acm", account, region)
        }
        with self._lock:
            self.out.credentials[:] = [
                evolve(c, tags=aws_extras.merge_tags(c.tags, tags[c.native_id])) if c.native_id in tags else c
                for c in self.out.credentials
            ]
        return len(tags)

    def _secret_policies(self, session: Any, account: str, region: str) -> int:
        """GetResourcePolicy per secret (the policy document, never the secret's value)."""
        client = self._client(session, "secretsmanager", region)
        found = dict(
            aws_extras.parse_secret_policy(client.get_resource_policy(SecretId=arn))
            for arn in self._in_region("secretsmanager", account, region)
        )
        with self._lock:
            self.out.credentials[:] = [
                evolve(c, attributes={**c.attributes, **found[c.native_id]}) if c.native_id in found else c
                for c in self.out.credentials
            ]
        return len(found)

    def _service_credentials(self, session: Any, account: str) -> int:
        """ListServiceSpecificCredentials(AllUsers=True): every user's Bedrock API keys at once."""
        client = self._client(session, "iam")
        pages, marker = [], None
        while True:
            try:
                page = client.list_service_specific_credentials(AllUsers=True, **({"Marker": marker} if marker else {}))
            except ResponseParserError as exc:  # e.g. an HTML error page: a recorded gap, not a crash
                raise InputError(f"unreadable ListServiceSpecificCredentials response: {str(exc)[:120]}") from None
            pages.append(page)
            marker = page.get("Marker")
            if not page.get("IsTruncated") or not marker:
                break
        name = f"aws/{account}/iam:ServiceSpecificCredentials"
        credentials = aws_extras.parse_service_credentials(pages, account, name, name)
        with self._lock:
            self.out.credentials += credentials
        return len(credentials)
