"""The node catalogue: an explicit list of node modules, found by the builder's type + label."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType

from executor.domain.nodes.actions import (
    add_tag,
    ai_generate,
    assign_agent,
    end_chat,
    remove_tag,
    send_email,
    send_reply,
    set_variable,
)
from executor.domain.nodes.advanced import (
    execute_workflow,
    human_handoff,
    join,
    try_catch,
    wait_for_reply,
)
from executor.domain.nodes.configuration import ai_configuration, knowledge_base
from executor.domain.nodes.contract import (
    Admits,
    Category,
    Control,
    EffectTarget,
    Execute,
    KindMetadata,
    NodeConfig,
    ResourceConfig,
)
from executor.domain.nodes.integrations import (
    hubspot,
    jira,
    odoo,
    postgres,
    salesforce,
    sendgrid,
    shopify,
    slack,
    stripe,
    teams,
    twilio_sms,
    zendesk,
)
from executor.domain.nodes.logic import ab_split, condition, loop, wait_delay
from executor.domain.nodes.triggers import (
    incoming_call,
    incoming_message,
    intent_detected,
    new_order,
    scheduled,
    sentiment_negative,
    sla_at_risk,
    sla_breached,
)

NODE_MODULES: tuple[ModuleType, ...] = (
    incoming_message,
    incoming_call,
    intent_detected,
    sentiment_negative,
    sla_breached,
    sla_at_risk,
    new_order,
    scheduled,
    knowledge_base,
    ai_configuration,
    condition,
    wait_delay,
    loop,
    ab_split,
    send_reply,
    send_email,
    assign_agent,
    add_tag,
    remove_tag,
    ai_generate,
    end_chat,
    set_variable,
    shopify,
    stripe,
    salesforce,
    hubspot,
    jira,
    slack,
    teams,
    postgres,
    zendesk,
    twilio_sms,
    sendgrid,
    odoo,
    try_catch,
    execute_workflow,
    human_handoff,
    wait_for_reply,
    join,
)

ERROR_PORT = "error"
_BRANCH_ALIASES = {"true": "yes", "false": "no"}

# A builder node of this type is a Condition whatever the user typed as its label.
CONDITION_TYPE = "condition"


@dataclass(frozen=True, slots=True)
class NodeKind:
    """A node kind of the catalogue: its metadata, configuration model and behaviour."""

    name: str
    category: Category
    labels: tuple[str, ...]
    ports: tuple[str, ...]
    default_port: str
    effect: EffectTarget | None
    awaits_result: bool
    control: Control | None
    config_model: type[NodeConfig]
    execute: Execute
    doc: str
    module: str
    admits: Admits | None = None  # trigger kinds: why a trigger does not start the workflow

    @classmethod
    def from_module(cls, module: ModuleType) -> NodeKind:
        execute = getattr(module, "execute", None)
        metadata: KindMetadata | None = getattr(execute, "__node_kind__", None)
        config_model = getattr(module, "Config", None)
        if execute is None or metadata is None or config_model is None or not module.__doc__:
            raise TypeError(
                f"{module.__name__} needs a docstring, a Config and a @node_kind execute"
            )
        if (metadata.category is Category.CONFIGURATION) != issubclass(
            config_model, ResourceConfig
        ):
            raise TypeError(
                f"{module.__name__}: configuration kinds, and only they, have a ResourceConfig"
            )
        admits = getattr(module, "admits", None)
        if (metadata.category is Category.TRIGGER) != (admits is not None):
            raise TypeError(f"{module.__name__}: trigger kinds, and only they, have an admits()")
        return cls(
            name=metadata.name,
            category=metadata.category,
            labels=metadata.labels,
            ports=metadata.ports,
            default_port=metadata.default_port,
            effect=metadata.effect,
            awaits_result=metadata.awaits_result,
            control=metadata.control,
            config_model=config_model,
            execute=execute,
            doc=module.__doc__.strip(),
            module=module.__name__,
            admits=admits,
        )

    def port_for(self, label: str | None) -> str:
        """The output port an edge with this label leaves from (labels are case-insensitive)."""
        key = (label or "").strip().casefold()
        if not key:
            return self.default_port
        if key == ERROR_PORT:
            return ERROR_PORT
        if self.ports == ("yes", "no"):
            return _BRANCH_ALIASES.get(key, key)
        if key not in self.ports and "out" in self.ports:
            return "out"  # a single-exit node: the label is only a caption
        return key


def _label_key(label: str) -> str:
    return " ".join(label.replace("_", " ").split()).casefold()


class NodeCatalogue:
    """Every node kind, by canonical name and by builder label. Refuses duplicates."""

    def __init__(self, modules: Iterable[ModuleType]) -> None:
        self._by_name: dict[str, NodeKind] = {}
        self._by_label: dict[str, NodeKind] = {}
        for module in modules:
            kind = NodeKind.from_module(module)
            if kind.name in self._by_name:
                raise ValueError(f"node kind {kind.name} is registered twice")
            self._by_name[kind.name] = kind
            for label in kind.labels:
                key = _label_key(label)
                if key in self._by_label:
                    raise ValueError(f"builder label {label!r} maps to two node kinds")
                self._by_label[key] = kind

    def __iter__(self) -> Iterator[NodeKind]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> NodeKind:
        return self._by_name[name]

    def resolve(self, node_type: str, label: str) -> NodeKind | None:
        """A builder node's kind: a canonical name in `type`, a `condition` type, or the label."""
        node_type = (node_type or "").strip()
        if node_type in self._by_name:
            return self._by_name[node_type]
        if node_type.casefold() == CONDITION_TYPE:
            return self._by_name["logic.condition"]
        kind = self._by_label.get(_label_key(label or ""))
        if kind is None:
            return None
        if node_type.casefold() == "trigger" and kind.category is not Category.TRIGGER:
            return None
        return kind

    @functools.lru_cache(maxsize=256)  # noqa: B019 - the catalogue lives as long as the process
    def trigger_for(self, trigger_type: str) -> NodeKind | None:
        """The trigger kind for a trigger type: a label (`New Order`) or a name (`new_order`)."""
        key = _label_key(trigger_type)
        kind = self._by_name.get(trigger_type) or self._by_name.get(
            f"trigger.{key.replace(' ', '_')}"
        )
        kind = kind or self._by_label.get(key)
        return kind if kind is not None and kind.category is Category.TRIGGER else None


CATALOGUE = NodeCatalogue(NODE_MODULES)
