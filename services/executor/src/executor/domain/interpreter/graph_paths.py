"""How paths move: fan-out along edges, loop and try scopes, joins, and where errors go.

Every activation is one live path. A frame (a Loop iteration, a Try/Catch branch) counts the
live paths inside it; when the count drops to zero the iteration (or branch) is over. Nothing
here runs a node: `lifecycle` does, then tells `Paths` which port the node took.
"""

from __future__ import annotations

from typing import Any

from executor.domain.interpreter.compiler import CompiledNode, CompiledWorkflow
from executor.domain.interpreter.records import ExecutionStatus, StepOutcome
from executor.domain.interpreter.state import Activation, ExecutionState, Frame

LOOP_FRAME = "loop"
TRY_FRAME = "try"


class Paths:
    """Moves activations of one execution along the compiled graph."""

    __slots__ = ("outcome", "state", "workflow")

    def __init__(self, workflow: CompiledWorkflow, state: ExecutionState, outcome: StepOutcome):
        self.workflow = workflow
        self.state = state
        self.outcome = outcome

    def follow(self, scope: tuple[str, ...], targets: tuple[str, ...]) -> None:
        """The path at `scope` continues to every target (none: the path ends)."""
        started = 0
        loops = self.workflow.loop_nodes
        frontier = self.state.frontier
        for target in targets:
            if target in loops and self._closes_loop(scope, target):
                continue
            frontier.append(Activation(target, scope))
            started += 1
        if started != 1:
            self.adjust(scope, started - 1)

    def _closes_loop(self, scope: tuple[str, ...], target: str) -> bool:
        """An edge back to a Loop the path is inside of ends the path (the iteration goes on)."""
        frames = self.state.frames
        return any(frames[frame_id].node_id == target for frame_id in scope)

    def adjust(self, scope: tuple[str, ...], delta: int) -> None:
        """Add `delta` live paths to the innermost frame of `scope`, closing frames that empty."""
        frames = self.state.frames
        while scope and delta:
            frame = frames[scope[-1]]
            frame.live += delta
            if frame.live > 0:
                return
            self._drop_joins(frame)
            if frame.kind == LOOP_FRAME:
                # The Loop's own path was parked while its body ran; it resumes for the next turn.
                self.state.frontier.append(Activation(frame.node_id, frame.parent, frame=frame.id))
                return
            del frames[frame.id]
            scope, delta = frame.parent, -1

    def open_frame(
        self,
        node: CompiledNode,
        activation: Activation,
        count: int,
        kind: str,
        port: str,
        data: dict[str, Any] | None,
    ) -> None:
        """Start a loop iteration or a try branch: the node's targets on `port` run inside it."""
        frames = self.state.frames
        frame = frames.get(activation.frame) if activation.frame else None
        if frame is None:
            frame = Frame(
                id=f"{node.id}:{count}",
                kind=kind,
                node_id=node.id,
                parent=activation.scope,
                data=data if data is not None else {},
            )
            frames[frame.id] = frame
        else:
            frame.iteration += 1
        frame.live = 1
        self.follow((*activation.scope, frame.id), node.routes.get(port, ()))

    def loop_data(self, activation: Activation) -> dict[str, Any]:
        frame = self.state.frames.get(activation.frame) if activation.frame else None
        return frame.data if frame is not None else {}

    def close_loop(self, activation: Activation) -> None:
        if activation.frame:
            frame = self.state.frames.pop(activation.frame, None)
            if frame is not None:
                self._drop_joins(frame)

    def join_key(self, node: CompiledNode, scope: tuple[str, ...]) -> str:
        if not scope:
            return node.id
        frame = self.state.frames[scope[-1]]
        return f"{node.id}@{frame.id}#{frame.iteration}"

    def _drop_joins(self, frame: Frame) -> None:
        joins = self.state.joins
        if joins:
            marker = f"@{frame.id}#"
            for key in [key for key in joins if marker in key]:
                del joins[key]

    def catch(self, node: CompiledNode, activation: Activation, error: dict[str, Any]) -> str:
        """Send a node failure to its error edge, the innermost Try/Catch, or fail the execution.

        Returns the port recorded on the failed run ("error") or "" when it was not routed.
        """
        error_targets = node.routes.get("error")
        if error_targets:
            self.state.context["variables"]["workflow"]["error"] = error
            self.follow(activation.scope, error_targets)
            return "error"
        frames = self.state.frames
        for frame_id in reversed(activation.scope):
            frame = frames[frame_id]
            if frame.kind == TRY_FRAME:
                self._cancel_inside(frame.id)
                self.state.frontier.append(Activation(frame.node_id, frame.parent, error=error))
                return ""
        self.fail(error, retry_from=Activation(node.id, activation.scope))
        return ""

    def _cancel_inside(self, frame_id: str) -> None:
        """Drop every path, wait and frame inside `frame_id` (and the frame itself)."""
        state = self.state
        kept = [a for a in state.frontier if frame_id not in a.scope]
        state.frontier.clear()
        state.frontier.extend(kept)
        for effect_id in [k for k, a in state.waiting.items() if frame_id in a.scope]:
            del state.waiting[effect_id]
            self.outcome.cancelled_effects.append(effect_id)
        for frame in [f for f in state.frames.values() if frame_id in (*f.parent, f.id)]:
            self._drop_joins(frame)
            del state.frames[frame.id]

    def fail(self, error: dict[str, Any], retry_from: Activation | None = None) -> None:
        """Fail the whole execution: nothing else runs, outstanding effects are cancelled.

        With `retry_from` (the failed node's activation) the frames it runs in are kept, so
        `retry` can run that node again inside its loops and Try/Catch scopes."""
        state = self.state
        state.status = ExecutionStatus.FAILED
        state.error = error
        state.frontier.clear()
        self.outcome.cancelled_effects.extend(state.waiting)
        state.waiting.clear()
        state.retry_from = None if retry_from is None else retry_from.to_dict()
        state.joins.clear()
        kept = () if retry_from is None else retry_from.scope
        for frame_id in [f for f in state.frames if f not in kept]:
            del state.frames[frame_id]
        for frame in state.frames.values():
            # The paths that were live elsewhere are gone; the retried one is the only one.
            frame.live = 1
        self.outcome.error = error
