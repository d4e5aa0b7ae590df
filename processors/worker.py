"""The executor worker: consumes ``omium.commands`` as a consumer group and runs executions.

Commands of one execution share a partition, so one worker owns an execution at a time.
Offsets are committed only below the ``run`` commands whose executions are unfinished:
a worker that dies leaves them uncommitted, the next owner of the partition receives them
again and resumes each execution from its last checkpoint. Redelivered ``pause``/``resume``/
``cancel`` commands are recognised by the facts they caused (``causation_id``) and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from omium.processors.control import Control, load_view
from omium.processors.execution import ExecutionRunner
from omium.producers import EventLog, Record, Subscription
from omium.projections import ExecutionView
from omium.schemas import Cancel, Event, InvalidEvent, Pause, Resume, Rollback, Run
from omium.schemas.topics import COMMANDS

GROUP = "omium-executor"
CLOCK_SKEW_MS = 5 * 60 * 1000
_KEEP_FAILED = 1000
#: seconds a run handed over (partition moving, worker stopping) may take to end its step
HAND_OVER_GRACE = 30.0


@dataclass
class _Running:
    task: asyncio.Task[str]
    control: Control
    partition: tuple[str, int]
    offset: int
    applied: frozenset[str]


def default_name() -> str:
    """``host:pid``, how a worker signs the executions it starts."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Runs the executions whose commands land on the partitions it owns."""

    def __init__(
        self,
        log: EventLog,
        *,
        group: str = GROUP,
        concurrency: int = 8,
        name: str | None = None,
        poll_timeout: float = 0.2,
        notify: Callable[[str], None] | None = None,
        hand_over_grace: float = HAND_OVER_GRACE,
    ) -> None:
        self.log = log
        self.group = group
        self.name = name or default_name()
        self.poll_timeout = poll_timeout
        #: how long a run handed over may take to reach its next step boundary
        self.hand_over_grace = hand_over_grace
        self.running: dict[str, _Running] = {}
        # runs that stopped on an error, newest last (bounded: a worker runs for days)
        self.failed: dict[str, BaseException] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._consumed: dict[tuple[str, int], int] = {}
        # runs that stopped on an error: never committed past, so a restart resumes them
        self._held: set[tuple[tuple[str, int], int]] = set()
        self._notify = notify or (lambda message: None)
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume commands until ``stop`` is set; then abandon what still runs."""
        async with self.log.subscribe(
            self.group, [COMMANDS.name], on_revoked=self._hand_over
        ) as sub:
            try:
                while not stop.is_set():
                    records = await sub.poll(timeout=self.poll_timeout)
                    self.ready.set()
                    await self._drop_revoked(sub.assignment())
                    for record in records:
                        await self._handle(record)
                    self._reap()
                    await sub.commit(self._commit_offsets())
            finally:
                await self._abandon_all(sub)

    # -- commands -----------------------------------------------------------------------

    async def _handle(self, record: Record) -> None:
        pair = (record.position.topic, record.position.partition)
        try:
            command = record.event()
        except InvalidEvent as exc:
            self._notify(f"skipped unreadable command at {record.position}: {exc}")
            self._consumed[pair] = record.position.offset + 1
            return
        if isinstance(command, Run):
            await self._start(command, pair, record.position.offset, record.timestamp_ms)
        elif isinstance(command, Rollback) and not self._runs(command.execution_id):
            self._reap()  # it may have just finished
            await self._continue(command, pair, record.position.offset)
        else:
            self._control(command)
        # only now: a command whose handling failed must be delivered again
        self._consumed[pair] = record.position.offset + 1

    def _runs(self, execution_id: str) -> bool:
        running = self.running.get(execution_id)
        return running is not None and not running.task.done()

    def _control(self, command: Event) -> None:
        running = self.running.get(command.execution_id)
        if running is None or str(command.event_id) in running.applied:
            return  # finished, unknown here, or already acted on before a restart
        if isinstance(command, Pause):
            running.control.pause(command.event_id)
        elif isinstance(command, Resume):
            if command.payload.input is not None:
                running.control.give_input(command.event_id, command.payload.input)
            running.control.resume(command.event_id)
        elif isinstance(command, Rollback):
            running.control.roll_back(command)
        elif isinstance(command, Cancel):
            running.control.cancel_cause = command.event_id
            running.control.cancel_reason = command.payload.reason
            if running.control.started:
                running.task.cancel()
            # not started yet: the runner sees cancel_cause first thing and records it

    async def _start(
        self, command: Run, pair: tuple[str, int], offset: int, submitted_ms: int
    ) -> None:
        execution_id = command.execution_id
        if execution_id in self.running:
            self._notify(f"{execution_id} is already running; duplicate run ignored")
            return
        # A generated id is new, so its events all come after its run command (less a margin
        # for clocks that differ between hosts): Kafka need not scan the partition from the
        # start. A caller-chosen id may repeat an old execution: read all of it.
        since = submitted_ms - CLOCK_SKEW_MS if command.payload.fresh_id else None
        view = await load_view(self.log, execution_id, since_ms=since)
        if view.finished:
            return
        if view.status != "unknown":
            self._notify(f"resuming {execution_id} after its last checkpoint")
        control = Control(paused=view.status == "paused")  # a resume may follow at once
        self._launch(command, control, view, pair, offset)

    async def _continue(self, command: Rollback, pair: tuple[str, int], offset: int) -> None:
        """A rollback of an execution that does not run here (finished, or never started).

        Its offset is then held like a run's: a worker that dies mid-way leaves it
        uncommitted, and the next owner resumes the new attempt (the rollback already
        recorded) or performs it (not recorded yet).
        """
        execution_id = command.execution_id
        original = command.payload.run
        if original is None:
            self._notify(f"{execution_id}: rollback without the original run; ignored")
            return
        view = await load_view(self.log, execution_id)
        applied = str(command.event_id) in view.applied_commands
        if view.status == "unknown" or (applied and view.finished):
            return
        run = Run(
            event_id=command.event_id,
            execution_id=execution_id,
            tenant_id=command.tenant_id,
            payload=original,
        )
        control = Control(paused=view.status == "paused")
        if not applied:
            control.roll_back(command)
        self._launch(run, control, view, pair, offset)

    def _launch(
        self,
        command: Run,
        control: Control,
        view: ExecutionView,
        pair: tuple[str, int],
        offset: int,
    ) -> None:
        """Run ``command``'s execution in a task, held uncommitted at ``offset`` until done."""
        runner = ExecutionRunner(self.log, command, control, worker=self.name)
        name = f"omium:{command.execution_id}"
        task = asyncio.create_task(runner.run(view, self._slots), name=name)
        self.running[command.execution_id] = _Running(
            task, control, pair, offset, view.applied_commands
        )

    # -- bookkeeping --------------------------------------------------------------------

    def _reap(self) -> None:
        for execution_id, running in list(self.running.items()):
            if not running.task.done() or running.control.handing_over:
                continue  # a run handed over leaves with its partition (see _hand_over)
            del self.running[execution_id]
            if running.task.cancelled():
                continue
            error = running.task.exception()
            if error is not None:
                # e.g. the log became unavailable: the run is unfinished in the log, so its
                # offset stays uncommitted and the next owner resumes it
                self._notify(f"{execution_id} stopped: {type(error).__name__}: {error}")
                self._held.add((running.partition, running.offset))
                self.failed[execution_id] = error
                while len(self.failed) > _KEEP_FAILED:
                    del self.failed[next(iter(self.failed))]

    def _commit_offsets(self) -> dict[tuple[str, int], int]:
        offsets = dict(self._consumed)
        for running in self.running.values():
            offsets[running.partition] = min(
                offsets.get(running.partition, running.offset), running.offset
            )
        for pair, offset in self._held:
            offsets[pair] = min(offsets.get(pair, offset), offset)
        return offsets

    async def _hand_over(self, partitions: frozenset[tuple[str, int]]) -> None:
        """Stop the runs of partitions moving to another worker, before they move."""
        stopping = [
            (execution_id, running)
            for execution_id, running in self.running.items()
            if running.partition in partitions and not running.control.handing_over
        ]
        for execution_id, _ in stopping:
            self._notify(f"{execution_id}: partition moves to another worker; handing over")
        # they stay in self.running meanwhile: a commit made while they finish their step
        # holds their run commands, so the next owner receives them
        await self._stop_runs(stopping)
        for execution_id, running in stopping:
            if self.running.get(execution_id) is running:
                del self.running[execution_id]
        for pair in partitions:
            self._consumed.pop(pair, None)

    async def _stop_runs(self, runs: list[tuple[str, _Running]]) -> None:
        """End ``runs`` at their next step boundary, all they did recorded; cut the late ones.

        A run parked in a pause or waiting for input (nothing in flight) stops at once; one
        in a step is given :attr:`hand_over_grace` to finish it, so the next owner does not
        run that step again. A step still running then is cut, and runs again where the
        execution is resumed (at-least-once, as after a crash).
        """
        if not runs:
            return
        for _, running in runs:
            control = running.control
            control.hand_over()
            if control.parked or not control.started:
                running.task.cancel()
        tasks = {running.task: execution_id for execution_id, running in runs}
        if any(not task.done() for task in tasks):
            busy = ", ".join(i for t, i in tasks.items() if not t.done())
            self._notify(
                f"waiting for {busy} to reach a step boundary (at most {self.hand_over_grace:g} s)"
            )
        _, late = await asyncio.wait(tasks, timeout=self.hand_over_grace)
        for task in late:
            self._notify(f"{tasks[task]}: its step did not end in time; cut (it runs again)")
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _drop_revoked(self, owned: frozenset[tuple[str, int]]) -> None:
        """A safety net: hand over what the subscription's hook did not (not owned any more)."""
        lost = {r.partition for r in self.running.values()} | set(self._consumed)
        if lost - owned:
            await self._hand_over(frozenset(lost - owned))

    async def _abandon_all(self, sub: Subscription) -> None:
        """Stopping: hand every run over at a step boundary; their offsets stay uncommitted."""
        runs = list(self.running.items())
        await self._stop_runs(runs)
        for execution_id, running in runs:
            if running.task.cancelled():  # ended unfinished: someone must go on with it
                self._notify(f"{execution_id} stopped unfinished; the next worker continues it")
        with contextlib.suppress(Exception):
            await sub.commit(self._commit_offsets())
        self.running.clear()
