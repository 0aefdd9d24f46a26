"""Checks a workflow definition before it is saved, reporting every problem at once."""

from executor.domain.validation.analysis import Analysis, ParsedEdge, ParsedNode, read_definition
from executor.domain.validation.graph import check_graph
from executor.domain.validation.problems import Problem, Severity
from executor.domain.validation.variables import check_variables


def analyse(definition: object) -> Analysis:
    """Read `definition` and run every check; the problems are in `Analysis.problems`."""
    analysis = read_definition(definition)
    check_graph(analysis)
    check_variables(analysis)
    return analysis


def validate_workflow(definition: object) -> list[Problem]:
    """Every problem of a builder definition (a dict as saved, or a WorkflowDefinition)."""
    return analyse(definition).problems


__all__ = [
    "Analysis",
    "ParsedEdge",
    "ParsedNode",
    "Problem",
    "Severity",
    "analyse",
    "validate_workflow",
]
