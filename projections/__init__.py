"""Pure folds of events into views: ``apply(event, view) -> view``. No IO, no clocks.

Offers :class:`ExecutionView` (status, steps, checkpoints, output of one execution) and
:func:`fold`.
"""

from omium.projections.executions import (
    TERMINAL,
    CheckpointView,
    ExecutionView,
    StepView,
    apply,
    fold,
)

__all__ = ["TERMINAL", "CheckpointView", "ExecutionView", "StepView", "apply", "fold"]
