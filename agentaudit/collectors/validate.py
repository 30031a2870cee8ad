"""The shape check every saved export passes before its parser sees it.

CLI and API outputs name their fields consistently across services, so the types agentaudit
relies on are declared here by field name: a list of records must be a list of objects, a record
that is an object must be one, an action list holds strings, a tag list holds Key/Value objects.
A payload that breaks one is a collection gap naming the file and the record path
(`RoleDetailList[3].RoleLastUsed`), never a traceback and never a silently dropped field.
Unknown fields are not checked (new fields appear in CLI outputs all the time).
"""

from __future__ import annotations

import math
from typing import Any

MAX_DEPTH = 64  # deepest real export: a policy condition, about 12 levels
# Characters in one field: past it, a crafted file. The longest real field is the credential
# report's base64 `Content`: an account at IAM's quota of 5,000 users, long paths and names
# included, gives under 8 million (the synthetic 100,000-identity estate's is 1.8 million).
MAX_TEXT = 16_000_000

# Fields whose value is a list of objects (records, or structured entries).
LIST_OF_OBJECTS = frozenset(
    {
        "UserDetailList", "GroupDetailList", "RoleDetailList", "Policies", "PolicyVersionList",
        "UserPolicyList", "GroupPolicyList", "RolePolicyList", "AttachedManagedPolicies", "InstanceProfileList",
        "SecretList", "CertificateSummaryList", "trailList", "EventSelectors", "AdvancedEventSelectors",
        "DataResources", "FieldSelectors", "agentSummaries", "actionGroupSummaries", "functions",
        "passwordCredentials", "keyCredentials", "sponsors", "owners", "value",
    }
)  # fmt: skip
# Fields whose value is one object.
OBJECTS = frozenset(
    {
        "RoleLastUsed", "RotationRules", "Certificate", "agent", "agentActionGroup", "functionSchema",
        "apiSchema", "actionGroupExecutor", "attributes", "properties", "PermissionsBoundary", "Principal",
    }
)  # fmt: skip
# Fields holding a string or a list of strings (IAM's "one or many").
STRING_OR_STRINGS = frozenset({"Action", "NotAction", "Resource", "NotResource", "Values", "GroupList", "InUseBy"})
# Fields holding text.
STRINGS = frozenset(
    {
        "Arn", "ARN", "RoleName", "UserName", "GroupName", "PolicyName", "PolicyArn", "Name", "Effect",
        "TrailARN", "HomeRegion", "CertificateArn", "DomainName", "agentId", "agentName", "actionGroupId",
        "actionGroupName", "id", "appId", "displayName", "servicePrincipalType", "principalId", "principalType",
        "roleDefinitionName", "roleDefinitionId", "scope", "kid", "userPrincipalName",
    }
)  # fmt: skip
# Time stamps: ISO text or epoch seconds; never NaN, infinite, or past the year 9999.
TIMES = frozenset(
    {
        "CreateDate", "CreatedDate", "LastUsedDate", "LastRotatedDate", "LastAccessedDate", "LastChangedDate",
        "DeletedDate", "NotBefore", "NotAfter", "IssuedAt", "ImportedAt", "CreatedAt", "createdAt", "updatedAt",
        "createdDateTime", "startDateTime", "endDateTime", "created", "updated", "expires", "nbf", "exp",
    }
)  # fmt: skip
MAX_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z
# Objects whose keys are chosen by people (tag keys, tool parameter names, condition keys): their
# children are not field names, so they are not checked by name.
FREE_FORM = frozenset({"Tags", "tags", "parameters", "Condition", "condition", "customSecurityAttributes"})


