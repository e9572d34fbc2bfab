"""Several fixed commands concurrently in one SSH session, each with its own stdout, stderr and exit status.

OpenSSH sets up every session (channel, fork, environment) one after another inside the connection's
process, so N sessions cost N set-ups even on one connection; one session that starts the commands as
background jobs costs one. The script is built only from constant argv (the node checks), each joined
with shlex; outputs are framed by a random marker that a command's own output cannot forge.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Sequence
from dataclasses import replace

from pvemcp.ssh.channel import CommandResult


def new_marker() -> str:
    return f"pvemcp-{secrets.token_hex(12)}"


def batch_argv(commands: Sequence[Sequence[str]], marker: str) -> list[str]:
    """`sh -c SCRIPT`: run every command in the background, wait, then print each one's framed outputs."""
    lines = ["d=$(mktemp -d) || exit 97", "trap 'rm -rf \"$d\"' EXIT"]
    for index, argv in enumerate(commands):
        files = f'>"$d/{index}.out" 2>"$d/{index}.err" </dev/null'
        lines.append(f'({shlex.join(argv)} {files}; echo $? >"$d/{index}.rc") &')
    lines.append("wait")
    for index in range(len(commands)):
        for part in ("out", "err", "rc"):
            lines.append(f"printf '\\n%s\\n' {shlex.quote(f'{marker} {index} {part}')}; cat \"$d/{index}.{part}\"")
    return ["sh", "-c", "\n".join(lines)]


def split(result: CommandResult, commands: Sequence[Sequence[str]], marker: str) -> list[CommandResult]:
    """The batch's one result, cut back into one result per command."""
    parts: dict[tuple[int, str], str] = {}
    key: tuple[int, str] | None = None
    chunk: list[str] = []
    for line in result.stdout.split("\n"):
        head, _, rest = line.partition(" ")
        if head == marker and rest.count(" ") == 1:
            if key is not None:
                parts[key] = "\n".join(chunk)
            number, part = rest.split(" ")
            key, chunk = (int(number), part), []
        elif key is not None:
            chunk.append(line)
    if key is not None:
        parts[key] = "\n".join(chunk)
    truncated = result.stdout_truncated or result.stderr_truncated
    results = []
    for index, argv in enumerate(commands):
        # The newline printed before each marker ends the previous part's last line, so a part reads back exactly.
        out, err = (parts.get((index, p), "") for p in ("out", "err"))
        rc = parts.get((index, "rc"), "").strip()
        results.append(
            replace(
                result,
                argv=tuple(argv),
                exit_status=int(rc) if rc.isdigit() else None,
                stdout=out,
                stderr=err if (index, "err") in parts else result.stderr,
                stdout_truncated=truncated,
                stderr_truncated=truncated,
            )
        )
    return results
