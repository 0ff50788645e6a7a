"""Layout checks for any matplotlib Figure: no two drawn texts overlap, no legend covers data.

``layout_problems(figure)`` draws the figure (Agg, at its own dpi) and returns one sentence per
problem, so a failing test names the texts involved. Texts are compared as the rotated
rectangles they are drawn in (the axis-aligned extent of a rotated tick label is much wider
than its glyphs, and would flag neighbours that do not touch). Tick labels count only for the
ticks drawn (inside the view, on a visible axis); empty texts never count.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.transforms import Bbox

SLACK = 1.0  # pixels: texts that merely touch are not overlapping


def layout_problems(figure: Figure) -> list[str]:
    """Every pair of overlapping texts and every legend drawn over data, as sentences."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = drawn_texts(figure)
    shapes = [_text_polygon(text, renderer) for text in texts]
    problems = []
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if _polygons_overlap(shapes[i], shapes[j]):
                problems.append(f"texts overlap: {texts[i].get_text()!r} and {texts[j].get_text()!r}")
    for legend in legends(figure):
        box = legend.get_window_extent(renderer)
        for axis in figure.axes:
            for what in _data_under(axis, box):
                problems.append(f"legend ({', '.join(t.get_text() for t in legend.get_texts())}) covers {what}")
    return problems


def legends(figure: Figure) -> list[Legend]:
    return [*figure.legends, *(axis.get_legend() for axis in figure.axes if axis.get_legend() is not None)]


def drawn_texts(figure: Figure) -> list[Text]:
    """The texts a reader sees: visible, non-empty, tick labels only of the ticks drawn."""
    hidden: set[int] = set()
    for axis in figure.axes:
        for part in (axis.xaxis, axis.yaxis):
            shown = axis.axison and part.get_visible()
            if not shown:
                hidden |= {id(part.label), id(part.offsetText)}
            low, high = sorted(part.get_view_interval())
            tolerance = 1e-9 * max(abs(low), abs(high), 1.0)
            for ticks, locations in ((part.majorTicks, part.get_majorticklocs()),
                                     (part.minorTicks, part.get_minorticklocs())):
                drawn = {i for i, loc in enumerate(locations) if low - tolerance <= loc <= high + tolerance}
                for index, tick in enumerate(ticks):
                    if not shown or index not in drawn:
                        hidden |= {id(tick.label1), id(tick.label2)}
    texts = []
    for text in figure.findobj(Text):
        if id(text) in hidden or not text.get_text().strip() or not _visible(text):
            continue
        texts.append(text)
    return texts


def _visible(artist) -> bool:
    """An artist is seen when it and every container above it is visible."""
    while artist is not None:
        if not artist.get_visible():
            return False
        parent = getattr(artist, "axes", None) if not isinstance(artist, Figure) else None
        if parent is artist or parent is None:
            break
        artist = parent
    return True


def _text_polygon(text: Text, renderer) -> np.ndarray:
    """The four corners, in pixels, of the rectangle the text is drawn in (rotation included):
    its unrotated size measured on a copy, turned by its angle about the centre of its extent
    (a rotated rectangle's bounding box shares its centre)."""
    extent = text.get_window_extent(renderer)
    flat = Text(0, 0, text.get_text(), fontproperties=text.get_fontproperties(),
                linespacing=text.get_linespacing())
    flat.set_figure(text.figure)
    size = flat.get_window_extent(renderer)
    width, height = max(size.width - 2 * SLACK, 0), max(size.height - 2 * SLACK, 0)
    angle = np.deg2rad(text.get_rotation())
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = np.array([[-width, -height], [width, -height], [width, height], [-width, height]]) / 2
    centre = np.array([(extent.x0 + extent.x1) / 2, (extent.y0 + extent.y1) / 2])
    return corners @ turn.T + centre


def _polygons_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Separating-axis test for two convex quadrilaterals."""
    for polygon in (a, b):
        for k in range(4):
            edge = polygon[(k + 1) % 4] - polygon[k]
            normal = np.array([-edge[1], edge[0]])
            if not normal.any():
                continue
            pa, pb = a @ normal, b @ normal
            if pa.max() <= pb.min() or pb.max() <= pa.min():
                return False
    return True


def _data_under(axis, box: Bbox) -> list[str]:
    """What of ``axis``'s plotted data (lines, markers, bars, areas, images) lies under ``box``,
    only where it is drawn (inside the axes)."""
    clip = Bbox.intersection(box, axis.get_window_extent())
    if clip is None or clip.width <= SLACK or clip.height <= SLACK:
        return []
    clip = Bbox.from_extents(clip.x0 + SLACK, clip.y0 + SLACK, clip.x1 - SLACK, clip.y1 - SLACK)
    found = []
    for line in axis.lines:
        if not line.get_visible():
            continue
        path = line.get_transform().transform_path(line.get_path())
        drawn = line.get_linestyle() not in ("None", "none", "", " ") and len(path.vertices) > 1
        markers = line.get_marker() not in (None, "None", "none", "", " ")
        if (drawn and path.intersects_bbox(clip, filled=False)) or (markers and _any_inside(path.vertices, clip)):
            found.append(f"line {line.get_label()!r}")
    for patch in axis.patches:
        if patch.get_visible() and patch.get_transform().transform_path(patch.get_path()).intersects_bbox(clip):
            found.append(f"patch {patch.get_label() or type(patch).__name__!r}")
    for collection in axis.collections:
        if not collection.get_visible():
            continue
        if isinstance(collection, PathCollection) and len(collection.get_offsets()):  # scatter markers
            points = collection.get_offset_transform().transform(collection.get_offsets())
            if _any_inside(points, clip):
                found.append(f"markers {collection.get_label()!r}")
            continue
        filled = not isinstance(collection, LineCollection)
        transform = collection.get_transform()
        if any(transform.transform_path(path).intersects_bbox(clip, filled=filled)
               for path in collection.get_paths()):
            found.append(f"{type(collection).__name__} {collection.get_label()!r}")
    for image in axis.images:
        if image.get_visible() and Bbox.intersection(image.get_window_extent(), clip) is not None:
            found.append("image")
    return found


def _any_inside(points: np.ndarray, box: Bbox) -> bool:
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    return bool(((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
                 & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)).any())
