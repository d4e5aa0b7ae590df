"""Workflows by name: register versions on ``omium.registry``, list them, run one by name.

A remote client cannot hand a worker a file path, so a workflow is registered once (by
``omium workflows register``, or by ``omium worker --workflows DIR`` for what that worker
can run) and submitted by name afterwards. The version is a content hash (see
:mod:`omium.processors.versions`): a run records the version it was submitted with, and a
worker whose files give another one fails the run rather than run other code.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omium.processors.versions import workflow_version
from omium.projections.workflows import WorkflowVersion, registry
from omium.schemas import ConfigError, NotFound, WorkflowRegistered, from_dict, workflow_key
from omium.schemas.topics import REGISTRY
from omium.schemas.workflow import WorkflowSpec, spec_from_data
from omium.services.context import Omium, Versions
from omium.services.models import Submitted, WorkflowOut
from omium.services.refreshed import Refreshed
from omium.services.runs import submit
from omium.services.workflows import load_workflow

#: what a workflow name looks like (a file path has a folder or a suffix)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

#: ids derived from an Idempotency-Key live in this namespace (one per tenant)
IDEMPOTENCY = uuid.UUID("6f6d6975-6d00-4000-8000-000000000001")

#: the age of a kept copy of the registry past which it is read again in the background
FRESH_S = 0.25
#: the oldest copy a use is answered from: another process's registration shows within it
MAX_AGE_S = 0.75


async def _read(app: Omium) -> Versions:
    records = await app.log.read(REGISTRY.name, 0, 0)
    events = [e for e in (r.event() for r in records) if isinstance(e, WorkflowRegistered)]
    return registry(events)


def keep_copy(app: Omium) -> None:
    """Answer ``app``'s registry reads from a copy at most :data:`MAX_AGE_S` old.

    For a long-lived process under many submissions (the gateway): a submission then
    does not read the registry topic. What this process registers is seen at once; what
    another process registers, within :data:`MAX_AGE_S` — and at once by a submission
    naming it (a name or version the copy lacks is looked up again before it is refused).
    """
    app.registry = Refreshed(lambda: _read(app), FRESH_S, MAX_AGE_S)


async def versions(app: Omium, *, fresh: bool = False) -> Versions:
    """Every registered workflow and its versions (the registry is small: read it whole).

    From ``app``'s kept copy if it has one (:func:`keep_copy`), unless ``fresh``.
    """
    if app.registry is None:
        return await _read(app)
    return await (app.registry.fresh() if fresh else app.registry.get())


def _out(found: WorkflowVersion, current: bool) -> WorkflowOut:
    return WorkflowOut(
        name=found.name,
        version=found.version,
        source=found.source,
        modules=list(found.modules),
        registered_at=found.registered_at,
        current=current,
    )


async def workflows(app: Omium) -> list[WorkflowOut]:
    """``omium workflows list``: each version of each workflow, by name, oldest first."""
    out = []
    for _, found in sorted((await versions(app)).items()):
        out += [_out(v, current=v is found[-1]) for v in found]
    return out


async def register(app: Omium, path: Path) -> WorkflowOut:
    """Register the workflow file ``path`` (checked and hashed); again changes nothing."""
    spec = load_workflow(path)
    source = path.resolve()
    version, modules = workflow_version(spec, source)
    known = (await versions(app, fresh=True)).get(spec.name, [])
    same = next((v for v in known if v.version == version and v.source == str(source)), None)
    if same is None:
        event = from_dict(
            {
                "type": "workflow.registered",
                "execution_id": workflow_key(spec.name),
                "tenant_id": app.tenant,
                "payload": {
                    "name": spec.name,
                    "version": version,
                    "spec": spec.model_dump(mode="json"),
                    "source": str(source),
                    "modules": modules,
                },
            }
        )
        await app.log.append(event)
        known = (await versions(app, fresh=True)).get(spec.name, [])
        same = next(v for v in known if v.version == version)
    return _out(same, current=same.version == known[-1].version)


async def register_folder(app: Omium, folder: Path) -> list[WorkflowOut]:
    """Register every workflow file (``*.yaml``, ``*.yml``, ``*.json``) in ``folder``."""
    if not folder.is_dir():
        raise ConfigError(
            f"--workflows {folder}: not a folder", hint="give the folder of your workflow files"
        )
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    if not files:
        raise ConfigError(f"--workflows {folder}: no workflow files (*.yaml, *.yml, *.json) in it")
    return [await register(app, path) for path in files]


async def resolve(app: Omium, name: str, version: str | None = None) -> WorkflowVersion:
    """The registered ``version`` of workflow ``name`` (default: its current one)."""
    known = (await versions(app)).get(name)
    if app.registry is not None and (
        not known or (version is not None and all(v.version != version for v in known))
    ):
        known = (await versions(app, fresh=True)).get(name)  # registered since the copy?
    if not known:
        raise NotFound(
            f"no workflow {name!r} is registered",
            hint="register it with `omium workflows register FILE` (see `omium workflows list`)",
        )
    if version is None:
        return known[-1]
    found = next((v for v in known if v.version == version), None)
    if found is None:
        raise NotFound(
            f"workflow {name!r} has no version {version!r}",
            hint=f"its versions: {', '.join(v.version for v in known)}",
        )
    return found


def is_name(text: str) -> bool:
    """Whether ``text`` names a workflow rather than a file (no folder, no file suffix)."""
    return bool(NAME.match(text)) and not text.endswith((".yaml", ".yml", ".json"))


def spec_of(found: WorkflowVersion) -> WorkflowSpec:
    """The spec a registered version was registered with."""
    return spec_from_data(found.spec, f"workflow {found.name} {found.version}")


async def submit_named(
    app: Omium,
    name: str,
    inputs: Mapping[str, Any],
    *,
    version: str | None = None,
    execution_id: str | None = None,
    idempotency_key: str | None = None,
) -> Submitted:
    """Submit a run of a registered workflow; it records the version it runs.

    With ``idempotency_key`` the execution id is derived from it, so the same request
    again starts nothing new and gets the same answer (another request with the same
    key is refused, as a reused ``execution_id`` is).
    """
    found = await resolve(app, name, version)
    if idempotency_key is not None:
        if execution_id is not None:
            raise ConfigError("give an execution_id or an Idempotency-Key, not both")
        key = f"{app.tenant}\0{idempotency_key}"
        execution_id = f"ex-{uuid.uuid5(IDEMPOTENCY, key).hex[:12]}"
    execution_id = await submit(
        app.log,
        spec_of(found),
        Path(found.source),
        inputs,
        execution_id=execution_id,
        version=found.version,
        tenant_id=app.tenant,
    )
    return Submitted(
        execution_id=execution_id, status="queued", workflow=name, version=found.version
    )
