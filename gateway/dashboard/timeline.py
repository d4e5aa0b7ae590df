"""The execution page's timeline, laid out for one SVG: a lane per attempt, a bar per step.

A bar's length is the step's duration on a time axis shared by every lane; its colour and
its pattern (hatched: failed, dashed outline: running, a ``↻`` mark: retried) both say
its status, and its ``<title>`` says it in words. A rollback's branch point is drawn from
the end of the step whose checkpoint the new attempt continues from to the attempt's lane.
LLM calls (a circle), tool calls (a square) and handoffs between agents (a triangle at the
start of the agent's step) are marks on their step's bar, each titled with what it was.

Pure layout over :class:`~omium.services.models.ExecutionOut`: one element per step, so a
run of 1,000 steps is 1,000 rectangles in one SVG, not 1,000 rows of DOM to lay out. The
SVG's elements are written by :func:`svg` here rather than by a template loop: for 1,000
bars a template spends most of the page's time in filters and escaping.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

from omium.services.models import CallOut, ExecutionOut, StepOut

#: the SVG's user units: the bars are scaled to WIDTH, the labels sit left of LEFT
WIDTH = 1000.0
LEFT = 90.0
LANE = 34.0
TOP = 24.0
#: the narrowest bar drawn (a step of no measurable time stays visible)
MIN_BAR = 1.5


@dataclass(frozen=True)
class Bar:
    """A step's rectangle and what it says."""

    x: float
    y: float
    width: float
    status: str
    label: str
    title: str
    retried: bool


@dataclass(frozen=True)
class Lane:
    """An attempt's row."""

    attempt: int
    y: float
    label: str


@dataclass(frozen=True)
class Branch:
    """A rollback: from the checkpoint's step in one lane to the start of the next."""

    x1: float
    y1: float
    x2: float
    y2: float
    title: str


@dataclass(frozen=True)
class Tick:
    """A mark on the time axis."""

    x: float
    label: str


@dataclass(frozen=True)
class Mark:
    """An LLM call, a tool call or a handoff on its step's bar (``y``: the bar's top)."""

    x: float
    y: float
    kind: str
    title: str


@dataclass(frozen=True)
class Timeline:
    """Everything the SVG draws."""

    width: float
    height: float
    lanes: list[Lane]
    bars: list[Bar]
    branches: list[Branch]
    ticks: list[Tick]
    span_ms: float
    gaps: list[Gap]
    marks: list[Mark]


@dataclass(frozen=True)
class Gap:
    """Where a long idle time (between attempts, say) is drawn shortened."""

    x: float
    title: str


class Axis:
    """Time (ms from the first step) to drawn time, with long idle stretches shortened.

    A rollback or an answer may come minutes after a run stopped; drawn to scale, that
    wait would squeeze every step into a sliver. A stretch when no step runs that is
    longer than a tenth of the busy time (at least 50 ms) is drawn as that tenth, and
    marked; within busy stretches the scale is exact.
    """

    def __init__(self, spans: list[tuple[float, float]]) -> None:
        merged: list[list[float]] = []
        for begin, end in sorted(spans):
            if merged and begin <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([begin, end])
        busy = sum(end - begin for begin, end in merged)
        self.longest = max(busy / 10, 50.0)
        #: (real ms, drawn ms) at each busy stretch's start, and the shortened gaps
        self.points: list[tuple[float, float]] = []
        self.gaps: list[tuple[float, float]] = []
        drawn, last_end = 0.0, merged[0][0]
        for begin, end in merged:
            idle = begin - last_end
            if idle > self.longest:
                self.gaps.append((drawn + self.longest / 2, idle))
                idle = self.longest
            drawn += idle
            self.points.append((begin, drawn))
            drawn += end - begin
            last_end = end
        self.real_span = max(merged[-1][1] - merged[0][0], 1.0)
        self.drawn_span = max(drawn, 1.0)
        self._reals = [p[0] for p in self.points]

    def drawn(self, real: float) -> float:
        """Where ``real`` ms is drawn (in ms of the drawn axis)."""
        i = max(bisect_right(self._reals, real) - 1, 0)
        begin, at = self.points[i]
        return at + (real - begin)

    def real(self, drawn: float) -> float:
        """The real time at a drawn position (in a shortened gap: its start)."""
        found = self.points[0][0]
        for (begin, at), nxt in zip(self.points, [*self.points[1:], None], strict=True):
            if drawn < at:
                break
            end_drawn = nxt[1] if nxt is not None else float("inf")
            found = begin + min(drawn, end_drawn) - at
        return found


def _end(step: StepOut, now: datetime) -> datetime | None:
    return step.ended_at or (now if step.status == "running" else step.started_at)


def _describe(step: StepOut) -> str:
    took = f"{step.duration_ms:,.0f} ms" if step.duration_ms is not None else "no end yet"
    retry = f", retry {step.retry}" if step.retry else ""
    error = f": {step.error}" if step.error else ""
    return f"{step.name} (attempt {step.attempt}{retry}) {step.status}, {took}{error}"


