"""The SQL of the analytics questions, and the read-only check of ``omium analytics sql``.

One dialect for chDB and a server: ``{name:Type}`` parameters bound by the engine, exact
quantiles (``quantilesExactInclusive``: linear interpolation, as numpy and Python's
``statistics.quantiles(method="inclusive")`` compute them), ``FINAL`` on ``executions`` (a
ReplacingMergeTree). Needs ClickHouse 23.3 or newer (``{x:T}`` parameters over HTTP,
``non_replicated_deduplication_window`` with ``insert_deduplication_token``,
``DateTime64``, ``Map``); developed on the engine of chDB 4.4 (ClickHouse 26.9).
"""

from __future__ import annotations

import re

from omium.schemas import InvalidQuery

#: every question's rows: one tenant, inside the window, of one workflow when asked
_SCOPE = (
    "tenant_id = {{tenant:String}} AND {time} >= {{since:DateTime64(3, 'UTC')}} "
    "AND {time} < {{until:DateTime64(3, 'UTC')}} "
    "AND ({{workflow:String}} = '' OR workflow = {{workflow:String}})"
)

#: the rows of a daily rollup inside the window's whole days (``Scope.days``)
_DAYS = (
    " WHERE tenant_id = {tenant:String}"
    " AND day >= {day_from:DateTime('UTC')} AND day < {day_to:DateTime('UTC')}"
    " AND ({workflow:String} = '' OR workflow = {workflow:String})"
)
#: the base rows of the window's partial first and last days (with ``_SCOPE``)
_EDGES = " AND ({time} < {{day_from:DateTime('UTC')}} OR {time} >= {{day_to:DateTime('UTC')}})"

LATENCY_KEYS = {"agent": "agent", "step": "step", "workflow": "workflow"}
LATENCY = (
    "SELECT toString({key}) AS key, count() AS count, "
    "quantilesExactInclusive(0.5, 0.95, 0.99)(duration_ms) AS q, "
    "q[1] AS p50_ms, q[2] AS p95_ms, q[3] AS p99_ms, max(duration_ms) AS max_ms "
    "FROM steps WHERE " + _SCOPE.format(time="ended_at") + " "
    "GROUP BY key ORDER BY p95_ms DESC, key"
)

#: ``LATENCY`` from the daily rollup (0008_latency_rollup.sql): the t-digests of the whole
#: days of the window (``day_from <= day < day_to``, see ``Scope.days``), merged with
#: digests of the steps of its partial first and last days read from ``steps``
LATENCY_ROLLUP = (
    "SELECT toString({key}) AS key, sum(n) AS count, "
    "quantilesTDigestMerge(0.5, 0.95, 0.99)(d) AS q, "
    "q[1] AS p50_ms, q[2] AS p95_ms, q[3] AS p99_ms, max(m) AS max_ms FROM ("
    " SELECT workflow, step, agent, steps AS n, max_ms AS m, duration AS d"
    " FROM steps_latency_daily WHERE tenant_id = {tenant:String}"
    " AND day >= {day_from:DateTime('UTC')} AND day < {day_to:DateTime('UTC')}"
    " AND ({workflow:String} = '' OR workflow = {workflow:String})"
    " UNION ALL"
    " SELECT workflow, step, agent, count() AS n, max(duration_ms) AS m,"
    " quantilesTDigestState(0.5, 0.95, 0.99)(duration_ms) AS d FROM steps"
    " WHERE " + _SCOPE.format(time="ended_at") + " AND (ended_at < {day_from:DateTime('UTC')}"
    " OR ended_at >= {day_to:DateTime('UTC')}) GROUP BY workflow, step, agent"
    ") GROUP BY key ORDER BY p95_ms DESC, key"
)

COST_KEYS = {
    "model": "model",
    "workflow": "workflow",
    "execution": "execution_id",
    "day": "toDate(ts)",
    "agent": "agent",
}
COST = (
    "SELECT toString({key}) AS key, count() AS calls, sum(input_tokens) AS input_tokens, "
    "sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd "
    "FROM llm_calls WHERE " + _SCOPE.format(time="ts") + " "
    "GROUP BY key ORDER BY cost_usd DESC, key"
)

