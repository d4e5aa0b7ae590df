"""A deterministic synthetic workload of recorded executions, and answers computed from it.

The answers (``expected_*``) fold the events here, in plain Python, independently of
``omium.projections.analytics`` and of the SQL: the oracle the named questions are held to.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from omium.producers.pricing import PRICES
from omium.schemas import (
    Event,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    ExecutionSubmitted,
    LLMCall,
    StepCompleted,
    StepFailed,
    ToolCall,
)


def store_url(folder: Path) -> str:
    """The embedded store of a test's folder."""
    return f"chdb://{folder / 'analytics'}"


START = datetime(2026, 11, 20, tzinfo=UTC)
WORKFLOWS = ("research", "support", "billing")
STEPS = {
    "research": ("plan", "search", "write"),
    "support": ("triage", "answer"),
    "billing": ("fetch", "charge", "notify"),
}
AGENTS = {
    "plan": "planner",
    "search": "researcher",
    "write": "writer",
    "triage": "router",
    "answer": "helper",
    "fetch": "clerk",
    "charge": "clerk",
    "notify": "mailer",
}
MODELS = ("gpt-4o-mini", "gpt-4o", "claude-3-5-haiku", "scripted")
TOOLS = ("web_search", "read_file", "send_mail")
ERRORS = ("TimeoutError", "ValueError", "KeyError")


def workload(executions: int, seed: int = 7, tenant: str = "default") -> list[Event]:
    """``executions`` runs of random workflows, with calls, tools and failures."""
    rng = random.Random(seed)
    out: list[Event] = []
    for n in range(executions):
        out += _execution(rng, f"ex-{seed}-{n:05d}", tenant)
    return out


def _ms(t: datetime) -> datetime:
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def _execution(rng: random.Random, ex: str, tenant: str) -> list[Event]:
    wf = rng.choice(WORKFLOWS)
    t = _ms(START + timedelta(seconds=rng.uniform(0, 5 * 86400)))
    seq = 0
    events: list[Event] = []

    def emit(cls: type[Event], payload: dict[str, Any], dt_ms: float = 1) -> None:
        nonlocal seq, t
        seq += 1
        t = _ms(t + timedelta(milliseconds=dt_ms))
        events.append(
            cls.model_validate(
                {"execution_id": ex, "tenant_id": tenant, "seq": seq, "ts": t, "payload": payload}
            )
        )

    emit(ExecutionSubmitted, {"workflow": wf})
    emit(ExecutionStarted, {"workflow": wf}, rng.randint(1, 500))
    for index, step in enumerate(STEPS[wf]):
        agent = AGENTS[step]
        for _ in range(rng.randint(0, 2)):
            model = rng.choice(MODELS)
            emit(
                LLMCall,
                {
                    "model": model,
                    "agent": agent,
                    "step": step,
                    "input_tokens": rng.randint(10, 5000),
                    "output_tokens": rng.randint(1, 800),
                    "latency_ms": round(rng.uniform(50, 3000), 3),
                },
                rng.randint(1, 3000),
            )
        if rng.random() < 0.5:
            failed = rng.random() < 0.2
            emit(
                ToolCall,
                {
                    "tool": rng.choice(TOOLS),
                    "agent": agent,
                    "step": step,
                    "latency_ms": round(rng.uniform(1, 900), 3),
                    "error": {"type": "OSError", "message": "x"} if failed else None,
                },
                rng.randint(1, 900),
            )
        duration = round(rng.uniform(1, 10_000), 3)
        if rng.random() < 0.08:
            error = rng.choice(ERRORS)
            emit(
                StepFailed,
                {
                    "step": step,
                    "index": index,
                    "duration_ms": duration,
                    "error": {"type": error, "message": "boom"},
                },
                duration,
            )
            emit(ExecutionFailed, {"error": {"type": error, "message": "boom"}, "step": step})
            return events
        emit(StepCompleted, {"step": step, "index": index, "duration_ms": duration}, duration)
    if rng.random() < 0.9:
        emit(ExecutionCompleted, {})
    return events  # a tenth are left running


# ---- the oracle -------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _workflows(events: Iterable[Event]) -> dict[str, str]:
    return {e.execution_id: e.payload.workflow for e in events if isinstance(e, ExecutionSubmitted)}


def _in(t: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or t >= since) and (until is None or t < until)


#: how far a t-digest quantile (``latency``, from the rollup) may be from the exact one: its
#: value lies between the exact quantiles at q - d and q + d, d = TDIGEST_RANKS + 1/n, give
#: or take the rounding of ClickHouse's Float32 centroids (TDIGEST_ROUNDING, relative)
TDIGEST_RANKS, TDIGEST_ROUNDING = 0.03, 1e-6


def near_quantile(values: list[float], q: float, got: float) -> bool:
    """Whether ``got`` is the q-quantile of ``values`` within the t-digest tolerance."""
    d = TDIGEST_RANKS + 1 / len(values)
    low, high = quantile(values, max(0.0, q - d)), quantile(values, min(1.0, q + d))
    slack = TDIGEST_ROUNDING * max(abs(low), abs(high)) + 1e-9
    return low - slack <= got <= high + slack


