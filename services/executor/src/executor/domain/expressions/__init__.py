"""The expression layer: variable paths, `{{ }}` templates and conditions over a workflow context.

Pure code: no I/O, clock or environment; the only mutable globals are bounded compile caches.

The context is a plain JSON-shaped dict::

    {"execution": {"id", "workflowId", "tenantId", "startedAt"},
     "trigger": {"type": "Incoming Message", "source": {...the trigger payload...}},
     "variables": {"workflow": {...}, "conversation": {...}, "global": {...}},
     "customer": {...} | None,
     "resources": {...}}

Paths
-----
- Full paths read the context as it is: `variables.workflow.step`, `customer.name`,
  `execution.id`, `trigger.source.orderId`. Any first segment that is not a short scope or
  `trigger` is looked up at the top of the context.
- Short scopes: `workflow.x` is `variables.workflow.x`; `conversation.x` and `global.x` likewise.
- `trigger.<field>` reads the trigger payload (`trigger.source.<field>`). The payload wins: only
  when the payload has no such field do `trigger.type` and `trigger.source` mean the envelope's
  type and payload. `trigger` alone is the envelope's type/source overlaid by the payload.
- Segments are separated by dots; `items.0.sku` and `items[0].sku` are the same path; a key
  with dots or brackets is written `["a.b"]`. An index reads a list element, or the key "0" of an
  object. Negative indices count from the end: `messages[-1]` is the last message. Whitespace
  around the whole path is ignored, and a leading `$` is allowed (`$workflow.step`).
- Reading never raises: an absent key, an index out of range, a step into a string or null, or
  a path that does not parse all read as `MISSING`, which is distinct from None (JSON null).
- Writing (`set_path`, `delete_path`) is allowed only under `variables.<scope>.` or a short scope,
  and needs a name inside the scope; anything else raises ValueError naming the path. Writes
  create missing (or null) intermediate objects, may replace a list element in range, and refuse
  to descend through a string, number or boolean. Deleting an absent variable does nothing.

Templates
---------
- `{{ path }}` (whitespace inside the braces tolerated) is replaced in every string of a value,
  recursively through lists and object values (object keys are never interpolated). There is no
  escape: `{{ }}` with nothing inside stays literal text.
- A missing path leaves the placeholder exactly as written and is listed in `Rendered.missing`.
- A string that is exactly one placeholder (no text, no surrounding spaces) keeps the value's
  type: a list stays a list, a number a number, null stays None.
- Inside text: null becomes "" (a missing path is left as written, above), booleans
  `true`/`false`, integers and integral floats below 1e16 as digits (`5.0` -> `5`), other
  floats in shortest round-trip form, lists and objects as compact JSON (`{"a":1}`).
- Rendered values never share a list or dict with the context or the cached template.

Conditions
----------
Structured form (the builder's), every key optional unless the operator needs it::

    {"left": "customer.age", "operator": ">=", "right": "18", "negate": false,
     "logicalOp": "AND" | "OR", "next": {...another condition...}}
    {"all": [cond, ...]}   {"any": [cond, ...]}   {"not": cond}   {"expression": "CEL source"}

- Operators: `==, !=, >, <, >=, <=, contains, starts_with, ends_with, in, not_in, matches,
  is_empty, exists, not_exists` (the spec's enum names like `GREATER_THAN` are accepted too,
  case-insensitively). `is_empty`, `exists` and `not_exists` ignore `right`.
- Chains: AND binds tighter than OR, as in most languages, so `a AND b OR c` is `(a AND b) OR c`
  (the spec's recursion would read it `a AND (b OR c)`). `negate: true` negates its own term
  only, before chaining; use `not`, `all` or `any` for explicit grouping. A `next` without
  `logicalOp` is a ConditionError rather than being silently ignored.
- Operands: a non-string JSON value is a literal. A string is a variable when it is exactly
  `{{ path }}`, starts with `$`, or is a dotted/indexed path whose first segment is a context
  root (`execution, trigger, variables, customer, resources, workflow, conversation, global`):
  `customer.email` is a variable, `john@example.com` and `3.14` are not. Text with placeholders
  is rendered. Any other string is a literal: under `==, !=, <, >, <=, >=` the words
  `true/false/null` (any case) and numbers (`5000`, `-2.5`, `1e3`) become those values; under
  text operators (`contains, starts_with, ends_with, in, not_in, matches`) it stays text;
  quotes (`"5000"`) force text under any operator.
- Type policy: numbers and numeric strings (JSON number syntax, so `"10"`, `"-2.5"`, `"1e3"`
  but not `"007"`, `"1,000"` or `"nan"`) compare numerically with each other (`"10" > 9`,
  `"10.0" == 10`); two other strings compare as text (case-sensitive, code-point order); booleans
  equal booleans or the text `true`/`false`; any other mix is unequal and unordered (false).
- Null and missing: never raise. Everywhere except `exists`/`not_exists` a missing value reads
  as null: `== null` holds for both, ordering and text operators are false, `!=` is the
  negation of `==`. `exists` means present, even if null; `not_exists` means absent. `is_empty`
  holds for null, missing, "", [] and {} (not for 0, false or "  ").
- `contains`: list -> an element `==` right; object -> has the key; text or number -> substring
  of its text form. `starts_with`/`ends_with` work on text forms too; null, missing, lists and
  objects never match. `in`/`not_in`: the right side is a list, a comma-separated text (items
  trimmed), an object's keys, or a lone value; membership uses `==`.
- `matches` searches left's text with an RE2 pattern (linear time: no pattern can hang; `(?i)`
  for case-insensitive). A literal invalid pattern is a ConditionError at parse; one read from a
  variable simply does not match.
- Expression strings (`Condition.parse("customer.orders.size() > 5")`) are CEL, compiled once.
  Names bound: workflow, conversation, global, trigger (as the path `trigger` reads it),
  customer, execution, resources, variables, each read by the path rules above; the extended
  CEL library (`lowerAscii`, `math.greatest`, list `contains`...) is available. CEL's own strict
  typing applies (`workflow.count == "5"` is false). Only a `true` result is true; any
  evaluation error (no such key, null receiver, type mismatch) makes the whole expression false,
  even under `!`. Expressions are limited to 4,000 characters (the CEL parser recurses).
"""

from executor.domain.expressions.conditions import Condition, ConditionError
from executor.domain.expressions.operators import OPERATORS
from executor.domain.expressions.templates import Rendered, Template
from executor.domain.expressions.variable_paths import (
    MISSING,
    delete_path,
    get_path,
    is_valid_path,
    set_path,
)

__all__ = [
    "MISSING",
    "OPERATORS",
    "Condition",
    "ConditionError",
    "Rendered",
    "Template",
    "delete_path",
    "get_path",
    "is_valid_path",
    "set_path",
]
