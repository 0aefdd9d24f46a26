"""The sandbox's Odoo databases: users, records of a few models, and the ORM methods the
external API calls (`search_read`, `search`, `search_count`, `read`, `create`, `write`), with
Odoo's domains and Odoo's exceptions (by their Python names, as the JSON-RPC error reports
them). In memory."""

from __future__ import annotations

import fnmatch
import itertools
import operator as op
import re
from dataclasses import dataclass, field
from typing import Any

# model -> field -> kind (a many2one names its comodel)
MODELS: dict[str, dict[str, str]] = {
    "res.partner": {
        "id": "integer",
        "name": "char",
        "email": "char",
        "phone": "char",
        "is_company": "boolean",
        "customer_rank": "integer",
        "comment": "text",
        "active": "boolean",
    },
    "sale.order": {
        "id": "integer",
        "name": "char",
        "partner_id": "many2one:res.partner",
        "amount_total": "float",
        "state": "selection",
        "client_order_ref": "char",
    },
    "helpdesk.ticket": {
        "id": "integer",
        "name": "char",
        "partner_id": "many2one:res.partner",
        "description": "html",
        "priority": "selection",
        "stage": "char",
    },
}
DESCRIPTIONS = {"res.partner": "Contact", "sale.order": "Sales Order", "helpdesk.ticket": "Ticket"}
DEFAULTS: dict[str, dict[str, Any]] = {
    "res.partner": {"active": True, "is_company": False, "customer_rank": 0},
    "sale.order": {"state": "draft", "amount_total": 0.0},
    "helpdesk.ticket": {"priority": "0", "stage": "New"},
}
REQUIRED = {"res.partner": ("name",), "sale.order": ("partner_id",), "helpdesk.ticket": ("name",)}


