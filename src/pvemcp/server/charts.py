"""Pictures of results: a PNG chart of a metrics answer, drawn when the call asks for it (`chart: true`).

A tool that can draw names its renderer in its record (`ToolSpec.picture`); `pictures` looks it up in
PICTURES, so dispatch holds one hook and no tool names. The picture travels as an MCP image content block
beside the unchanged JSON text.

matplotlib and Pillow are imported only when a chart is drawn: importing them costs far more than the whole
way to the first tools/list (tests/test_start_path.py keeps them out of it). Charts are drawn in a worker
thread, so the event loop goes on serving, one at a time, since matplotlib's font cache is shared by every
figure; with the object-oriented API only (Figure and the Agg canvas), never pyplot's global figures. The PNG
is quantised to a small palette and carries no timestamp, so the same data always gives the same bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types

from pvemcp.catalog.spec import ToolSpec
from pvemcp.server.resolve import GuestRef

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from numpy.typing import NDArray
    from PIL.Image import Image

log = logging.getLogger("pvemcp.charts")

WIDTH, HEIGHT, DPI = 800, 560, 100
COLOURS = 64  # the palette: lines, fills and anti-aliased text stay smooth, the PNG stays small
NOTE = "chart_note"  # the result's key that says why no chart came with it
INK, MUTED, GRID = "#1f2328", "#57606a", "#d8dee4"
FILL_ALPHA = 0.12
NOUNS = {"node": "Node", "qemu": "VM", "lxc": "Container"}
BINARY = ("B", "KiB", "MiB", "GiB", "TiB")
_drawing = threading.Lock()


class NothingToDrawError(Exception):
    """Nothing to draw: the reason goes into the result instead of a picture."""


@dataclass(frozen=True, slots=True)
class Subject:
    """Who the chart is about, in the words of its title."""

    kind: str  # node, qemu or lxc
    node: str
    vmid: int | None = None
    name: str = ""

    def title(self, timeframe: str) -> str:
        """ "VM 101 (web-02) on pve2 — last day", "Node pve1 — last hour"."""
        if self.vmid is None:
            who = f"{NOUNS[self.kind]} {self.node}"
        else:
            named = f" ({self.name})" if self.name else ""
            where = f" on {self.node}" if self.node else ""
            who = f"{NOUNS[self.kind]} {self.vmid}{named}{where}"
        return f"{who} — last {timeframe}"


def subject_of(spec: ToolSpec, args: Mapping[str, Any], target: GuestRef | None) -> Subject:
    kind = spec.guest_type if spec.guest_type in ("qemu", "lxc") else "node"
    node = target.node if target is not None else str(args.get("node") or "")
    vmid = args.get("vmid") if kind != "node" else None
    return Subject(str(kind), node, int(vmid) if vmid is not None else None, target.name if target else "")


# A renderer: (the tool's result, its subject) → PNG bytes; raises NothingToDrawError when there is nothing to draw.
Renderer = Callable[[Mapping[str, Any], Subject], bytes]


async def pictures(
    spec: ToolSpec, args: Mapping[str, Any], target: GuestRef | None, result: dict[str, Any]
) -> list[types.ImageContent]:
    """The images a call asked for: none unless its tool draws and `chart` is true. Drawing never fails the
    call: a blank or failed chart is a note in `result` (and, when it failed, a line in the server log)."""
    if spec.picture is None or not args.get("chart"):
        return []
    draw = PICTURES[spec.picture]
    subject = subject_of(spec, args, target)
    try:
        png = await anyio.to_thread.run_sync(_one_at_a_time, draw, result, subject)
    except NothingToDrawError as blank:
        result[NOTE] = f"No chart: {blank}."
        return []
    except Exception:
        log.exception("the chart of %s could not be drawn", spec.name)
        result[NOTE] = "No chart: drawing it failed; the error is in the server log."
        return []
    return [types.ImageContent(type="image", data=base64.b64encode(png).decode("ascii"), mime_type="image/png")]


def _one_at_a_time(draw: Renderer, result: Mapping[str, Any], subject: Subject) -> bytes:
    with _drawing:
        return draw(result, subject)


# ---------------------------------------------------------------- the RRD chart


@dataclass(frozen=True, slots=True)
class Line:
    metric: str
    label: str
    colour: str
    fill: bool = False


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    lines: tuple[Line, ...]
    kind: str  # percent, memory, rate or plain: how values are scaled and the axis labelled
    limit: str | None = None  # a metric drawn as a dashed reference line (memory total, CPU count)
    limit_label: str = ""


CPU, IOWAIT = Line("cpu", "CPU", "#0969da", fill=True), Line("iowait", "IO wait", "#bc4c00")
NET = (Line("netin", "in", "#1a7f37"), Line("netout", "out", "#8250df"))
DISK = (Line("diskread", "read", "#0969da"), Line("diskwrite", "write", "#cf222e"))
GUEST_PANELS = (
    Panel("CPU", (CPU,), "percent"),
    Panel("Memory", (Line("mem", "used", "#1a7f37", fill=True),), "memory", "maxmem", "total"),
    Panel("Network", NET, "rate"),
    Panel("Disk I/O", DISK, "rate"),
)
NODE_PANELS = (
    Panel("CPU", (CPU, IOWAIT), "percent"),
    Panel("Memory", (Line("memused", "used", "#1a7f37", fill=True),), "memory", "memtotal", "total"),
    Panel("Network", NET, "rate"),
    Panel("Load average", (Line("loadavg", "load", "#0969da", fill=True),), "plain", "maxcpu", "CPUs"),
)
# timeframe → (ticks: locator name and its arguments, label format); every label fits a half-width panel
TICKS: dict[str, tuple[str, dict[str, Any], str]] = {
    "hour": ("MinuteLocator", {"byminute": (0, 15, 30, 45)}, "%H:%M"),
    "day": ("HourLocator", {"byhour": (0, 4, 8, 12, 16, 20)}, "%H:%M"),
    "week": ("DayLocator", {"interval": 2}, "%a %H:%M"),
    "month": ("DayLocator", {"interval": 7}, "%d %b"),
    "year": ("MonthLocator", {"bymonth": (1, 4, 7, 10)}, "%b %Y"),
}


def values(result: Mapping[str, Any], metric: str, count: int) -> list[float | None] | None:
    """A metric's points: its series, a constant repeated (a flat line), or None when the result lacks it."""
    series = result.get("series") or {}
    if metric in series:
        points = [float(v) if isinstance(v, int | float) else None for v in series[metric]]
        return (points + [None] * count)[:count]
    constant = (result.get("constant") or {}).get(metric)
    return [float(constant)] * count if isinstance(constant, int | float) else None


