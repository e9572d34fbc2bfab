"""What the CLI prints, fitted to the terminal it goes to, and plain when it goes to a pipe.

On a terminal, prose is filled at spaces to its width (COLUMNS, or the terminal's own) and tables keep
every row on one line, shortening or leaving out the columns that matter least. Into a pipe a table is
tab-separated, one row per line, so `cut` and `awk` read it. Values meant to be copied (fingerprints,
commands) are never cut: pvemcp.setup.text.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import click

from pvemcp.setup.text import wrap

DEFAULT_WIDTH = 100
MINIMUM = 40
UNLIMITED = 1_000_000
ELLIPSIS = "…"


def width() -> int:
    """COLUMNS when set, else the terminal's width when stdout is one, else no limit: into a pipe (a log,
    `grep`), lines stay whole and the reader's own terminal folds them."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return max(MINIMUM, int(columns))
    if is_terminal():
        return max(MINIMUM, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)
    return UNLIMITED


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = sys.stdout if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def say(text: str, *, err: bool = False) -> None:
    """Print prose filled to the terminal's width, never breaking a word, a `command` or a fingerprint."""
    click.echo(wrap(text, width()), err=err)


@dataclass(frozen=True, slots=True)
class Column:
    """A table column. drop: the order in which columns are left out when the terminal is too narrow
    (1 first; 0 never); shrink: its values may be shortened with … (down to `least` characters) first."""

    name: str
    drop: int = 0
    shrink: bool = False
    least: int = 12


def tsv(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[str]:
    """Tab-separated, header first, one row per line; tabs and newlines inside values become spaces."""
    clean = [[" ".join(value.split()) for value in row] for row in rows]
    return ["\t".join(c.name for c in columns), *("\t".join(row) for row in clean)]


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]], limit: int, *, gap: int = 2) -> list[str]:
    """Aligned columns within `limit` characters: the lines of a header, a rule and the rows.

    Columns are shortened, then left out, in their `drop` order until a row fits; the columns that are
    never dropped are never shortened, so a name stays whole even when that makes a line long.
    """
    keep = list(range(len(columns)))
    natural = [max([len(columns[i].name), *(len(row[i]) for row in rows)]) for i in keep]
    widths = list(natural)
    for i in sorted((i for i in keep if columns[i].drop), key=lambda i: columns[i].drop):
        if _total(widths, keep, gap) <= limit:
            break
        if columns[i].shrink:
            room = limit - _total(widths, keep, gap) + widths[i]
            least = max(columns[i].least, len(columns[i].name))
            if room >= least:
                widths[i] = room
                break
        keep.remove(i)
    lines = [_line([columns[i].name for i in keep], [widths[i] for i in keep], gap)]
    lines.append(_line(["-" * widths[i] for i in keep], [widths[i] for i in keep], gap))
    for row in rows:
        lines.append(_line([_cell(row[i], widths[i]) for i in keep], [widths[i] for i in keep], gap))
    return lines


def _total(widths: Sequence[int], keep: Sequence[int], gap: int) -> int:
    return sum(widths[i] for i in keep) + gap * (len(keep) - 1)


def _cell(value: str, size: int) -> str:
    return value if len(value) <= size else value[: size - 1] + ELLIPSIS


def _line(texts: Sequence[str], widths: Sequence[int], gap: int) -> str:
    return (" " * gap).join(text.ljust(size) for text, size in zip(texts, widths, strict=True)).rstrip()
