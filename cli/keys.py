"""``omium keys create|list|revoke``: API keys for ``omium serve`` (one tenant and role each)."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from omium.cli.aio import JsonOpt, UrlOpt, run
from omium.services import keys
from omium.services.client import direct
from omium.services.models import KeyCreated, KeyOut, dump

app = typer.Typer(help="API keys for the gateway (`omium serve`).", no_args_is_help=True)


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="The tenant the key reads and acts for.")],
    name: Annotated[str, typer.Option(help="Who or what holds it (for `omium keys list`).")],
    role: Annotated[
        str, typer.Option(help="viewer (read), operator (also submit and steer), admin.")
    ] = "operator",
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Issue a key. It is printed this once: only its hash is recorded.

    Once any key exists, every /api/v1 request needs `Authorization: Bearer <key>`.
    """

    async def go() -> KeyCreated:
        async with direct(url, "`omium keys`") as local:
            return await keys.create(local.app, tenant=tenant, name=name, role=role)

    made = run(go())
    if json_:
        typer.echo(orjson.dumps(dump(made)).decode())
        return
    typer.echo(made.key)
    typer.echo(
        f"key {made.key_id} for tenant {made.tenant} ({made.role}); it is shown only now",
        err=True,
    )


@app.command("list")
def list_(json_: JsonOpt = False, url: UrlOpt = None) -> None:
    """Every key issued, revoked ones too (never the keys themselves)."""

    async def go() -> list[KeyOut]:
        async with direct(url, "`omium keys`") as local:
            return await keys.listed(local.app)

    found = run(go())
    if json_:
        typer.echo(orjson.dumps(dump(found)).decode())
        return
    table = Table("key", "name", "tenant", "role", "created", "revoked", box=None)
    for k in found:
        table.add_row(
            k.key_id,
            k.name,
            k.tenant,
            k.role,
            k.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            k.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if k.revoked_at else "",
        )
    Console().print(table)


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `omium keys list`).")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    json_: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Revoke a key: every gateway refuses it within a second."""

    async def go() -> KeyOut:
        async with direct(url, "`omium keys`") as local:
            return await keys.revoke(local.app, key_id, reason)

    done = run(go())
    if json_:
        typer.echo(orjson.dumps(dump(done)).decode())
    else:
        typer.echo(f"key {done.key_id} revoked")
