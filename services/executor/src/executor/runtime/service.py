"""The durable runtime assembled: triggers and commands in, in consumed batches.

Every execution a batch touches is changed in memory, command after command (``step``), and the
batch ends with one round of writes and then one round of sends (``batch``); the Kafka offsets
are committed after that. Who does what:

- ``triggers.TriggerIntake``: a batch of triggers, answering reply waits or creating and
  starting executions;
- ``commands.CommandIntake``: a batch of commands, each applied to its execution;
- ``running.CommandRunner``: one command, under its span, and the MongoDB work it asks for;
- ``children.ChildStart``: sub-workflow executions; ``workflows.CompiledWorkflows``: the cache;
- ``batch.BatchFlush``: the writes then the sends, and the documents of the flush in flight.
"""

from __future__ import annotations

from executor.adapters.conversations import ConversationRepository
from executor.adapters.resources import ResourceRepository
from executor.adapters.store import ExecutionRepository, WorkflowCatalogue
from executor.runtime.batch import BatchFlush, Publish, Sender
from executor.runtime.children import ChildStart, JustCreated
from executor.runtime.classification import IntentEngine, MessageClassifier
from executor.runtime.commands import CommandIntake
from executor.runtime.conversations import ConversationIntake
from executor.runtime.resources import WorkflowResources
from executor.runtime.running import CommandRunner
from executor.runtime.step import Limits
from executor.runtime.triggers import TriggerIntake
from executor.runtime.workflows import CompiledWorkflows


class ExecutionService:
    def __init__(
        self,
        catalogue: WorkflowCatalogue,
        executions: ExecutionRepository,
        conversations: ConversationRepository,
        publish: Publish,
        *,
        limits: Limits,
        resources: ResourceRepository | None = None,
        intent_engine: IntentEngine | None = None,
    ) -> None:
        sender = Sender(publish)
        just_created = JustCreated()
        self.flush = BatchFlush(executions, conversations, sender)
        workflows = CompiledWorkflows(catalogue)
        runner = CommandRunner(workflows, ChildStart(catalogue, executions, just_created), limits)
        self.triggers = TriggerIntake(
            catalogue,
            workflows,
            runner,
            self.flush,
            sender,
            ConversationIntake(conversations),
            resources=WorkflowResources(resources),
            classifier=MessageClassifier(resources, engine=intent_engine),
            executions=executions,
        )
        self.commands = CommandIntake(executions, runner, self.flush, just_created)

    def forget(self) -> None:
        """A flush failed: drop what was planned on it (MongoDB is the truth again)."""
        self.flush.forget()
