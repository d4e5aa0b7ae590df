"""``queue``: a ``run`` command with no events yet is a ``queued`` view, and nothing more."""

from __future__ import annotations

from hypothesis import given, settings
from test_projection_properties import executions

from omium.projections import ExecutionView, fold, queue
from omium.schemas import Event, Run, from_dict


def run_command(workflow: str = "wf", **inputs: object) -> Run:
    command = from_dict(
        {
            "type": "run",
            "execution_id": "ex-1",
            "payload": {"workflow": workflow, "inputs": inputs},
        }
    )
    assert isinstance(command, Run)
    return command


def test_queue__a_run_without_events_is_queued() -> None:
    command = run_command(n=1)
    view = queue(command, ExecutionView(execution_id="ex-1"))
    assert view.status == "queued" and view.workflow == "wf" and view.inputs == {"n": 1}
    assert view.submitted_at == command.ts
    assert view.last_seq == {} and view.first_position is None  # no event is claimed


def test_queue__is_idempotent_and_the_first_run_stays() -> None:
    once = queue(run_command(n=1), ExecutionView(execution_id="ex-1"))
    assert queue(run_command(n=1), once) is once
    assert queue(run_command("other", n=2), once) is once


@settings(max_examples=60, deadline=None)
@given(executions())
def test_queue__never_overrides_a_view_with_events(events: list[Event]) -> None:
    folded = fold(events)
    assert queue(run_command("other"), folded) is folded


@settings(max_examples=60, deadline=None)
@given(executions())
def test_queue__events_after_the_run_decide_as_if_it_was_never_seen(events: list[Event]) -> None:
    queued = queue(run_command("queued-as", n=0), ExecutionView(execution_id="ex-1"))
    assert fold(events, queued) == fold(events)
