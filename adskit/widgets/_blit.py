"""The panels' renderer: a matplotlib Figure on an Agg canvas, static parts drawn once, animated artists blitted.

The PNG goes to the browser through an ``ipywidgets.Image``, which keeps an update well under 100 ms and works
the same in JupyterLab, Voila and a headless test. Also the method colours and the span shapes both panels use.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

_COLORS = {"RE": "tab:red", "SNP": "tab:blue", "BU": "tab:green", "NP": "tab:purple"}
_FALLBACK = ("tab:orange", "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan")


def _color(method: str, i: int) -> str:
    """The colour of a method: fixed for RE, SNP, BU and NP, else the ``i``-th fallback."""
    return _COLORS.get(method.upper(), _FALLBACK[i % len(_FALLBACK)])


def _spans(segs: Sequence[tuple[float, float]], y0: float, y1: float) -> list[np.ndarray]:
    """Rectangles (4, 2) covering ``[a, b] x [y0, y1]`` for each time segment ``(a, b)``."""
    return [np.array([[a, y0], [b, y0], [b, y1], [a, y1]]) for a, b in segs]


class _BlitFigure:
    """A matplotlib Figure on an Agg canvas: static parts drawn once, animated artists blitted, PNG out."""

    def __init__(self, figsize: tuple[float, float], dpi: int = 80) -> None:
        self.fig = Figure(figsize=figsize, dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.animated: list[Any] = []
        self._bg = None

    def animate(self, artist: Any) -> Any:
        """Mark ``artist`` as redrawn on every render (not part of the cached background); returns it."""
        artist.set_animated(True)
        self.animated.append(artist)
        return artist

    def invalidate(self) -> None:
        """Redraw the static background on the next render (after axes limits or static artists changed)."""
        self._bg = None

    def render(self) -> bytes:
        """PNG bytes of the figure: the cached background plus the animated artists."""
        if self._bg is None:
            self.canvas.draw()
            self._bg = self.canvas.copy_from_bbox(self.fig.bbox)
        else:
            self.canvas.restore_region(self._bg)
        for a in self.animated:
            if a.get_visible():
                a.axes.draw_artist(a)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(self.canvas.buffer_rgba())).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()