#: ``COST`` from the daily rollup (0009_daily_rollups.sql): the sums of the window's whole
#: days, plus its partial first and last days read from ``llm_calls`` (``--by execution``
#: reads ``COST``: the rollup has no execution)
COST_ROLLUP_KEYS = {"model": "model", "workflow": "workflow", "day": "d", "agent": "agent"}
COST_ROLLUP = (
    "SELECT toString({key}) AS key, sum(n) AS calls, sum(i) AS input_tokens, "
    "sum(o) AS output_tokens, sum(c) AS cost_usd FROM ("
    " SELECT workflow, model, agent, toDate(day) AS d, calls AS n, input_tokens AS i,"
    " output_tokens AS o, cost_usd AS c FROM llm_calls_daily" + _DAYS + " UNION ALL"
    " SELECT workflow, model, agent, toDate(ts) AS d, count() AS n, sum(input_tokens) AS i,"
    " sum(output_tokens) AS o, sum(cost_usd) AS c FROM llm_calls"
    " WHERE "
    + _SCOPE.format(time="ts")
    + _EDGES.format(time="ts")
    + " GROUP BY workflow, model, agent, d"
    ") GROUP BY key ORDER BY cost_usd DESC, key"
)

#: the most common error (ties: the greatest name) among the failed rows of each key: an
#: aggregate over the few failed rows joined to the counts (a window function over every
#: row cost 30x more at 10M steps)
_TOP_ERROR = (
    "SELECT key, argMax(error_type, (n, error_type)) AS top_error FROM ("
    " SELECT {key} AS key, error_type, count() AS n FROM {table} WHERE {failed} AND {scope}"
    " GROUP BY key, error_type) GROUP BY key"
)
_FAILURES = (
    "SELECT key, executions, failed, if(executions = 0, 0, failed / executions) AS failure_rate,"
    " top_error FROM ("
    " SELECT {key} AS key, {executions} AS executions, {failures} AS failed"
    " FROM {table} WHERE {scope} GROUP BY key"
    ") AS counts LEFT JOIN (" + _TOP_ERROR + ") AS errors USING key "
    "ORDER BY failure_rate DESC, key"
)
FAILURES = {
    "workflow": _FAILURES.format(
        key="workflow",
        table="executions FINAL",
        executions="count()",
        failures="countIf(status IN ('failed', 'timed_out'))",
        failed="status IN ('failed', 'timed_out')",
        scope=_SCOPE.format(time="coalesce(started_at, submitted_at, ended_at)"),
    ),
    "step": _FAILURES.format(
        key="step",
        table="steps",
        # each execution's first run and first failure of the step, marked at ingest
        # (0007_step_firsts.sql): a distinct count here cost 30 s over 10M steps
        executions="sum(first_run)",
        failures="sum(first_failure)",
        failed="status = 'failed'",
        scope=_SCOPE.format(time="ended_at"),
    ),
}

