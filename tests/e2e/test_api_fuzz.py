"""schemathesis against the running gateway's own /openapi.json: no 5xx, no response that
breaks the schema, no schema-violating request accepted — on every operation.

``make test`` runs a small budget (``OMIUM_FUZZ_EXAMPLES``, default 5 per operation);
``make fuzz`` runs 1,000 per operation.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gateway_process import Gateway

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "unsupported_method",
    ]
)


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("gateway", ["sqlite-file"], indirect=True)
def test_openapi__every_operation_holds_to_its_schema(gateway: Gateway) -> None:
    gateway.submit("fuzz-1")  # something real to find among the random ids
    gateway.wait("fuzz-1", lambda v: v["status"] == "completed")
    examples = os.environ.get("OMIUM_FUZZ_EXAMPLES", "5")
    st = Path(sys.executable).with_name("st")
    done = subprocess.run(
        [
            str(st), "run", f"{gateway.base}/openapi.json",
            "--checks", CHECKS, "--max-examples", examples, "--seed", "1",
            "--request-timeout", "20", "--no-color",
        ],
        capture_output=True, text=True, timeout=3500,
    )  # fmt: skip
    tail = "\n".join(done.stdout.splitlines()[-40:])
    assert done.returncode == 0, tail
    assert " passed" in done.stdout and "Tested:" in done.stdout, tail