class OdooException(Exception):
    """An exception of Odoo's, named as the JSON-RPC error's `data.name` names it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _access_denied() -> OdooException:
    return OdooException("odoo.exceptions.AccessDenied", "Access Denied")


@dataclass
class User:
    uid: int
    login: str
    password: str
    read_only: bool = False  # in no group that may create or write


@dataclass
class Database:
    name: str
    users: dict[str, User] = field(default_factory=dict)
    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    rate_limited: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)
    _ids: dict[str, itertools.count[int]] = field(default_factory=dict)

    def next_id(self, model: str) -> int:
        return next(self._ids.setdefault(model, itertools.count(1)))

    def user(self, uid: Any, password: Any) -> User:
        for user in self.users.values():
            if user.uid == uid and user.password == password:
                return user
        raise _access_denied()

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "users": [
                {"uid": u.uid, "login": u.login, "password": u.password, "read_only": u.read_only}
                for u in self.users.values()
            ],
            "rate_limited": self.rate_limited,
            "models": {model: len(rows) for model, rows in self.records.items()},
        }

    # -- the ORM's methods --------------------------------------------------------------------

    def execute(
        self, user: User, model: str, method: str, args: list[Any], kwargs: dict[str, Any]
    ) -> Any:
        if model not in MODELS:
            raise OdooException("odoo.exceptions.UserError", f"Object {model} doesn't exist")
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise OdooException(
                "builtins.AttributeError",
                f"The method '{model}.{method}' does not exist",
            )
        return handler(user, model, *args, **kwargs)

    def _m_search_read(
        self,
        user: User,
        model: str,
        domain: Any = None,
        fields: Any = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[dict[str, Any]]:
        ids = self._m_search(user, model, domain or [], offset, limit, order)
        return self._m_read(user, model, ids, fields)

    def _m_search(
        self,
        user: User,
        model: str,
        domain: Any = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[int]:
        rows = [r for r in self.records.get(model, {}).values() if _matches(model, r, domain or [])]
        rows = [r for r in rows if r.get("active", True)] if "active" in MODELS[model] else rows
        for key, descending in reversed(_order(model, order)):
            rows.sort(key=lambda r: (r.get(key) is None, r.get(key)), reverse=descending)
        ids = [r["id"] for r in rows]
        offset = int(offset or 0)
        return ids[offset : offset + int(limit)] if limit else ids[offset:]

    def _m_search_count(self, user: User, model: str, domain: Any = None) -> int:
        return len(self._m_search(user, model, domain or []))

    def _m_read(self, user: User, model: str, ids: Any, fields: Any = None) -> list[dict[str, Any]]:
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        names = list(fields) if fields else list(MODELS[model])
        for name in names:
            _field(model, name)
        rows = self.records.get(model, {})
        missing = [i for i in ids if i not in rows]
        if missing:
            raise OdooException(
                "odoo.exceptions.MissingError",
                "Record does not exist or has been deleted.\n"
                f"(Record: {model}({', '.join(map(str, missing))},), User: {user.uid})",
            )
        return [
            {"id": i, **{n: self._value(model, rows[i], n) for n in names if n != "id"}}
            for i in ids
        ]

    def _m_create(self, user: User, model: str, values: Any) -> int | list[int]:
        self._may_write(user, model, "create")
        many = isinstance(values, list)
        made = [self._create(model, v) for v in (values if many else [values])]
        return made if many else made[0]

    def _m_write(self, user: User, model: str, ids: Any, values: Any) -> bool:
        self._may_write(user, model, "write")
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        self._m_read(user, model, ids, ["id"])  # MissingError for unknown ids
        checked = self._checked(model, values)
        for i in ids:
            self.records[model][i].update(checked)
        return True

    # -- helpers ------------------------------------------------------------------------------

    def _may_write(self, user: User, model: str, operation: str) -> None:
        if user.read_only:
            raise OdooException(
                "odoo.exceptions.AccessError",
                f"You are not allowed to {operation} '{DESCRIPTIONS[model]}' ({model}) records.",
            )

    def _create(self, model: str, values: Any) -> int:
        checked = self._checked(model, values)
        for name in REQUIRED[model]:
            if checked.get(name) in (None, False, ""):
                raise OdooException(
                    "odoo.exceptions.ValidationError",
                    f"The operation cannot be completed: Missing required fields on "
                    f"{DESCRIPTIONS[model]}: {name}",
                )
        record_id = self.next_id(model)
        record = {**DEFAULTS[model], **checked, "id": record_id}
        if model == "sale.order" and "name" not in checked:
            record["name"] = f"S{record_id:05d}"
        self.records.setdefault(model, {})[record_id] = record
        return record_id

    def _checked(self, model: str, values: Any) -> dict[str, Any]:
        if not isinstance(values, dict):
            raise OdooException("builtins.ValueError", "values must be a dictionary")
        for name, value in values.items():
            kind = _field(model, name)
            if kind.startswith("many2one:") and value not in (False, None):
                comodel = kind.split(":", 1)[1]
                if not isinstance(value, int) or value not in self.records.get(comodel, {}):
                    raise OdooException(
                        "odoo.exceptions.ValidationError",
                        f"The operation cannot be completed: {comodel}({value},) does not exist",
                    )
        return {k: v for k, v in values.items() if k != "id"}

    def _value(self, model: str, record: dict[str, Any], name: str) -> Any:
        kind = MODELS[model][name]
        value = record.get(name)
        if kind.startswith("many2one:"):
            if not value:
                return False
            other = self.records.get(kind.split(":", 1)[1], {}).get(value, {})
            return [value, other.get("name", "")]
        if value is None and kind != "boolean":
            return False  # Odoo's empty value
        return value


def _field(model: str, name: Any) -> str:
    kind = MODELS[model].get(name) if isinstance(name, str) else None
    if kind is None:
        raise OdooException("builtins.ValueError", f"Invalid field {name!r} on model {model!r}")
    return kind


def _order(model: str, order: str | None) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    for part in (order or "id").split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise OdooException("builtins.ValueError", f'Invalid "order" specified ({order})')
        _field(model, words[0])
        keys.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return keys


_COMPARE = {">": op.gt, ">=": op.ge, "<": op.lt, "<=": op.le}
_OPERATORS = {
    "=", "!=", "<>", ">", ">=", "<", "<=", "in", "not in",
    "like", "ilike", "not like", "not ilike", "=like", "=ilike",
}  # fmt: skip


def _matches(model: str, record: dict[str, Any], domain: Any) -> bool:
    """Odoo's domain: leaves `[field, operator, value]`, combined in Polish notation by `&`
    (the default between leaves), `|` and `!`."""
    if not isinstance(domain, list):
        raise OdooException("builtins.ValueError", f"Invalid domain {domain!r}")
    items = list(domain)
    position = 0

    def term() -> bool:
        nonlocal position
        if position >= len(items):
            raise OdooException("builtins.ValueError", f"Invalid domain {domain!r}")
        item = items[position]
        position += 1
        if item == "!":
            return not term()
        if item in ("&", "|"):
            left, right = term(), term()
            return (left and right) if item == "&" else (left or right)
        return _leaf(model, record, item)

    result = True
    while position < len(items):
        result = term() and result
    return result


def _leaf(model: str, record: dict[str, Any], leaf: Any) -> bool:
    if not isinstance(leaf, list | tuple) or len(leaf) != 3:
        raise OdooException("builtins.ValueError", f"Invalid leaf {leaf!r}")
    name, operator, expected = leaf
    kind = _field(model, name)
    if operator not in _OPERATORS:
        raise OdooException("builtins.ValueError", f"Invalid leaf {list(leaf)!r}")
    value = record.get(name)
    if kind.startswith("many2one:") and isinstance(expected, str) and operator not in ("=", "!="):
        value = None if value is None else str(value)
    if operator in ("=", "!=", "<>"):
        same = value == expected or (expected is False and value in (None, False, ""))
        return same if operator == "=" else not same
    if operator in ("in", "not in"):
        inside = value in (expected if isinstance(expected, list) else [expected])
        return inside if operator == "in" else not inside
    if operator in (">", ">=", "<", "<="):
        if value is None:
            return False
        try:
            return bool(_COMPARE[operator](value, expected))
        except TypeError:
            return False
    text = "" if value in (None, False) else str(value)
    pattern = str(expected)
    if operator in ("=like", "=ilike"):
        regex = fnmatch.translate(pattern.replace("%", "*").replace("_", "?"))
        found = re.match(regex, text, re.IGNORECASE if operator == "=ilike" else 0) is not None
        return found
    if operator in ("ilike", "not ilike"):
        found = pattern.lower() in text.lower()
    else:
        found = pattern in text
    return found if operator in ("like", "ilike") else not found


class OdooState:
    def __init__(self) -> None:
        self.databases: dict[str, Database] = {}
        self._uids = itertools.count(2)  # uid 1 is Odoo's superuser (__system__)

    def reset(self) -> None:
        self.databases.clear()

    def new_database(
        self, name: str, login: str, password: str, read_only_login: str | None
    ) -> Database:
        database = Database(name)
        database.users[login] = User(next(self._uids), login, password)
        if read_only_login:
            database.users[read_only_login] = User(
                next(self._uids), read_only_login, password, read_only=True
            )
        admin = database.users[login]
        for values in (
            {"name": "Azure Interior", "email": "info@azure.example.com", "is_company": True,
             "customer_rank": 3},
            {"name": "Ana Lopez", "email": "ana@example.com", "phone": "+14155550101",
             "customer_rank": 1},
            {"name": "Bo Chen", "email": "bo@example.com"},
        ):  # fmt: skip
            database._m_create(admin, "res.partner", values)
        database._m_create(
            admin, "sale.order", {"partner_id": 2, "amount_total": 120.5, "state": "sale"}
        )
        database._m_create(
            admin, "sale.order", {"partner_id": 2, "amount_total": 42.0, "state": "draft"}
        )
        self.databases[name] = database
        return database
