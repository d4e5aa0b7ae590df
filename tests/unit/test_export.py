"""The committed contract (infra/asyncapi.yaml, infra/schemas/*.json) matches the code."""

from __future__ import annotations

from pathlib import Path

import yaml

from omium.cli.schemas import INFRA, render
from omium.schemas import REGISTRY


def test_committed_contract__is_current() -> None:
    stale = [
        rel
        for rel, text in render().items()
        if not (INFRA / rel).exists() or (INFRA / rel).read_text() != text
    ]
    assert not stale, f"stale: {stale}; run `omium schemas export` and commit the result"


def test_no_schema_files_for_removed_types() -> None:
    on_disk = {p.name.removesuffix(".json") for p in (INFRA / "schemas").glob("*.json")}
    assert on_disk == set(REGISTRY)


def test_asyncapi__is_a_3_0_document_of_every_topic() -> None:
    document = yaml.safe_load(Path(INFRA / "asyncapi.yaml").read_text())
    assert document["asyncapi"] == "3.0.0"
    assert {c["address"] for c in document["channels"].values()} == {
        "omium.commands",
        "omium.events",
        "omium.alerts",
        "omium.dlq",
        "omium.registry",
    }
    messages = document["components"]["messages"]
    assert set(REGISTRY) <= set(messages)
    # every $ref resolves inside the document
    text = Path(INFRA / "asyncapi.yaml").read_text()
    for line in text.splitlines():
        if "$ref: '#/" in line:
            path = line.split("'#/")[1].rstrip("'").split("/")
            node = document
            for part in path:
                node = node[part]