def binary_unit(peak: float, units: Sequence[str] = BINARY) -> tuple[float, str]:
    """The divisor and name of the largest binary unit below `peak` (1536 → KiB)."""
    power = 0
    while peak >= 1024 ** (power + 1) and power < len(units) - 1:
        power += 1
    return float(1024**power), units[power]


def human(value: float) -> str:
    divisor, unit = binary_unit(value)
    return f"{value / divisor:.3g} {unit}"


def rrd_chart(result: Mapping[str, Any], subject: Subject, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """CPU, memory, network and disk I/O (a node: load) in four panels over the result's timeframe."""
    count = int(result.get("count") or 0)
    panels = NODE_PANELS if subject.kind == "node" else GUEST_PANELS
    drawn = {line.metric for panel in panels for line in panel.lines}
    if not any(v is not None for metric in drawn for v in values(result, metric, count) or ()):
        raise NothingToDrawError("no data in this timeframe")  # none at all, or sizes only (a guest that did not run)
    import numpy as np
    from dateutil import tz  # type: ignore[import-untyped]
    from matplotlib import dates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image as PILImage

    local = tz.tzlocal()
    start, step, timeframe = int(result.get("start") or 0), int(result.get("step") or 0), str(result["timeframe"])
    # Instants (UTC); the time axis shows them in the server's zone.
    times = np.array([start + i * step for i in range(count)], dtype="datetime64[s]")
    zone = dt.datetime.fromtimestamp(start + (count - 1) * step, local).tzname() or "local time"
    first, last = dates.date2num(times[[0, -1]])  # type: ignore[no-untyped-call]
    pad = 0.0 if count > 1 else max(step, 60) / 86_400 / 2  # a lone point still gets a window around it
    span = (float(first) - pad, float(last) + pad)

    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white")
    canvas = FigureCanvasAgg(figure)
    figure.suptitle(subject.title(timeframe), y=1 - 8 / height, va="top", fontsize=13, color=INK, fontweight="bold")
    grid = figure.subplots(2, 2, sharex=True, gridspec_kw=_margins(width, height))
    for ax, panel in zip(grid.flat, panels, strict=True):
        _panel(ax, panel, result, times, span)
    _time_axis(grid[1][0], timeframe, local)
    kind = "maxima" if result.get("cf") == "MAX" else "averages"
    points = f"{_duration(step)} {kind}" if step else kind
    figure.supxlabel(f"time ({zone}) · {points}", y=6 / height, va="bottom", fontsize=9, color=MUTED)
    canvas.draw()  # type: ignore[no-untyped-call]
    pixels = canvas.buffer_rgba()  # type: ignore[no-untyped-call]
    rgba = PILImage.frombuffer("RGBA", canvas.get_width_height(), pixels, "raw", "RGBA", 0, 1)
    return _png(rgba.convert("RGB"), panels)


def _margins(width: int, height: int) -> dict[str, float]:
    """Fixed margins in pixels, as fractions of the figure: room for the titles, legends and tick labels (values
    are scaled below 1024, so a tick label is at most four digits). Cheaper than a layout engine by half."""
    left, right, top, bottom, column_gap, row_gap = 50, 12, 64, 50, 58, 52
    panel_width = (width - left - right - column_gap) / 2
    panel_height = (height - top - bottom - row_gap) / 2
    return {
        "left": left / width,
        "right": 1 - right / width,
        "top": 1 - top / height,
        "bottom": bottom / height,
        "wspace": column_gap / panel_width,
        "hspace": row_gap / panel_height,
    }


def _png(image: Image, panels: Sequence[Panel]) -> bytes:
    """The picture in COLOURS colours: the chart's own colours exactly, the rest (anti-aliasing, blends) adaptive.

    An adaptive palette alone merges a colour that covers few pixels (a short line) into a grey."""
    from PIL import Image as PILImage

    own = [INK, MUTED, GRID, "#ffffff"]
    for line in (line for panel in panels for line in panel.lines):
        own += [line.colour, _tint(line.colour, FILL_ALPHA)] if line.fill else [line.colour]
    fixed = [channel for colour in dict.fromkeys(own) for channel in _rgb(colour)]
    adaptive = image.quantize(colors=COLOURS - len(fixed) // 3, method=PILImage.Quantize.MEDIANCUT)
    palette = PILImage.new("P", (1, 1))
    palette.putpalette(fixed + (adaptive.getpalette() or [])[: 3 * COLOURS - len(fixed)])
    out = io.BytesIO()
    image.quantize(palette=palette, dither=PILImage.Dither.NONE).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _tint(colour: str, alpha: float) -> str:
    """The colour at `alpha` over white, as the fill under a line shows it."""
    return "#" + "".join(f"{round(255 - (255 - c) * alpha):02x}" for c in _rgb(colour))


def _panel(
    ax: Axes, panel: Panel, result: Mapping[str, Any], times: NDArray[np.datetime64], span: tuple[float, float]
) -> None:
    """One panel: its lines (gaps as breaks, lone points as dots), its reference line, units, a legend."""
    import numpy as np

    count = len(times)
    drawn = {line: values(result, line.metric, count) for line in panel.lines}
    known = [v for points in drawn.values() if points for v in points if v is not None]
    limit = [v for v in (values(result, panel.limit, count) or []) if v is not None] if panel.limit else []
    peak = max(known + limit, default=0.0)
    scale, unit = _scale(panel.kind, peak)
    title = _titled(panel, result)
    _style(ax, f"{title} ({unit})" if unit and "%" not in title else title)
    ax.set_xlim(*span)
    for line, points in drawn.items():
        if not points or all(v is None for v in points):
            continue
        ys = np.array([np.nan if v is None else v * scale for v in points], dtype=float)
        ax.plot(times, ys, color=line.colour, linewidth=1.6, label=line.label, solid_joinstyle="round")
        if line.fill:
            ax.fill_between(times, ys, 0, color=line.colour, alpha=FILL_ALPHA, linewidth=0)
        known_at = ~np.isnan(ys)
        lone = [i for i in range(count) if known_at[i] and not known_at[max(i - 1, 0) : i + 2].sum() > 1]
        if lone:
            ax.plot(times[lone], ys[lone], "o", color=line.colour, markersize=3)
    if limit:
        shown = f"{limit[-1]:g}" if panel.kind == "plain" else human(limit[-1])
        dashes = (0, (4, 3))
        ax.axhline(
            limit[-1] * scale, color=MUTED, linewidth=1.2, linestyle=dashes, label=f"{panel.limit_label} {shown}"
        )
    if not known:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color=MUTED, fontsize=10)
    if not known and not limit:
        ax.set_yticks([])
        return
    top = peak * scale * 1.12
    if panel.kind == "percent":
        top = 100.0 if peak * scale > 80 else max(top, 1.0)
    ax.set_ylim(0, top if top > 0 else 1)
    ax.legend(
        loc="lower right",  # above the plot, right of the panel's title: it never covers a line
        bbox_to_anchor=(1.0, 1.0),
        ncol=3,
        frameon=False,
        fontsize=8.5,
        borderaxespad=0.2,
        handlelength=1.6,
        columnspacing=1.0,
        labelcolor=INK,
    )


def _titled(panel: Panel, result: Mapping[str, Any]) -> str:
    """A CPU panel says how many CPUs 100 % is."""
    cpus = (result.get("constant") or {}).get("maxcpu")
    if panel.kind != "percent" or not isinstance(cpus, int | float) or not cpus:
        return panel.title
    return f"{panel.title} (% of {cpus:g} CPU{'s' if cpus != 1 else ''})"


def _scale(kind: str, peak: float) -> tuple[float, str]:
    """How values are multiplied for the axis, and the unit it shows."""
    if kind == "percent":
        return 100.0, "%"
    if kind == "memory":
        divisor, unit = (1024.0**3, "GiB") if peak >= 1.5 * 1024**3 else (1024.0**2, "MiB")
        return 1 / divisor, unit
    if kind == "rate":
        divisor, unit = binary_unit(peak)
        return 1 / divisor, f"{unit}/s"
    return 1.0, ""


def _style(ax: Axes, title: str) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_title(title, loc="left", fontsize=10.5, color=INK)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(MUTED)
    ax.tick_params(labelsize=8.5, colors=MUTED, labelcolor=INK, length=3)
    ax.grid(True, color=GRID, linewidth=0.7)
    ax.set_axisbelow(True)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, min_n_ticks=3))


def _time_axis(ax: Axes, timeframe: str, local: dt.tzinfo) -> None:
    """Ticks at round local times, labelled as the timeframe is read: hours, weekdays, dates or months."""
    from matplotlib import dates

    name, arguments, fmt = TICKS[timeframe]
    ax.xaxis.set_major_locator(getattr(dates, name)(**arguments, tz=local))
    ax.xaxis.set_major_formatter(dates.DateFormatter(fmt, tz=local))  # type: ignore[no-untyped-call]


def _duration(seconds: int) -> str:
    """A point's span as a person says it: 1-min, 24-min, 3-hour, 1-day."""
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400}-day"
    if seconds % 3_600 == 0:
        return f"{seconds // 3_600}-hour"
    if seconds % 60 == 0:
        return f"{seconds // 60}-min"
    return f"{seconds}-s"


PICTURES: dict[str, Renderer] = {"rrd_chart": rrd_chart}
