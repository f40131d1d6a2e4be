"""The served OpenAPI document in the DVP contract's own names.

A client generated from Docker's document and one generated from ours should have the same
types: FastAPI names a schema after its Python class, so the classes whose names differ from
the contract's are renamed here, in the document only, and the two unions the contract names
(a year's months or weeks, one month or week) become named schemas instead of inline ones.
The routes' ``operation_id`` are the contract's where it has the operation.
"""

from __future__ import annotations

from typing import Any

#: Our class name → the contract's schema name.
RENAMED = {
    "Timespan": "TimespanType",
    "RelativePeriod": "PeriodType",
    "Group": "GroupType",
    "Dataview": "DataviewType",
    "LoginRequest": "UsersLoginRequest",
    "LoginToken": "PostUsersLoginSuccessResponse",
    "LoginError": "PostUsersLoginErrorResponse",
    "TwoFactorLoginRequest": "Users2FALoginRequest",
    "TwoFactorLoginError": "PostUsers2FALoginErrorResponse",
}
#: The contract's named unions, by their members.
UNIONS = {
    ("MonthData", "WeekData"): "TimespanData",
    ("MonthModel", "WeekModel"): "TimespanModel",
}
_PREFIX = "#/components/schemas/"


def in_contract_names(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (changed in place) with the contract's schema names."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    for ours, theirs in RENAMED.items():
        if ours in schemas:
            schemas[theirs] = schemas.pop(ours)
            schemas[theirs]["title"] = theirs
    _rewrite(document["paths"], top=True)
    _rewrite(schemas, top=True)
    for members, name in UNIONS.items():
        listed = [{"$ref": _PREFIX + member} for member in members]
        schemas[name] = {"anyOf": listed, "title": name}
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return document


def _rewrite(node: Any, *, top: bool = False) -> Any:
    """``node`` with references renamed and the named unions referred to by name."""
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith(_PREFIX):
        name = reference.removeprefix(_PREFIX)
        node["$ref"] = _PREFIX + RENAMED.get(name, name)
    union = _union_name(node) if not top else None
    if union is not None:
        return {"$ref": _PREFIX + union}
    for key, value in node.items():
        node[key] = _rewrite(value)
    return node


def _union_name(node: dict[str, Any]) -> str | None:
    """The contract's name of an inline union of two of its schemas, or None."""
    members = node.get("anyOf")
    if not isinstance(members, list) or set(node) - {"anyOf", "title", "description"}:
        return None
    names = tuple(
        member.get("$ref", "").removeprefix(_PREFIX) for member in members if len(member) == 1
    )
    return UNIONS.get(names) if len(names) == len(members) else None
