"""Identity uids and the one resolver every join uses.

A uid is `provider:account_or_tenant:native_id` (the native id may itself contain colons, as ARNs
do). Names are not unique across accounts, so a reference by name resolves within the referring
account/tenant first; a name that still matches several identities is reported, never guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from agentaudit.model.records import Identity


class Uid(NamedTuple):
    provider: str
    account: str
    native_id: str


def make_uid(provider: str, account: str, native_id: str) -> str:
    return f"{provider}:{account}:{native_id}"


def parse_uid(uid: str) -> Uid:
    """The parts of a uid; a malformed one is a programming error, named in the message."""
    parts = str(uid).split(":", 2)
    if len(parts) != 3:
        raise ValueError(f"not an identity uid (provider:account:native_id): {uid!r}")
    return Uid(*parts)


@dataclass
class Resolution:
    """The identity a reference names, or why none was chosen (ambiguous lists the candidates)."""

    uid: str | None
    candidates: tuple[str, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return self.uid is None and len(self.candidates) > 1


@dataclass
class IdentityIndex:
    """Resolve a uid, ARN/object id/application id or a name to one identity, case-insensitively."""

    _by_id: dict[str, list[Identity]] = field(default_factory=lambda: defaultdict(list))
    _by_name: dict[str, list[Identity]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, identities: Iterable[Identity]) -> IdentityIndex:
        index = cls()
        for identity in identities:
            index.add(identity)
        return index

    def add(self, identity: Identity) -> None:
        ids = {identity.uid.lower(), identity.native_id.lower()}
        ids |= {link.split(":", 1)[1].lower() for link in identity.links if link.startswith("azure-app:")}
        for key in ids:
            self._by_id[key].append(identity)
        self._by_name[identity.name.lower()].append(identity)

    def resolve(self, reference: str, provider: str | None = None, account: str | None = None) -> Resolution:
        """The one identity `reference` names. An id (uid, ARN, object id, application id) is
        global and names its identity wherever it lives; a name is looked up within `provider`
        and `account`/tenant when given (a name in another account is a different identity).
        `candidates` lists the matches when there is not exactly one, including those outside
        the account, so the caller can say why nothing was linked."""
        key = reference.strip().lower()
        by_id = self._within(self._by_id.get(key, []), provider, None)
        if by_id:
            return Resolution(next(iter(by_id))) if len(by_id) == 1 else Resolution(None, tuple(sorted(by_id)))
        anywhere = self._within(self._by_name.get(key, []), provider, None)
        inside = self._within(self._by_name.get(key, []), provider, account)
        if len(inside) == 1:
            return Resolution(next(iter(inside)))
        return Resolution(None, tuple(sorted(inside or anywhere)))

    @staticmethod
    def _within(found: list[Identity], provider: str | None, account: str | None) -> dict[str, Identity]:
        return {
            i.uid: i
            for i in found
            if (provider is None or i.provider == provider.lower())
            and (account is None or i.account.lower() == account.lower())
        }
