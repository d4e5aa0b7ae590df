"""The tools of examples/research_crew.yaml: read local notes and measure them.

Plain functions with a docstring: omium wraps each one as a crewai tool named after the
function (the name an agent writes after ``Action:``). They read the Markdown notes in
``data/notes/`` beside this file, whatever the current directory, and answer the same way
every time (files and words sorted), so a re-execution gets the same results.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

NOTES = Path(__file__).resolve().parent / "data" / "notes"

WORD = re.compile(r"[a-z][a-z'-]*")
SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
# Left out of the most frequent words: they say nothing about a note's subject.
STOPWORDS = frozenset(
    "a an and any are as at be because by can each every for from has in is it its no not "
    "of on one or so that the their them there therefore this to what when without".split()
)


def _note(name: str) -> Path:
    path = NOTES / name
    if path.name != name or path.suffix != ".md" or not path.is_file():
        raise ValueError(f"no note named {name!r}; the notes are: {', '.join(_names())}")
    return path


def _names() -> list[str]:
    return sorted(p.name for p in NOTES.glob("*.md"))


def list_notes() -> str:
    """List the research notes: one line per note, its file name and its title."""
    lines = []
    for name in _names():
        title = (NOTES / name).read_text().splitlines()[0].lstrip("# ").strip()
        lines.append(f"{name}: {title}")
    return "\n".join(lines)


def read_note(name: str) -> str:
    """Read one research note (a file name given by list_notes, e.g. checkpoints.md)."""
    return _note(name).read_text()


def note_stats(names: list[str], terms: list[str]) -> str:
    """Measure notes: words, sentences and bullet points per note, how often each term
    occurs (a word counts when it starts with the term, so 'checkpoint' also counts
    'checkpoints'), and the most frequent words. Returns JSON."""
    per_note: dict[str, dict[str, int]] = {}
    mentions = {term.lower(): {"total": 0, "notes": 0} for term in terms}
    frequent: Counter[str] = Counter()
    for name in sorted(set(names)):
        text = _note(name).read_text()
        body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
        words = WORD.findall(body.lower())
        per_note[name] = {
            "words": len(words),
            "sentences": len(SENTENCE_END.findall(body)),
            "bullets": sum(line.startswith("- ") for line in body.splitlines()),
        }
        for term, counts in mentions.items():
            found = sum(word.startswith(term) for word in words)
            counts["total"] += found
            counts["notes"] += found > 0
        frequent.update(w for w in words if w not in STOPWORDS and len(w) > 2)
    total = sum(note["words"] for note in per_note.values())
    top = sorted(frequent.items(), key=lambda item: (-item[1], item[0]))[:5]
    return json.dumps(
        {
            "notes": per_note,
            "total_words": total,
            "reading_minutes": round(total / 200, 1),  # at 200 words a minute
            "terms": mentions,
            "top_words": [f"{word} ({count})" for word, count in top],
        }
    )