def layout(execution: ExecutionOut, now: datetime, calls: Sequence[CallOut] = ()) -> Timeline:
    """The timeline of ``execution``; running steps end at ``now``; ``calls`` as marks."""
    timed = [s for s in execution.steps if s.started_at is not None]
    attempts = sorted({s.attempt for s in execution.steps} | {execution.attempt})
    lane_y = {a: TOP + i * LANE for i, a in enumerate(attempts)}
    height = TOP + len(attempts) * LANE + 4
    if not timed:
        lanes = [Lane(a, lane_y[a], f"attempt {a}") for a in attempts]
        return Timeline(LEFT + WIDTH, height, lanes, [], [], [], 0.0, [], [])
    start = min(s.started_at for s in timed if s.started_at is not None)

    def ms(moment: datetime) -> float:
        return (moment - start).total_seconds() * 1000

    axis = Axis(
        [(ms(s.started_at), ms(_end(s, now) or s.started_at)) for s in timed if s.started_at]
    )
    span = axis.real_span
    scale = WIDTH / axis.drawn_span

    def x_of(moment: datetime) -> float:
        return LEFT + axis.drawn(ms(moment)) * scale

    bars = []
    for step in timed:
        assert step.started_at is not None
        x = x_of(step.started_at)
        end = _end(step, now) or step.started_at
        width = max(x_of(end) - x, MIN_BAR)
        label = step.name if width > 7 * len(step.name) + 6 else ""
        bars.append(
            Bar(
                x,
                lane_y[step.attempt] + 4,
                width,
                step.status,
                label,
                _describe(step),
                step.retry > 0,
            )
        )
    branches = []
    checkpoints = {c.checkpoint_id: c for c in execution.checkpoints}
    for branch in execution.branches:
        found = checkpoints.get(branch.checkpoint_id)
        forked = [
            s
            for s in timed
            if found is not None and s.attempt == branch.from_attempt and s.index == found.index
        ]
        opened = [s for s in timed if s.attempt == branch.attempt]
        if not forked or not opened or branch.from_attempt not in lane_y:
            continue
        fork_end = _end(forked[-1], now) or start
        first = min(s.started_at for s in opened if s.started_at is not None)
        edits = ", ".join(f"{k}={v!r}" for k, v in branch.overrides.items()) or "no edits"
        branches.append(
            Branch(
                x_of(fork_end),
                lane_y[branch.from_attempt] + LANE / 2,
                x_of(first),
                lane_y[branch.attempt] + LANE / 2,
                f"attempt {branch.attempt} rolled back to {branch.checkpoint_id} ({edits})",
            )
        )
    ticks = [
        Tick(LEFT + WIDTH * i / 4, _span_label(axis.real(axis.drawn_span * i / 4)))
        for i in range(5)
    ]
    gaps = [
        Gap(LEFT + at * scale, f"idle {_span_label(idle)} (shortened)") for at, idle in axis.gaps
    ]
    lanes = [Lane(a, lane_y[a], f"attempt {a}") for a in attempts]
    # times as ms floats: comparing aware datetimes costs a utcoffset() call each
    hosts = _Hosts([ms(s.started_at) for s in timed if s.started_at], timed, bars)
    marks = []
    for call in calls:
        at = ms(call.ts)
        host = hosts.find(call, at)
        if host is None:
            continue
        step, bar = host
        if call.kind == "handoff":
            x = bar.x  # the agent handed to: where its step starts
        else:  # the middle of the call (recorded when it returned), on its step's bar
            middle = at - (call.duration_ms or 0) / 2
            x = min(max(LEFT + axis.drawn(middle) * scale, bar.x), bar.x + bar.width)
        marks.append(Mark(x, bar.y, call.kind, _call_title(call, step)))
    return Timeline(LEFT + WIDTH + 10, height, lanes, bars, branches, ticks, span, gaps, marks)


class _Hosts:
    """Which step's bar a call or a handoff is drawn on.

    A call: the step it names (else any step of its attempt) that started last before it
    was recorded. A handoff: the first step of the agent handed to that starts at or after
    it (it is recorded just before that step starts).
    """

    def __init__(self, starts: list[float], steps: list[StepOut], bars: list[Bar]) -> None:
        """``starts``: each step's start (ms), ``bars``: each step's bar."""
        self._named: dict[tuple[int, str], list[tuple[float, StepOut, Bar]]] = {}
        self._any: dict[int, list[tuple[float, StepOut, Bar]]] = {}
        for entry in sorted(zip(starts, steps, bars, strict=True), key=lambda e: e[0]):
            step = entry[1]
            self._named.setdefault((step.attempt, step.name), []).append(entry)
            self._any.setdefault(step.attempt, []).append(entry)
        self._starts = {k: [e[0] for e in v] for k, v in self._named.items()}
        self._any_starts = {k: [e[0] for e in v] for k, v in self._any.items()}

    def find(self, call: CallOut, at: float) -> tuple[StepOut, Bar] | None:
        """The step and bar ``call``, recorded at ``at`` ms, belongs on (None: no step)."""
        name = call.to_agent if call.kind == "handoff" else call.step
        key = (call.attempt, name or "")
        if key in self._named:
            entries, starts = self._named[key], self._starts[key]
        elif call.attempt in self._any:
            entries, starts = self._any[call.attempt], self._any_starts[call.attempt]
        else:
            return None
        if call.kind == "handoff":
            i = min(bisect_left(starts, at), len(entries) - 1)
        else:
            i = max(bisect_right(starts, at) - 1, 0)
        return entries[i][1], entries[i][2]


