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
    """Resolve a name, ARN/object id or uid to one identity, case-insensitively."""

    _by_key: dict[str, list[Identity]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, identities: Iterable[Identity]) -> IdentityIndex:
        index = cls()
        for identity in identities:
            index.add(identity)
        return index

    def add(self, identity: Identity) -> None:
        for key in {identity.uid.lower(), identity.native_id.lower(), identity.name.lower()}:
            self._by_key[key].append(identity)

    def resolve(self, reference: str, provider: str | None = None, account: str | None = None) -> Resolution:
        """The one identity whose uid, native id or name is `reference`, within `provider` and
        `account`/tenant when given (a name in another account is a different identity).
        `candidates` lists every match when there is not exactly one, including those outside
        the given account, so the caller can say why nothing was linked."""
        matches = {i.uid: i for i in self._by_key.get(reference.strip().lower(), [])}
        if provider is not None:
            matches = {u: i for u, i in matches.items() if i.provider == provider.lower()}
        inside = matches
        if account is not None:
            inside = {u: i for u, i in matches.items() if i.account.lower() == account.lower()}
        if len(inside) == 1:
            return Resolution(next(iter(inside)))
        return Resolution(None, tuple(sorted(inside or matches)))
