"""Pure folds of events into views: ``apply(event, view) -> view``. No IO, no clocks.

Offers :class:`ExecutionView` (status, steps, checkpoints, state, usage of one execution)
with :func:`fold`; :class:`Timeline` with :func:`fold_timeline`; :func:`replay` up to a
chosen point (``omium.schemas.NoSuchPoint`` when it is not there); and
:func:`view_to_dict` / :func:`view_from_dict` for stores.

Imports :mod:`omium.schemas` only.
"""

from omium.projections.executions import applies, apply, apply_at, fold, queue
from omium.projections.replay import (
    Mismatch,
    Replayed,
    StateDiff,
    Until,
    replay,
    state_diff,
)
from omium.projections.storage import view_from_dict, view_to_dict, without_states
from omium.projections.timeline import Timeline, TimelineEntry, describe, fold_timeline
from omium.projections.views import (
    STATUSES,
    TERMINAL,
    Branch,
    CheckpointView,
    ExecutionView,
    Pos,
    SaverThread,
    StepView,
    Usage,
)

__all__ = [
    "STATUSES",
    "TERMINAL",
    "Branch",
    "CheckpointView",
    "ExecutionView",
    "Mismatch",
    "Pos",
    "Replayed",
    "SaverThread",
    "StateDiff",
    "StepView",
    "Timeline",
    "TimelineEntry",
    "Until",
    "Usage",
    "applies",
    "apply",
    "apply_at",
    "describe",
    "fold",
    "fold_timeline",
    "queue",
    "replay",
    "state_diff",
    "view_from_dict",
    "view_to_dict",
    "without_states",
]
