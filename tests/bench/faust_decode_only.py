"""faust's own decode-only agent: the ceiling the projections' fold is measured against.

    python tests/bench/faust_decode_only.py BOOTSTRAP PREFIX DATADIR

A faust app configured as :func:`omium.processors.faust_app.build_app` configures the
projections (same broker settings, raw codecs, the same batches of ``take_events``), whose
one agent reads ``PREFIX`` + ``omium.events`` and only decodes each record with
:func:`omium.schemas.decode`: no table, no changelog writes. ``bench_projections.py`` runs
it as a subprocess on the same records as the fold and times it the same way (Ready →
offsets committed by its consumer group, ``PREFIX`` + :data:`GROUP`).
"""

from __future__ import annotations

import sys

import faust

from omium.processors.faust_app import BATCH, WITHIN
from omium.schemas import decode
from omium.schemas.topics import EVENTS

#: the decode-only app's id (its consumer group), after the topic prefix
GROUP = "omium-decode-only"


def decode_app(bootstrap: str, prefix: str, datadir: str) -> faust.App:
    """The decode-only app on ``prefix``'s events topic."""
    app = faust.App(
        prefix + GROUP,
        broker=[f"kafka://{host}" for host in bootstrap.split(",")],
        store="memory://",
        datadir=datadir,
        web_enabled=False,
        topic_partitions=EVENTS.partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
    )
    events = app.topic(
        prefix + EVENTS.name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    @app.agent(events)
    async def decode_only(stream: faust.StreamT[bytes]) -> None:
        async for batch in stream.take_events(BATCH, within=WITHIN):  # type: ignore[attr-defined]
            for event in batch:
                decode(event.value)

    return app


if __name__ == "__main__":
    bootstrap, prefix, datadir = sys.argv[1:4]
    app = decode_app(bootstrap, prefix, datadir)
    worker = faust.Worker(app, loglevel="info", redirect_stdouts=False)
    worker.execute_from_commandline()
