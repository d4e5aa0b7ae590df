"""The executor worker: consumes ``omium.commands`` as a consumer group and runs executions.

Commands of one execution share a partition, so one worker owns an execution at a time.
Offsets are committed only below the ``run`` commands whose executions are unfinished:
a worker that dies leaves them uncommitted, the next owner of the partition receives them
again and resumes each execution from its last checkpoint. Redelivered ``pause``/``resume``/
``cancel`` commands are recognised by the facts they caused (``causation_id``) and skipped.

No read on the way to a new run (:class:`~omium.processors.deliveries.FirstDelivery`):
a run command first delivered since this worker got its partition, for an id the submitter
generated, names an execution with no events yet, so it starts at once. Every other run
command (delivered again, a chosen id, a restart) folds the execution's events first.

The log may become unreachable (a broker, coordinator or controller failing over, a stall):
the worker then retries with backoff (:mod:`omium.processors.outage`), keeps the commands it
has not handled yet, and resumes each run whose writes failed from its last checkpoint once
the log answers again. Only an outage longer than its limit ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from omium.processors.control import Control, load_view
from omium.processors.deliveries import FirstDelivery
from omium.processors.execution import ExecutionRunner
from omium.processors.outage import GIVE_UP_AFTER, Freezes, Outage
from omium.producers import EventLog, Record, Subscription
from omium.projections import ExecutionView
from omium.schemas import Cancel, Event, InvalidEvent, LogUnavailable, Pause, Resume, Rollback, Run
from omium.schemas.topics import COMMANDS, EVENTS

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
    record: Record  # the command that started it (a run whose writes failed restarts from it)
    runner: ExecutionRunner


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
        give_up_after: float = GIVE_UP_AFTER,
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
        #: the log as this worker sees it (``outage.state`` for ``/readyz``)
        self.outage = Outage(self._notify, give_up_after=give_up_after)
        #: whether this worker stood still (replaced in run, by the subscription's session)
        self.freezes = Freezes(asyncio.Event(), 3.0, self._notify)
        # shared by every run's Control: clear while the log fails, so no step starts then
        self._log_ready = asyncio.Event()
        self._log_ready.set()
        # commands received but not handled yet (the log failed meanwhile): handled first
        self._backlog: list[Record] = []
        # runs whose writes failed (log unavailable): restarted from their last checkpoint
        self._retry: dict[str, _Running] = {}
        # the partitions the subscription owns now (set by run)
        self._owned: Callable[[], frozenset[tuple[str, int]]] = frozenset
        # per partition, how often it was handed over: a command handled across a hand-over
        # (awaiting the log) neither starts a run nor is committed (its next owner does both)
        self._epochs: dict[tuple[str, int], int] = {}
        # which run commands name an execution with no events (started without a read)
        self.deliveries = FirstDelivery(log)
        # the offsets committed last (a hand-over forgets them: the next commit is made)
        self._committed: dict[tuple[str, int], int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Consume commands until ``stop`` is set; then abandon what still runs.

        Raises:
            WorkerGaveUp: the log stayed unreachable longer than ``give_up_after``.
        """
        sub = self.log.subscribe(self.group, [COMMANDS.name], on_revoked=self._hand_over)
        self._owned = sub.assignment
        # a heartbeat interval's gap may already cost the session (see Freezes)
        self.freezes = Freezes(self._log_ready, min(3.0, sub.session_timeout / 3), self._notify)
        ticking = asyncio.create_task(self.freezes.run(), name="omium-freezes")
        try:
            while not stop.is_set():
                try:
                    failures = await self._cycle(sub)
                    if self.freezes.suspect:
                        await self._confirm(sub)
                    if not failures and not self._retry and not self._log_ready.is_set():
                        # a cycle can pass with the log down (a poll that found nothing
                        # says nothing): no step starts again before the log has answered
                        await self.log.end_offsets(EVENTS.name)
                except LogUnavailable as exc:
                    self._log_ready.clear()
                    await self.outage.failed(exc, stop)
                    continue
                if failures:
                    self._log_ready.clear()
                    self.outage.note(failures[-1])
                elif not self._retry and not self.freezes.suspect:
                    self.outage.recovered()
                    self._log_ready.set()
        finally:
            ticking.cancel()
            try:
                await self._abandon_all(sub)
            finally:
                await sub.close()

    async def _confirm(self, sub: Subscription) -> None:
        """After a freeze: the runs go on once a commit proves this member owns its share.

        A refused commit means the group moved partitions on while this worker stood
        still: the subscription rejoins and hands them over (their runs, parked at their
        step boundary, stop without writing); the next commit, of the new generation,
        then confirms what is left.
        """
        offsets = self._commit_offsets()
        if await sub.commit(offsets):
            self._committed = offsets
            self.freezes.cleared()

    async def _cycle(self, sub: Subscription) -> list[BaseException]:
        """Poll, handle, restart failed runs, commit; the errors runs stopped on meanwhile."""
        if not self._backlog:
            self._backlog = await sub.poll(timeout=self.poll_timeout)
        self.ready.set()
        await self._drop_revoked(sub.assignment())
        # before any record of a partition just received is handled (see FirstDelivery)
        await self.deliveries.received(
            sub.assignment(), lambda pair: self._epochs.get(pair, 0), self._still_owned
        )
        while self._backlog:
            record = self._backlog[0]
            await self._handle(record)
            if self._backlog and self._backlog[0] is record:  # a hand-over may have cut it
                self._backlog.pop(0)
        failures = self._reap()
        await self._restart_failed()
        offsets = self._commit_offsets()
        if offsets != self._committed:  # a commit is a round trip: none when nothing moved
            await sub.commit(offsets)
            self._committed = offsets
        return failures

    # -- commands -----------------------------------------------------------------------

    async def _handle(self, record: Record) -> None:
        pair = (record.position.topic, record.position.partition)
        epoch = self._epochs.get(pair, 0)
        try:
            command = record.event()
        except InvalidEvent as exc:
            self._notify(f"skipped unreadable command at {record.position}: {exc}")
            self._consumed[pair] = record.position.offset + 1
            return
        if isinstance(command, Run):
            await self._start(command, record, epoch, new=self.deliveries.is_new(command, record))
        elif isinstance(command, Rollback) and not self._runs(command.execution_id):
            self._reap()  # it may have just finished
            await self._continue(command, record, epoch)
        else:
            self._control(command)
        # only now: a command whose handling failed must be delivered again; nor is one
        # committed whose partition moved while it was handled (its next owner handles it)
        if self._epochs.get(pair, 0) == epoch and pair in self._owned():
            self._consumed[pair] = record.position.offset + 1

    def _still_owned(self, pair: tuple[str, int]) -> bool:
        return pair in self._owned()

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
        self,
        command: Run,
        record: Record,
        epoch: int,
        control: Control | None = None,
        *,
        new: bool = False,
    ) -> None:
        """Run (or resume) ``command``'s execution; ``new``: it has no events (not read)."""
        execution_id = command.execution_id
        previous = self.running.get(execution_id)
        if previous is not None and previous.control.handing_over:
            # delivered again while an earlier run of it still ends its step: that one goes
            await asyncio.wait([previous.task], timeout=self.hand_over_grace + 5)
            if self.running.get(execution_id) is previous and previous.task.done():
                del self.running[execution_id]
        self._reap()  # a run that just ended on an error is restarted below, not ignored
        if execution_id in self.running:
            self._notify(f"{execution_id} is already running; duplicate run ignored")
            return
        # A generated id is new, so its events all come after its run command (less a margin
        # for clocks that differ between hosts): Kafka need not scan the partition from the
        # start. A caller-chosen id may repeat an old execution: read all of it.
        since = record.timestamp_ms - CLOCK_SKEW_MS if command.payload.fresh_id else None
        if new:
            view = ExecutionView(execution_id=execution_id)
        else:
            view = await load_view(self.log, execution_id, since_ms=since)
        if view.finished:
            return
        if view.status != "unknown":
            self._notify(f"resuming {execution_id} after its last checkpoint")
        if control is None:
            control = self._control_for(paused=view.status == "paused")  # a resume may follow
        self._launch(command, control, view, record, epoch)

    async def _continue(
        self, command: Rollback, record: Record, epoch: int, control: Control | None = None
    ) -> None:
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
        # from its first event when it ran here (else the partition's start)
        start = self.deliveries.first_offset(execution_id)
        view = await load_view(self.log, execution_id, start=start)
        applied = str(command.event_id) in view.applied_commands
        if view.status == "unknown" or (applied and view.finished):
            return
        run = Run(
            event_id=command.event_id,
            execution_id=execution_id,
            tenant_id=command.tenant_id,
            payload=original,
        )
        if control is None:
            control = self._control_for(paused=view.status == "paused")
        if not applied:
            control.roll_back(command)
        self._launch(run, control, view, record, epoch)

    def _launch(
        self, command: Run, control: Control, view: ExecutionView, record: Record, epoch: int
    ) -> None:
        """Run ``command``'s execution in a task, held uncommitted at its offset until done.

        Not if the partition was handed over since ``epoch`` (the log was read meanwhile):
        its next owner (maybe this worker again) receives the command again and runs it.
        """
        pair = (record.position.topic, record.position.partition)
        if self._epochs.get(pair, 0) != epoch or pair not in self._owned():
            self._notify(f"{command.execution_id}: partition moved meanwhile; not started here")
            return
        runner = ExecutionRunner(self.log, command, control, worker=self.name)
        name = f"omium:{command.execution_id}"
        task = asyncio.create_task(runner.run(view, self._slots), name=name)
        self.running[command.execution_id] = _Running(
            task, control, pair, record.position.offset, view.applied_commands, record, runner
        )
        self.deliveries.started(command.execution_id, runner.first_offset)

    def _control_for(self, *, paused: bool) -> Control:
        control = Control(paused=paused)
        control.log_ready = self._log_ready
        control.frozen = self.freezes.frozen
        return control

    # -- bookkeeping --------------------------------------------------------------------

    def _reap(self) -> list[BaseException]:
        """Forget the runs that ended; keep those that failed to write for a restart."""
        unavailable: list[BaseException] = []
        for execution_id, running in list(self.running.items()):
            if not running.task.done() or running.control.handing_over:
                continue  # a run handed over leaves with its partition (see _hand_over)
            del self.running[execution_id]
            self.deliveries.started(execution_id, running.runner.first_offset)
            if running.task.cancelled():
                continue
            error = running.task.exception()
            if isinstance(error, LogUnavailable):
                # its writes failed: it is unfinished in the log, and this worker still owns
                # it, so it goes on from its last checkpoint once the log answers
                self._notify(f"{execution_id} paused by the log: {error}; it resumes")
                self._retry[execution_id] = running
                unavailable.append(error)
            elif error is not None:
                # e.g. the log became unavailable: the run is unfinished in the log, so its
                # offset stays uncommitted and the next owner resumes it
                self._notify(f"{execution_id} stopped: {type(error).__name__}: {error}")
                self._held.add((running.partition, running.offset))
                self.failed[execution_id] = error
                while len(self.failed) > _KEEP_FAILED:
                    del self.failed[next(iter(self.failed))]
        return unavailable

    async def _restart_failed(self) -> None:
        """Start again, from their last checkpoint, the runs whose writes failed.

        The new run keeps the old one's commands (a pause, a cancel not recorded yet). A
        restart that fails on the log leaves the run here for the next cycle.
        """
        for execution_id, old in list(self._retry.items()):
            if self._retry.get(execution_id) is not old:
                continue  # handed over meanwhile
            epoch = self._epochs.get(old.partition, 0)
            command = old.record.event()
            control = self._control_for(paused=not old.control.running.is_set())
            control.pause_cause, control.resume_cause = old.control.pause_cause, None
            control.cancel_cause = old.control.cancel_cause
            control.cancel_reason = old.control.cancel_reason
            if isinstance(command, Run):
                await self._start(command, old.record, epoch, control)
            elif isinstance(command, Rollback):
                await self._continue(command, old.record, epoch, control)
            if self._epochs.get(old.partition, 0) != epoch:
                continue  # handed over meanwhile (which dropped it)
            if execution_id in self.running or old.partition in self._owned():
                # running again, or nothing left to run (finished); else it stays held here
                # until the partition is handed over (see _drop_revoked)
                if self._retry.get(execution_id) is old:
                    del self._retry[execution_id]

    def _commit_offsets(self) -> dict[tuple[str, int], int]:
        offsets = dict(self._consumed)
        for running in self.running.values():
            offsets[running.partition] = min(
                offsets.get(running.partition, running.offset), running.offset
            )
        for pair, offset in self._held | {(r.partition, r.offset) for r in self._retry.values()}:
            offsets[pair] = min(offsets.get(pair, offset), offset)
        return offsets

    async def _hand_over(self, partitions: frozenset[tuple[str, int]]) -> None:
        """Stop the runs of partitions moving to another worker, before they move."""
        for pair in partitions:  # first: a command being handled now must not start a run
            self._epochs[pair] = self._epochs.get(pair, 0) + 1
            self._consumed.pop(pair, None)
        # and none received already is handled while the runs below stop: handled then, it
        # would take the new epoch for its own, run, and move the commit past a command
        # refused above, which nobody would receive again (its next owner starts from the
        # commit). The next owner receives them all again.
        self._backlog = [
            r for r in self._backlog if (r.position.topic, r.position.partition) not in partitions
        ]
        # nor is a run whose write failed restarted here meanwhile (it would take the new
        # epoch too, outlive this hand-over, and make the next delivery a "duplicate")
        for execution_id, running in list(self._retry.items()):
            if running.partition in partitions:
                del self._retry[execution_id]
        # runs already handed over by another call are waited for too: the partitions must
        # not move (and their commands be delivered again) while any of their runs goes on
        stopping = [
            (execution_id, running)
            for execution_id, running in self.running.items()
            if running.partition in partitions
        ]
        for execution_id, running in stopping:
            if not running.control.handing_over:
                self._notify(f"{execution_id}: partition moves to another worker; handing over")
        # they stay in self.running meanwhile: a commit made while they finish their step
        # holds their run commands, so the next owner receives them
        await self._stop_runs(stopping)
        for execution_id, running in stopping:
            if self.running.get(execution_id) is running:
                del self.running[execution_id]
        for pair in partitions:
            self._consumed.pop(pair, None)
        self._committed = {}
        self.deliveries.forget(partitions)

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
        if late:
            await asyncio.wait(late, timeout=5.0)  # a cut run ends at once (bounded anyway)
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()  # seen: the hand-over says what became of each run

    async def _drop_revoked(self, owned: frozenset[tuple[str, int]]) -> None:
        """A safety net: hand over what the subscription's hook did not (not owned any more)."""
        lost = {r.partition for r in self.running.values()} | set(self._consumed)
        lost |= {r.partition for r in self._retry.values()}
        lost |= {(r.position.topic, r.position.partition) for r in self._backlog}
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