def expected_latency(events: list[Event], by: str, since=None, until=None) -> dict[str, dict]:
    groups = latency_groups(events, by, since, until)
    return {
        k: {
            "key": k,
            "count": len(v),
            "p50_ms": quantile(v, 0.5),
            "p95_ms": quantile(v, 0.95),
            "p99_ms": quantile(v, 0.99),
            "max_ms": max(v),
        }
        for k, v in groups.items()
    }


def latency_groups(events: list[Event], by: str, since=None, until=None) -> dict[str, list]:
    """The step durations of each key of ``latency --by by``."""
    wf = _workflows(events)
    agent_of: dict[tuple[str, str], str] = {}
    groups: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if isinstance(e, LLMCall | ToolCall) and e.payload.step and e.payload.agent:
            agent_of[(e.execution_id, e.payload.step)] = e.payload.agent
        if isinstance(e, StepCompleted | StepFailed) and _in(e.ts, since, until):
            key = {
                "step": e.payload.step,
                "workflow": wf[e.execution_id],
                "agent": agent_of.get((e.execution_id, e.payload.step), ""),
            }[by]
            groups[key].append(e.payload.duration_ms)
    return dict(groups)


def price(model: str, i: int, o: int) -> float:
    per_in, per_out = PRICES[model]
    return (i * per_in + o * per_out) / 1e6


def expected_cost(events: list[Event], by: str, since=None, until=None) -> dict[str, dict]:
    wf = _workflows(events)
    out: dict[str, dict] = {}
    for e in events:
        if isinstance(e, LLMCall) and _in(e.ts, since, until):
            p = e.payload
            key = {
                "model": p.model,
                "workflow": wf[e.execution_id],
                "execution": e.execution_id,
                "day": e.ts.date().isoformat(),
                "agent": p.agent or "",
            }[by]
            row = out.setdefault(
                key,
                {"key": key, "calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0},
            )
            row["calls"] += 1
            row["input_tokens"] += p.input_tokens
            row["output_tokens"] += p.output_tokens
            row["cost_usd"] += price(p.model, p.input_tokens, p.output_tokens)
    return out


def _top(errors: Counter[str]) -> str:
    return max(errors.items(), key=lambda kv: (kv[1], kv[0]))[0] if errors else ""


def expected_failures(events: list[Event], by: str) -> dict[str, dict]:
    groups: dict[str, set[str]] = defaultdict(set)
    failed: dict[str, set[str]] = defaultdict(set)
    errors: dict[str, Counter[str]] = defaultdict(Counter)
    wf = _workflows(events)
    for e in events:
        if by == "workflow" and isinstance(e, ExecutionSubmitted):
            groups[wf[e.execution_id]].add(e.execution_id)
        if by == "workflow" and isinstance(e, ExecutionFailed):
            failed[wf[e.execution_id]].add(e.execution_id)
            errors[wf[e.execution_id]][e.payload.error.type] += 1
        if by == "step" and isinstance(e, StepCompleted | StepFailed):
            groups[e.payload.step].add(e.execution_id)
        if by == "step" and isinstance(e, StepFailed):
            failed[e.payload.step].add(e.execution_id)
            errors[e.payload.step][e.payload.error.type] += 1
    return {
        k: {
            "key": k,
            "executions": len(v),
            "failed": len(failed[k]),
            "failure_rate": len(failed[k]) / len(v),
            "top_error": _top(errors[k]),
        }
        for k, v in groups.items()
    }


def expected_slowest(events: list[Event], limit: int) -> list[dict]:
    runs: dict[str, dict] = {}
    for e in events:
        run = runs.setdefault(
            e.execution_id,
            {"execution_id": e.execution_id, "steps": 0, "cost_usd": 0.0, "end": None},
        )
        if isinstance(e, ExecutionSubmitted):
            run["workflow"] = e.payload.workflow
        if isinstance(e, ExecutionStarted):
            run["start"] = e.ts
            run["status"] = "running"
        if isinstance(e, ExecutionCompleted | ExecutionFailed):
            run["end"] = e.ts
            run["status"] = "completed" if isinstance(e, ExecutionCompleted) else "failed"
        if isinstance(e, StepCompleted | StepFailed):
            run["steps"] += 1
        if isinstance(e, LLMCall):
            p = e.payload
            run["cost_usd"] += price(p.model, p.input_tokens, p.output_tokens)
    done = [r for r in runs.values() if r["end"] is not None]
    for r in done:
        r["duration_ms"] = (r.pop("end") - r.pop("start")).total_seconds() * 1000
    done.sort(key=lambda r: (-r["duration_ms"], r["execution_id"]))
    return done[:limit]


def expected_tools(events: list[Event]) -> dict[str, dict]:
    groups: dict[str, list[ToolCall]] = defaultdict(list)
    for e in events:
        if isinstance(e, ToolCall):
            groups[e.payload.tool].append(e)
    out = {}
    for k, calls in groups.items():
        errors = sum(1 for c in calls if c.payload.error is not None)
        out[k] = {
            "key": k,
            "calls": len(calls),
            "errors": errors,
            "error_rate": errors / len(calls),
            "p95_ms": quantile([c.payload.latency_ms for c in calls], 0.95),
        }
    return out