def _call_title(call: CallOut, step: StepOut) -> str:
    where = f"in {call.step or step.name} (attempt {call.attempt})"
    error = f"; error {call.error}" if call.error else ""
    took = f", {call.duration_ms:,.0f} ms" if call.duration_ms else ""
    if call.kind == "handoff":
        reason = f": {call.reason}" if call.reason else ""
        return f"handoff {call.from_agent} → {call.to_agent} (attempt {call.attempt}){reason}"
    if call.kind == "llm":
        tokens = f"{call.input_tokens or 0:,} in · {call.output_tokens or 0:,} out tokens"
        cost = f", ${call.cost_usd:.4f}" if call.cost_usd is not None else ""
        return f"LLM call {call.name} {where}: {tokens}{cost}{took}{error}"
    return f"tool call {call.name} {where}{took}{error}"


def _span_label(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


def svg(t: Timeline) -> Markup:
    """The SVG's content: grid and ticks, lane labels, a ``<g>`` per bar, marks, branches.

    Text is escaped with :func:`html.escape` (a ``str`` in, a ``str`` out): for thousands
    of titles, markupsafe's ``escape`` spent a third of this function making ``Markup``s.
    """
    out: list[str] = []
    for i, tick in enumerate(t.ticks):
        last = " last" if i == len(t.ticks) - 1 else ""
        out.append(
            f'<line x1="{tick.x:.1f}" y1="14" x2="{tick.x:.1f}" y2="{t.height:.0f}" class="grid"/>'
            f'<text x="{tick.x:.1f}" y="11" class="tick{last}">{escape(tick.label)}</text>'
        )
    for lane in t.lanes:
        out.append(
            f'<text x="4" y="{lane.y + 21:.1f}" class="lane" data-lane="{lane.attempt}">'
            f"{escape(lane.label)}</text>"
        )
    for b in t.bars:
        fill = ' fill="url(#hatch)"' if b.status == "failed" else ""
        retry = "↻ " if b.retried else ""
        if b.label:
            text = f'<text x="{b.x + 3:.1f}" y="{b.y + 16:.1f}">{retry}{escape(b.label)}</text>'
        elif b.retried:
            text = f'<text x="{b.x:.1f}" y="{b.y - 1:.1f}">↻</text>'
        else:
            text = ""
        out.append(
            f'<g class="bar b-{escape(b.status)}"><rect x="{b.x:.1f}" y="{b.y:.1f}" '
            f'width="{b.width:.1f}" height="24" rx="2"{fill}><title>{escape(b.title)}</title>'
            f"</rect>{text}</g>"
        )
    for gap in t.gaps:
        out.append(
            f'<g class="gap"><rect x="{gap.x - 4:.1f}" y="14" width="8" '
            f'height="{t.height - 14:.0f}"/><text x="{gap.x:.1f}" y="{t.height - 2:.0f}">≈</text>'
            f"<title>{escape(gap.title)}</title></g>"
        )
    for m in t.marks:
        # the kinds differ in shape (and colour): a circle, a square, a triangle
        if m.kind == "llm":
            tag, at = "circle", f'cx="{m.x:.1f}" cy="{m.y + 7:.1f}" r="3.5"'
        elif m.kind == "tool":
            tag, at = "rect", f'x="{m.x - 3:.1f}" y="{m.y + 14:.1f}" width="6" height="6"'
        else:
            tag, at = "path", f'd="M{m.x - 4.5:.1f},{m.y - 4:.1f} h9 l-4.5,7 z"'
        out.append(f'<{tag} {at} class="mark m-{m.kind}"><title>{escape(m.title)}</title></{tag}>')
    for br in t.branches:
        title = escape(br.title)
        out.append(
            f'<path d="M{br.x1:.1f},{br.y1:.1f} C{br.x1:.1f},{br.y2:.1f} {br.x1:.1f},{br.y2:.1f} '
            f'{br.x2:.1f},{br.y2:.1f}" class="branch" marker-end="url(#arrow)">'
            f"<title>{title}</title></path>"
            f'<circle cx="{br.x1:.1f}" cy="{br.y1:.1f}" r="4" class="branch-point">'
            f"<title>{title}</title></circle>"
        )
    return Markup("".join(out))
