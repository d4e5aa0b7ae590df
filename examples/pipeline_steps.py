"""The steps of examples/pipeline.yaml. Each takes the run's state and returns updates."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

SKIP = {".venv", ".git", "build", ".omium", "__pycache__", ".typecheck", ".mypy_cache"}


def collect(state: dict[str, Any]) -> dict[str, Any]:
    """List the Python files under ``folder``."""
    root = Path(state["folder"])
    if not root.is_dir():
        raise FileNotFoundError(f"input folder {root} does not exist")
    files = sorted(
        str(p) for p in root.rglob("*.py") if not SKIP.intersection(p.relative_to(root).parts)
    )
    return {"files": files}


def measure(state: dict[str, Any]) -> dict[str, Any]:
    """Lines, words, functions and classes per file (parsed, not guessed)."""
    sizes = {}
    for name in state["files"]:
        text = Path(name).read_text(errors="replace")
        tree = ast.parse(text)
        nodes = list(ast.walk(tree))
        sizes[name] = {
            "lines": text.count("\n"),
            "words": len(text.split()),
            "functions": sum(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) for n in nodes),
            "classes": sum(isinstance(n, ast.ClassDef) for n in nodes),
        }
    return {"sizes": sizes}


def rank(state: dict[str, Any]) -> dict[str, Any]:
    """The ``top`` largest files by lines, and totals."""
    sizes = state["sizes"]
    largest = sorted(sizes, key=lambda f: sizes[f]["lines"], reverse=True)[: int(state["top"])]
    keys = ("lines", "words", "functions", "classes")
    totals = {k: sum(s[k] for s in sizes.values()) for k in keys}
    return {"largest": largest, "totals": {"files": len(sizes), **totals}}


def report(state: dict[str, Any]) -> dict[str, Any]:
    """Write the Markdown report and return where it went."""
    path = Path(state["report_path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    totals = state["totals"]
    lines = [
        f"# Python sources under `{state['folder']}`",
        "",
        f"{totals['files']} files, {totals['lines']:,} lines, {totals['functions']:,} functions, "
        f"{totals['classes']:,} classes.",
        "",
        "| file | lines | functions | classes |",
        "|---|---:|---:|---:|",
    ]
    for name in state["largest"]:
        s = state["sizes"][name]
        lines.append(f"| {name} | {s['lines']:,} | {s['functions']} | {s['classes']} |")
    path.write_text("\n".join(lines) + "\n")
    return {"report": str(path)}
