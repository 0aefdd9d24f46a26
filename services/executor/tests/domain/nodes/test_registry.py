"""The node catalogue: the explicit list matches the modules on disk, and builder import."""

from pathlib import Path

import executor.domain.nodes as nodes_package
import pytest
from executor.domain.nodes.contract import Category
from executor.domain.nodes.registry import CATALOGUE, NODE_MODULES, NodeCatalogue

CATEGORY_FOLDERS = ("triggers", "configuration", "logic", "actions", "integrations", "advanced")


def test_every_node_module_on_disk_is_registered_and_nothing_else():
    root = Path(nodes_package.__file__).parent
    on_disk = {
        f"executor.domain.nodes.{folder}.{file.stem}"
        for folder in CATEGORY_FOLDERS
        for file in (root / folder).glob("*.py")
        if file.stem != "__init__"
    }

    assert {module.__name__ for module in NODE_MODULES} == on_disk


def test_the_catalogue_refuses_a_module_registered_twice():
    with pytest.raises(ValueError, match="registered twice"):
        NodeCatalogue([NODE_MODULES[0], NODE_MODULES[0]])


def test_the_spec_palette_is_complete():
    # The spec palette plus Scheduled (the spec's WorkflowSchedule) and SLA At Risk.
    counts = {category: 0 for category in Category}
    for kind in CATALOGUE:
        counts[kind.category] += 1

    assert counts == {
        Category.TRIGGER: 8,
        Category.CONFIGURATION: 2,
        Category.LOGIC: 4,
        Category.ACTION: 8,
        Category.INTEGRATION: 12,
        Category.ADVANCED: 5,
    }


def test_every_kind_is_documented_and_its_folder_matches_its_category():
    folders = {
        Category.TRIGGER: "triggers",
        Category.CONFIGURATION: "configuration",
        Category.LOGIC: "logic",
        Category.ACTION: "actions",
        Category.INTEGRATION: "integrations",
        Category.ADVANCED: "advanced",
    }
    for kind in CATALOGUE:
        assert len(kind.doc) > 60, kind.name
        assert kind.module.split(".")[-2] == folders[kind.category], kind.name


@pytest.mark.parametrize(
    ("node_type", "label", "expected"),
    [
        ("trigger", "Incoming Message", "trigger.incoming_message"),
        ("trigger", "SLA Breached", "trigger.sla_breached"),
        ("configuration", "Knowledge Base", "config.knowledge_base"),
        ("condition", "Asks about an order?", "logic.condition"),
        ("logic", "Condition", "logic.condition"),
        ("logic", "Wait/Delay", "logic.wait_delay"),
        ("logic", "A/B Split", "logic.ab_split"),
        ("action", "send reply", "action.send_reply"),
        ("action", "Human Handoff", "advanced.human_handoff"),
        ("integration", "Twilio SMS", "integration.twilio_sms"),
        ("advanced", "Try/Catch", "advanced.try_catch"),
        ("action.set_variable", "anything", "action.set_variable"),
    ],
)
def test_builder_type_and_label_map_to_a_canonical_kind(node_type, label, expected):
    kind = CATALOGUE.resolve(node_type, label)

    assert kind is not None
    assert kind.name == expected


@pytest.mark.parametrize(
    ("node_type", "label"), [("action", "Adult Path"), ("trigger", "Send Reply"), ("", "")]
)
def test_unknown_builder_nodes_resolve_to_nothing(node_type, label):
    assert CATALOGUE.resolve(node_type, label) is None