class ShapeError(ValueError):
    """A field of an export whose type no parser can use; `where` is its record path."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _check_field(key: str, value: Any, where: str) -> None:
    if value is None:
        return
    if key in LIST_OF_OBJECTS:
        if not isinstance(value, list):
            raise ShapeError(where, f"must be a list of objects, found {_kind(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise ShapeError(f"{where}[{index}]", f"must be an object, found {_kind(item)}")
    elif key in OBJECTS:
        if not isinstance(value, dict):
            raise ShapeError(where, f"must be an object, found {_kind(value)}")
    elif key in STRING_OR_STRINGS:
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, str):
                raise ShapeError(where, f"must be text or a list of text, found {_kind(item)}")
    elif key in STRINGS:
        if not isinstance(value, str):
            raise ShapeError(where, f"must be text, found {_kind(value)}")
    elif key in TIMES:
        _check_time(value, where)
    elif key in ("Tags", "tags"):
        _check_tags(value, where)


def _check_time(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ShapeError(where, f"must be a time (ISO 8601 text or epoch seconds), found {_kind(value)}")
    if isinstance(value, int | float) and (not math.isfinite(value) or abs(value) > MAX_EPOCH):
        raise ShapeError(where, f"{value!r} is not a time agentaudit can read")


def _check_tags(value: Any, where: str) -> None:
    """AWS: [{"Key", "Value"}]; Entra: ["key:value", ...]; ARM: {"key": "value"}."""
    if isinstance(value, dict):
        return
    if not isinstance(value, list):
        raise ShapeError(where, f"tags must be a list or an object, found {_kind(value)}")
    for index, item in enumerate(value):
        if isinstance(item, dict):
            if not isinstance(item.get("Key"), str):
                raise ShapeError(f"{where}[{index}]", "a tag needs a text 'Key'")
        elif not isinstance(item, str):
            raise ShapeError(f"{where}[{index}]", f"a tag must be an object or text, found {_kind(item)}")


CHECKED = LIST_OF_OBJECTS | OBJECTS | STRING_OR_STRINGS | STRINGS | TIMES | {"Tags", "tags"}
# A node of the walk: its value, its parent node and its key there (the path is spelt only on error).
_Node = tuple[Any, "Any", "str | int | None", int]


def _path(node: _Node | None) -> str:
    keys: list[str | int] = []
    while node is not None and node[2] is not None:
        keys.append(node[2])
        node = node[1]
    path = ""
    for key in reversed(keys):
        path = _join(path, key)
    return path


def check_shape(payload: Any, longest: int | None = None) -> None:
    """Raise ShapeError for the first field of `payload` whose type agentaudit cannot use.
    Iterative (no recursion limit), and cheap on good data: paths are spelt only for an error.
    `longest`: no text in the payload is longer (a file's size in bytes): when it is within
    MAX_TEXT, text lengths need no checking."""
    if isinstance(payload, list):
        for index, item in enumerate(payload):
            if not isinstance(item, dict | list):
                raise ShapeError(f"[{index}]", f"must be an object, found {_kind(item)}")
    texts = longest is None or longest > MAX_TEXT
    stack: list[_Node] = [(payload, None, None, 0)]
    while stack:
        node = stack.pop()
        value, _, _, depth = node
        if depth > MAX_DEPTH:
            raise ShapeError(_path(node), f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, list):  # list keys are indexes: never a checked or free-form field name
            for index, item in enumerate(value):
                if isinstance(item, CONTAINERS):
                    stack.append((item, node, index, depth + 1))
                elif texts and isinstance(item, str) and len(item) > MAX_TEXT:
                    _too_long(item, node, index, depth)
            continue
        if not isinstance(value, dict):
            continue  # a bare scalar payload: the shape detector reports it as unknown
        for key, item in value.items():
            if key in CHECKED and isinstance(key, str):
                try:
                    _check_field(key, item, "")  # a relative place ("" or "[3]"), spelt out on error
                except ShapeError as exc:
                    raise ShapeError(_path((None, node, key, 0)) + exc.where, exc.message) from None
            if key in FREE_FORM:
                continue  # keys below are chosen by people (a tool parameter may be called "id")
            if isinstance(item, CONTAINERS):
                stack.append((item, node, key, depth + 1))
            elif texts and isinstance(item, str) and len(item) > MAX_TEXT:
                _too_long(item, node, key, depth)


CONTAINERS = (dict, list)


def _too_long(item: str, node: _Node, key: str | int, depth: int) -> None:
    where = _path((item, node, key, depth + 1))
    raise ShapeError(where, f"{len(item):,} characters of text: more than any CLI output holds")
