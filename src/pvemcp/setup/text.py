"""Text laid out for a terminal of a given width without ever breaking a value someone may copy.

A terminal folds a line that is too long at its last column, in the middle of whatever is there: half a
fingerprint on one line, half on the next, and a copied pin no longer matches. Lines are therefore filled
at spaces only; a `code span` (a command) counts as one word, and a word longer than the line gets a line
of its own, whole, however long.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A word, with a `code span` inside it kept whole (punctuation touching the span belongs to it).
_WORD = re.compile(r"(?:[^\s`]*`[^`]*`)+[^\s`]*|\S+")


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def fill(text: str, width: int, *, first: str = "", rest: str = "", alone: str = "  ") -> list[str]:
    """One paragraph filled to `width`: `first` starts the first line, `rest` the others.

    A word that does not fit an empty line goes on a line of its own, prefixed by `alone` only, and is
    never cut.
    """
    lines: list[str] = []
    line = first
    empty = True
    for word in words(text):
        if empty and len(line) + len(word) <= width:
            line, empty = line + word, False
        elif not empty and len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            if not empty or line.strip():
                lines.append(line.rstrip())
            if len(rest) + len(word) <= width:
                line, empty = rest + word, False
            else:
                lines.append(alone + word)
                line, empty = rest, True
    if not empty or line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def wrap(text: str, width: int) -> str:
    """Each line of `text` filled to `width`; a line's continuation keeps its indent, two more after a bullet."""
    out: list[str] = []
    for line in text.split("\n"):
        if not line.strip():
            out.append("")
            continue
        indent = line[: len(line) - len(line.lstrip())]
        bullet = re.match(r"[-*!✓✗] |\d+\. ", line.lstrip())
        rest = indent + (" " * len(bullet.group()) if bullet else "")
        if len(line) <= width:
            out.append(line)
        else:
            out += fill(line.lstrip(), width, first=indent, rest=rest, alone=rest or "  ")
    return "\n".join(out)


def pairs(rows: Sequence[tuple[str, str]], width: int, *, gap: int = 2) -> str:
    """Label and value rows, the values aligned and filled beside their labels; a long value whole below."""
    column = max((len(label) for label, _ in rows), default=0) + gap
    out: list[str] = []
    for label, value in rows:
        out += fill(value, width, first=label.ljust(column), rest=" " * column)
    return "\n".join(out)