#: ``FAILURES`` from the daily rollups (0009_daily_rollups.sql), whole days plus the
#: partial first and last days from the base rows: per key and error type, the counted
#: executions (or first runs), the failed ones, and the failed rows (for ``top_error``)
_FAILURES_ROLLUP = (
    "SELECT key, sum(runs) AS executions, sum(fails) AS failed,"
    " if(executions = 0, 0, failed / executions) AS failure_rate,"
    " argMaxIf(error_type, (errors, error_type), errors > 0) AS top_error FROM ("
    " SELECT {key} AS key, error_type, sum(r) AS runs, sum(f) AS fails, sum(e) AS errors FROM ("
    "  SELECT {key}, error_type, {rollup} FROM {daily}"
    + _DAYS.replace("{", "{{").replace("}", "}}")
    + " UNION ALL"
    "  SELECT {key}, error_type, {base} FROM {table} WHERE {scope}{edges}"
    " ) GROUP BY key, error_type"
    ") GROUP BY key {having}ORDER BY failure_rate DESC, key"
)
_BAD = "status IN ('failed', 'timed_out')"
FAILURES_ROLLUP = {
    # an execution counts once, on its latest state: the changes of `execution_changes`
    # sum to +1 there (a key whose executions all moved away sums to 0: not listed)
    "workflow": _FAILURES_ROLLUP.format(
        key="workflow",
        daily="executions_daily",
        rollup=f"executions AS r, if({_BAD}, r, 0) AS f, f AS e",
        table="execution_changes",
        base=f"change AS r, if({_BAD}, r, 0) AS f, f AS e",
        scope=_SCOPE.format(time="at"),
        edges=_EDGES.format(time="at"),
        having="HAVING executions > 0 ",
    ),
    "step": _FAILURES_ROLLUP.format(
        key="step",
        daily="steps_failures_daily",
        rollup="first_runs AS r, first_failures AS f, failed AS e",
        table="steps",
        base="first_run AS r, first_failure AS f, toUInt64(status = 'failed') AS e",
        scope=_SCOPE.format(time="ended_at"),
        edges=_EDGES.format(time="ended_at"),
        having="",
    ),
}

SLOWEST = (
    "SELECT execution_id, workflow, status, "
    "toFloat64(toUnixTimestamp64Milli(ended_at) "
    "  - toUnixTimestamp64Milli(coalesce(started_at, submitted_at))) AS duration_ms, "
    "steps, cost_usd FROM executions FINAL "
    "WHERE ended_at IS NOT NULL AND coalesce(started_at, submitted_at) IS NOT NULL AND "
    + _SCOPE.format(time="coalesce(started_at, submitted_at)")
    + " ORDER BY duration_ms DESC, execution_id LIMIT {limit:UInt32}"
)

TOOLS = (
    "SELECT tool AS key, count() AS calls, countIf(error_type != '') AS errors, "
    "errors / calls AS error_rate, quantileExactInclusive(0.95)(latency_ms) AS p95_ms "
    "FROM tool_calls WHERE " + _SCOPE.format(time="ts") + " GROUP BY key ORDER BY calls DESC, key"
)

#: the tables with a ``tenant_id`` column, and those a tenant-scoped query must not read
TENANT_TABLES = (
    "events",
    "steps",
    "llm_calls",
    "tool_calls",
    "executions",
    "steps_hourly",
    "llm_calls_hourly",
    "steps_latency_daily",
    "llm_calls_daily",
    "steps_failures_daily",
    "execution_changes",
    "executions_daily",
)
HIDDEN_TABLES = ("sink_batches", "omium_migrations")


def tenant_filters(tenant: str) -> dict[str, str]:
    """``additional_table_filters`` that scope every omium table to ``tenant``."""
    quoted = "'" + tenant.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return {
        **{t: f"tenant_id = {quoted}" for t in TENANT_TABLES},
        **dict.fromkeys(HIDDEN_TABLES, "0"),
    }


_READ = ("SELECT", "WITH", "EXPLAIN", "SHOW", "DESCRIBE", "DESC", "EXISTS")
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


def read_only(text: str) -> str:
    """``text`` if it is one read-only statement; otherwise :class:`InvalidQuery`.

    The store also runs it with ``readonly=1``; this check gives the one-line reason first.
    """
    statement = _COMMENT.sub(" ", text).strip().rstrip(";").strip()
    if not statement:
        raise InvalidQuery(
            "empty SQL", hint='e.g. omium analytics sql "SELECT count() FROM events"'
        )
    if ";" in _strip_strings(statement):
        raise InvalidQuery("one statement at a time, please")
    first = statement.split(None, 1)[0].upper()
    if first not in _READ:
        raise InvalidQuery(
            f"{first} is not allowed: analytics SQL is read-only",
            hint=f"start with {', '.join(_READ[:3])}",
        )
    return statement


def _strip_strings(text: str) -> str:
    return re.sub(r"'(?:[^'\\]|\\.)*'", "''", text)
