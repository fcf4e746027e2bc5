"""Can a learner read this figure? ``check_figure(fig)`` lists what they could not read; empty when fine.

The rules, each problem reported as one sentence naming the panel (by its title, else its position):

1. **A claim in a title.** The figure's suptitle, or the title of its one panel. A figure of several
   panels needs a suptitle stating the claim; each panel's own title (what it shows) is then optional,
   the suptitle covers it.
2. **Labelled axes.** Every x or y axis that shows numeric tick labels has a non-empty label, and
   every colorbar has one (the quantity its colors stand for). Exempt: panels with the axis turned off,
   axes showing no tick labels (pictures: digit images, filters drawn as images) and category axes
   whose tick labels are words (the tick labels name the bars or classes). *Units cannot be checked
   mechanically*: the check only asks for a non-empty label; that it names the quantity and its unit
   ("test loss (nats)", "epoch") is the author's job.
3. **A legend for every color.** When a panel's data artists (lines, bar containers, scatters not
   mapped through a colormap) use two or more colors, each color is explained: by a handle of the same
   color in a legend anywhere in the figure (the panel's, a figure legend, or a legend shared with a
   neighbouring panel), by a text in the panel drawn in that color (direct labels), by a colorbar of a
   bare ``ScalarMappable`` (lines colored by a value), or, for bars only, by the category axis naming
   one tick per color (``set_xticks(..., labels)``). Gray, black and white are neutral (reference
   lines, error bars, annotations) and need no legend.
4. **Colorbars where color carries a value.** A 2-D image, mesh or scatter whose colors map values
   through a colormap, on a panel that shows tick labels (a heatmap: confusion matrix, attention,
   weights as values), has a colorbar: its own, or one in the figure with the same colormap and the
   same value range (one colorbar shared by panels drawn on a common scale). An artist taking a few
   values (at most 12: classes, e.g. a predicted-class region) may instead have a legend naming each
   of its colors. Exempt: RGB images, pictures (panels without tick labels), and images in a
   qualitative colormap of at most 20 colors (tab10, tab20), whose colors only group cells together
   and carry no value (a scatter in such a colormap still needs its classes named).
5. **No overlapping text.** After ``fig.canvas.draw()``, no two visible tick labels of one axis
   overlap (rotated labels are compared as rotated boxes, not their bounding rectangles); no title,
   axis label or tick label of one panel covers more than a quarter of a text of another panel (or
   the suptitle); and no title, label, tick label or legend sticks out of the figure (it would be cut).
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import numpy as np

__all__ = ["check_figure", "checking_figures", "savefig_checked", "CHECK_ENV"]

CHECK_ENV = "DEEPLING_CHECK_FIGURES"
_NEUTRAL = 0.08  # an RGB color whose channels differ by less than this is gray (or black, white)
_CROSS_OVERLAP = 0.25  # text of two panels may touch, not cover a quarter of the smaller box
_NUMBER = re.compile(r"^[-+]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+|\^[-+]?[\d.]+|%)?$", re.IGNORECASE)


def checking_figures() -> bool:
    """Whether figures are checked on save: the ``DEEPLING_CHECK_FIGURES`` environment variable is set
    to something other than ``""`` or ``"0"`` (the tests set it; normal use never pays for the check)."""
    return os.environ.get(CHECK_ENV, "") not in ("", "0")


def savefig_checked(fig: Any, path: str | os.PathLike, **kwargs: Any) -> None:
    """``fig.savefig(path, **kwargs)``, first running ``check_figure`` when ``checking_figures()``.

    Raises ``ValueError`` naming ``path`` and every problem found (the figure is not written then).
    """
    if checking_figures():
        problems = check_figure(fig)
        if problems:
            raise ValueError(f"figure {os.fspath(path)} is hard to read ({len(problems)} problems):\n  - "
                             + "\n  - ".join(problems))
    fig.savefig(path, **kwargs)


def check_figure(fig: Any) -> list[str]:
    """The readability problems of a matplotlib figure (rules in this module's docstring); ``[]`` when fine.

    Draws the figure (``fig.canvas.draw()``) to measure where its texts land; the figure is otherwise
    unchanged. Units in labels cannot be checked mechanically: a label only has to be non-empty.
    """
    if not hasattr(fig.canvas, "get_renderer"):  # a figure not (yet) on a drawing canvas: measure it with Agg's
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    colorbars = [cb for ax in fig.axes if (cb := getattr(ax, "_colorbar", None)) is not None]
    cb_axes = {id(cb.ax) for cb in colorbars}
    panels = [ax for ax in fig.axes if ax.get_visible() and id(ax) not in cb_axes]
    drawn = [ax for ax in panels if _has_content(ax)]
    names = {id(ax): _name(ax, i, len(panels)) for i, ax in enumerate(panels)}
    problems: list[str] = []

    suptitle = fig.get_suptitle().strip()
    if len(drawn) > 1 and not suptitle:
        problems.append(f"the figure has {len(drawn)} panels but no suptitle stating its claim")
    elif len(drawn) == 1 and not suptitle and not _title(drawn[0]):
        problems.append("the figure has no title stating its claim (suptitle or the panel's title)")

    legend_colors = _legend_colors(fig)
    for ax in drawn:
        name = names[id(ax)]
        problems += _label_problems(ax, name)
        problems += _color_problems(ax, name, legend_colors, colorbars)
        problems += _colormap_problems(ax, name, colorbars, legend_colors)
    for cb in colorbars:
        if cb.ax.get_visible() and not (cb.ax.get_ylabel() if cb.orientation == "vertical" else cb.ax.get_xlabel()).strip():
            owner = next((names[id(a)] for a in panels if _owns(a, cb.mappable)), "a panel")
            problems.append(f"the colorbar of {owner} has no label (the quantity its colors stand for)")
    problems += _overlap_problems(fig, renderer, [*panels, *(cb.ax for cb in colorbars if cb.ax.get_visible())], names)
    return problems


# -- what a panel shows --------------------------------------------------------------------------------


def _has_content(ax: Any) -> bool:
    return any(a.get_visible() for a in (*ax.lines, *ax.collections, *ax.images, *ax.patches, *ax.texts))


def _title(ax: Any) -> str:
    return " ".join(t.get_text().strip() for t in (ax.title, ax._left_title, ax._right_title) if t.get_text().strip())


def _name(ax: Any, i: int, n: int) -> str:
    title = _title(ax).replace("\n", " ")
    if title:
        return f"panel {title[:50]!r}"
    return "the panel" if n == 1 else f"panel {i + 1} (untitled)"


def _shown_ticklabels(axis: Any) -> list[Any]:
    """The tick-label texts matplotlib draws on ``axis`` (ticks inside the view, label visible, non-empty)."""
    if not axis.get_visible() or not axis.axes.axison:
        return []
    ticks = axis._update_ticks()  # the ticks the next draw shows; stable private API since matplotlib 3.0
    return [lab for t in ticks for lab in (t.label1, t.label2) if lab.get_visible() and lab.get_text().strip()]


def _numeric(text: str) -> bool:
    s = text.replace("\u2212", "-").replace("$", "").replace("\\mathdefault", "").replace("{", "").replace("}", "")
    s = s.replace(" ", "").replace("\\times", "x")
    return bool(_NUMBER.match(s)) or bool(re.match(r"^[-+]?[\d.]+x10\^[-+]?\d+$", s))


def _picture(ax: Any) -> bool:
    """A panel showing a picture, not values on axes: axis off, or no tick labels on either axis."""
    return not ax.axison or not (_shown_ticklabels(ax.xaxis) or _shown_ticklabels(ax.yaxis))


def _label_problems(ax: Any, name: str) -> list[str]:
    if not ax.axison:
        return []
    out = []
    for letter, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
        labels = _shown_ticklabels(axis)
        if any(_numeric(t.get_text()) for t in labels) and not axis.get_label_text().strip():
            out.append(f"{name}: the {letter} axis has numeric ticks but no label (quantity and unit)")
    return out


# -- colors and legends -------------------------------------------------------------------------------


def _rgb(color: Any) -> tuple[float, float, float] | None:
    from matplotlib.colors import to_rgba

    try:
        r, g, b, a = to_rgba(color)
    except (ValueError, TypeError):
        return None
    if a == 0 or max(r, g, b) - min(r, g, b) < _NEUTRAL:
        return None  # transparent or gray: not a color that needs explaining
    return (round(r, 2), round(g, 2), round(b, 2))


def _rgbs(colors: Any) -> set[tuple[float, float, float]]:
    arr = np.asarray(colors)
    if arr.ndim == 1 and arr.size in (3, 4) and arr.dtype.kind == "f":
        arr = arr[None]
    found = {_rgb(c) for c in (arr if arr.ndim == 2 else [colors])}
    return {c for c in found if c is not None}


def _handle_colors(handle: Any) -> set[tuple[float, float, float]]:
    from matplotlib.collections import Collection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if isinstance(handle, Line2D):
        return _rgbs(handle.get_color()) | _rgbs(handle.get_markerfacecolor())
    if isinstance(handle, Patch):
        return _rgbs(handle.get_facecolor()) | _rgbs(handle.get_edgecolor())
    if isinstance(handle, Collection):
        return _rgbs(handle.get_facecolor()) | _rgbs(handle.get_edgecolor())
    return set()


def _legend_colors(fig: Any) -> set[tuple[float, float, float]]:
    legends = [*fig.legends, *(lg for ax in fig.axes if (lg := ax.get_legend()) is not None)]
    return {c for lg in legends if lg.get_visible() for h in lg.legend_handles if h is not None for c in _handle_colors(h)}


def _data_colors(ax: Any) -> tuple[set[tuple[float, float, float]], set[tuple[float, float, float]], str | None]:
    """(colors of lines and unmapped scatters, colors of bars, the bars' category axis 'x'/'y' or None)."""
    from matplotlib.collections import PathCollection
    from matplotlib.container import BarContainer

    colors: set[tuple[float, float, float]] = set()
    for line in ax.lines:
        if line.get_visible() and len(line.get_xdata()):
            colors |= _rgbs(line.get_color())
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and coll.get_visible() and coll.get_array() is None:
            colors |= _rgbs(coll.get_facecolor())
    bars: set[tuple[float, float, float]] = set()
    orientations = set()
    for cont in ax.containers:
        if isinstance(cont, BarContainer):
            orientations.add(cont.orientation)
            for p in cont.patches:
                if p.get_visible():
                    face = _rgbs(p.get_facecolor())
                    bars |= face if face else _rgbs(p.get_edgecolor())
    axis = ("x" if orientations == {"vertical"} else "y") if len(orientations) == 1 else None
    return colors, bars, axis


def _color_problems(ax: Any, name: str, legend_colors: set, colorbars: list[Any]) -> list[str]:
    from matplotlib.artist import Artist
    from matplotlib.ticker import FixedFormatter

    lines, bars, bar_axis = _data_colors(ax)
    colors = lines | bars
    if len(colors) < 2:
        return []
    explained = set(legend_colors)
    explained |= {c for t in ax.texts if t.get_visible() and t.get_text().strip() for c in _rgbs(t.get_color())}
    if any(not isinstance(cb.mappable, Artist) for cb in colorbars):  # lines colored by a value, with its colorbar
        explained |= colors
    if bars and bar_axis is not None:
        axis = ax.xaxis if bar_axis == "x" else ax.yaxis
        named = [t for t in _shown_ticklabels(axis) if t.get_text().strip()]
        if isinstance(axis.get_major_formatter(), FixedFormatter) or any(not _numeric(t.get_text()) for t in named):
            if len(named) >= len(bars):  # one named tick per bar color
                explained |= bars
    missing = {c for c in colors if not _near(c, explained)}
    if not missing:
        return []
    return [f"{name}: {len(colors)} colors but {len(missing)} of them explained by no legend entry, "
            f"colored text or named tick ({', '.join(_hex(c) for c in sorted(missing))})"]


def _near(c: tuple[float, float, float], palette: set) -> bool:
    return any(max(abs(a - b) for a, b in zip(c, p)) <= 0.02 for p in palette)


def _hex(c: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(255 * v):02x}" for v in c)


# -- colormaps and colorbars --------------------------------------------------------------------------


def _mapped(ax: Any) -> list[Any]:
    """Artists of ``ax`` whose colors come from values through a colormap."""
    out = [im for im in ax.images if im.get_visible() and np.ndim(im.get_array()) == 2]
    for coll in ax.collections:
        arr = coll.get_array() if hasattr(coll, "get_array") else None
        if coll.get_visible() and arr is not None and np.size(arr) > 0:
            out.append(coll)
    return out


def _owns(ax: Any, mappable: Any) -> bool:
    return getattr(mappable, "axes", None) is ax


def _same_scale(a: Any, b: Any) -> bool:
    if a.get_cmap().name != b.get_cmap().name:
        return False
    lo_a, hi_a, lo_b, hi_b = a.norm.vmin, a.norm.vmax, b.norm.vmin, b.norm.vmax
    if None in (lo_a, hi_a, lo_b, hi_b):
        return False
    span = max(abs(hi_a - lo_a), abs(hi_b - lo_b), 1e-12)
    return abs(lo_a - lo_b) <= 1e-6 * span and abs(hi_a - hi_b) <= 1e-6 * span and type(a.norm) is type(b.norm)


def _qualitative(art: Any) -> bool:
    from matplotlib.colors import ListedColormap

    cmap = art.get_cmap()
    return isinstance(cmap, ListedColormap) and cmap.N <= 20


def _named_by_legend(art: Any, legend_colors: set) -> bool:
    """Whether the artist takes a few values (classes) whose every color is a legend handle's color."""
    arr = np.ma.asarray(art.get_array())
    values = np.unique(arr.compressed())
    if not 0 < len(values) <= 12:
        return False
    colors = _rgbs(art.to_rgba(values))
    return bool(colors) and all(_near(c, legend_colors) for c in colors)


def _colormap_problems(ax: Any, name: str, colorbars: list[Any], legend_colors: set) -> list[str]:
    from matplotlib.collections import PathCollection

    if _picture(ax):
        return []
    out = []
    for art in _mapped(ax):
        if getattr(art, "colorbar", None) is not None or any(_same_scale(art, cb.mappable) for cb in colorbars):
            continue
        if _named_by_legend(art, legend_colors):
            continue  # classes, named by a legend
        if not isinstance(art, PathCollection) and _qualitative(art):
            continue  # cells painted to group them (tab10, tab20): the colors carry no value
        kind = "scatter" if isinstance(art, PathCollection) else "image"
        out.append(f"{name}: a {kind} maps values to colors ({art.get_cmap().name}) but no colorbar shows the scale "
                   "(nor a legend names its classes)")
    return out


# -- overlapping and clipped text ---------------------------------------------------------------------


def _box(text: Any, renderer: Any) -> Any:
    return text.get_window_extent(renderer)


def _oriented(text: Any, renderer: Any) -> tuple[np.ndarray, float, float, float]:
    """(center, angle in radians, width along the text, height across it) of a drawn text, from its
    axis-aligned box W x H = (w|cos| + h|sin|) x (w|sin| + h|cos|), with h one line of its font."""
    bb = _box(text, renderer)
    theta = math.radians(text.get_rotation())
    c, s = abs(math.cos(theta)), abs(math.sin(theta))
    h = min(text.get_fontsize() * text.figure.dpi / 72.0 * 1.2, bb.width, bb.height) if 0.05 < s < 0.999 else 0.0
    if c >= s:
        w = (bb.width - h * s) / c
    else:
        w = (bb.height - h * c) / s
    return np.array([bb.x0 + bb.width / 2, bb.y0 + bb.height / 2]), theta, max(w, 0.0), h


def _labels_overlap(a: Any, b: Any, renderer: Any) -> bool:
    ra, rb = a.get_rotation() % 180, b.get_rotation() % 180
    tilted = min(ra, 180 - ra) > 3 and abs(ra - 90) > 3
    if not tilted or abs(ra - rb) > 1:
        return _intersection(_box(a, renderer), _box(b, renderer)) > 1.0
    # Two labels tilted by the same angle: parallel rectangles overlap iff they overlap along the text
    # direction and across it (separating axis theorem).
    ca, theta, wa, ha = _oriented(a, renderer)
    cb, _, wb, hb = _oriented(b, renderer)
    d = cb - ca
    along = abs(d[0] * math.cos(theta) + d[1] * math.sin(theta))
    across = abs(-d[0] * math.sin(theta) + d[1] * math.cos(theta))
    return along < (wa + wb) / 2 - 0.5 and across < (ha + hb) / 2 - 0.5


def _intersection(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _overlap_problems(fig: Any, renderer: Any, axes: list[Any], names: dict[int, str]) -> list[str]:
    out = []
    texts: list[tuple[int, str, Any]] = []  # (owner id, description, text) of every text to place
    for ax in axes:
        name = names.get(id(ax), "a colorbar")
        for letter, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            labels = sorted(_shown_ticklabels(axis), key=lambda t: (_box(t, renderer).x0, _box(t, renderer).y0))
            clashes = [(p, q) for i, p in enumerate(labels) for q in labels[i + 1:]
                       if p is not q and _labels_overlap(p, q, renderer)]
            if clashes:
                p, q = clashes[0]
                out.append(f"{name}: {len(clashes)} pairs of {letter} tick labels overlap "
                           f"(e.g. {p.get_text()!r} and {q.get_text()!r}); show fewer ticks, rotate or shorten them")
            texts += [(id(ax), f"{letter} tick label {t.get_text()!r}", t) for t in labels]
            if axis.label.get_visible() and axis.label.get_text().strip():
                texts.append((id(ax), f"{letter} label {axis.label.get_text()!r}", axis.label))
        texts += [(id(ax), f"title {t.get_text()!r}", t) for t in (ax.title, ax._left_title, ax._right_title)
                  if t.get_visible() and t.get_text().strip()]
    if fig._suptitle is not None and fig._suptitle.get_visible() and fig._suptitle.get_text().strip():
        texts.append((0, f"suptitle {fig._suptitle.get_text()!r}", fig._suptitle))

    boxes = [(owner, what, _box(t, renderer)) for owner, what, t in texts]
    reported: set[tuple[int, int]] = set()
    for i, (oa, wa, ba) in enumerate(boxes):
        for ob, wb, bb in boxes[i + 1:]:
            if oa == ob or (oa, ob) in reported:
                continue
            small = min(ba.width * ba.height, bb.width * bb.height)
            if small > 0 and _intersection(ba, bb) > _CROSS_OVERLAP * small:
                reported.add((oa, ob))
                who_a = names.get(oa, "the figure" if oa == 0 else "a colorbar")
                who_b = names.get(ob, "the figure" if ob == 0 else "a colorbar")
                out.append(f"{who_a}'s {wa} overlaps {who_b}'s {wb}")

    fb = fig.bbox
    legends = [*fig.legends, *(lg for ax in axes if (lg := ax.get_legend()) is not None)]
    placed = [*boxes, *((0, "legend", lg.get_window_extent(renderer)) for lg in legends if lg.get_visible())]
    cut = [what for _, what, b in placed if b.x0 < fb.x0 - 2 or b.y0 < fb.y0 - 2 or b.x1 > fb.x1 + 2 or b.y1 > fb.y1 + 2]
    if cut:
        out.append(f"{len(cut)} texts stick out of the figure and would be cut (e.g. the {cut[0]})")
    return out
