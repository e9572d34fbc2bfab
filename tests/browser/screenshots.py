"""`make screenshots`: the pictures in the README, taken from the sandbox as a person would see them.

    python -m tests.browser.screenshots docs/screens

writes cluster-app.png (the app as a host shows it next to a health check), cluster-app-guest.png (a node's
guests with one guest's panel open at a migration's confirmation) and vm-metrics-day.png (the chart that
`pve_guest action=metrics chart=true` returns). Each is reduced to 256 colours.
"""

from __future__ import annotations

import base64
import sys
import tempfile
from pathlib import Path

import anyio

from tests.browser.harness import browser, missing, open_app, sandbox

CHART_OF = {"action": "metrics", "vmid": 100, "timeframe": "day", "chart": True}


async def take(out: Path) -> list[Path]:
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as home:
        async with sandbox("read-execute", Path(home)) as client, browser() as chromium:
            hosted = await open_app(chromium, client, width=1000)
            frame = hosted.page.locator("#frame")
            written.append(out / "cluster-app.png")
            await frame.screenshot(path=str(written[-1]))
            await hosted.frame.locator('[data-vmid="101"]').first.click()
            await hosted.frame.locator('[data-role="detail"][data-vmid="101"]').wait_for()
            detail = hosted.frame.locator('[data-role="detail"]')
            await detail.locator('[data-action="migrate"]').click()
            written.append(out / "cluster-app-guest.png")
            await hosted.frame.locator(".grp").filter(has=detail).screenshot(path=str(written[-1]))
            chart = await client.call_tool("pve_guest", CHART_OF)
            image = next(block for block in chart.content if block.type == "image")
            written.append(out / "vm-metrics-day.png")
            written[-1].write_bytes(base64.b64decode(image.data))
    return written


def palette(path: Path) -> None:
    """Screenshots as 256-colour PNGs: a third of the bytes in the repository, no visible difference."""
    from PIL import Image

    with Image.open(path) as shot:
        reduced = shot.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
    reduced.save(path, optimize=True)


def main() -> None:
    reason = missing()
    if reason is not None:
        sys.exit(f"screenshots need a browser: {reason}")
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screens")
    out.mkdir(parents=True, exist_ok=True)
    for path in anyio.run(take, out):
        palette(path)
        print(f"{path}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
