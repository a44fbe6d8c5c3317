"""The panels' life cycle: what ``close()`` frees, and why re-creating a panel does not keep the old one alive.

Every panel class of :mod:`adskit.widgets` derives from :class:`_Panel` (before ``ipywidgets.VBox``). It adds:

* :meth:`_Panel.close` - closes the panel and every widget inside it, recursively (children, and each widget's
  ``layout`` and ``style``, which are widgets too and stay registered in ipywidgets otherwise), removes the
  panel's observers, releases its matplotlib figure(s) (``plt.close`` for a pyplot figure; the panels' own Agg
  figures are dropped with their artists), and empties its image and audio widgets. Closing twice is harmless;
  a closed panel is inert (its sliders no longer update it, ``state`` keeps the last numbers).
* Observers that hold the panel weakly: a child widget's ``observe()`` callback never keeps its panel alive.
* Registration on first display: ipywidgets keeps every open widget alive (its registry ``_instances`` and the
  comm) until it is closed, because a frontend may show it. A panel opens its own comm only when it is first
  displayed or put into a container (``_repr_mimebundle_``, ``model_id``). A panel that was never shown
  and is no longer referenced is therefore garbage collected, and its collection closes its child widgets.
* Replacement in the same notebook cell: re-running a cell removes its old output, but the old panel stays open
  (ipywidgets cannot know that no view is left). When a panel is displayed in a cell, the panels of the same
  class that an *earlier execution of that cell* displayed are closed, unless they are still shown in another
  cell. The cell is the ``cellId`` that JupyterLab and Notebook 7 send with each execution (read from the
  kernel's parent header). Panels displayed by the same execution never close each other; where no cell id is
  known (a widget callback, a terminal, a frontend that sends none) nothing is closed automatically: call
  ``close()`` on the old panel. A panel inside a container counts as shown in
  the cell that built the container.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets
from matplotlib.artist import Artist
from matplotlib.figure import Figure

from ._blit import _BlitFigure, _release_figure

#: cell id -> [(weak reference to a displayed panel, id of the execution that displayed it)]
_SHOWN: dict[str, list[tuple[weakref.ref, str]]] = {}


def _current_cell() -> tuple[str, str] | None:
    """``(cell id, execution id)`` of the notebook cell being executed, or None outside a cell execution.

    Read from the parent header of the running ipykernel shell (``metadata.cellId``, ``header.msg_id`` of an
    ``execute_request``); None without IPython, without a kernel, in a widget callback, or without a cell id.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        shell = ipython.get_ipython()
        parent = shell.get_parent() if shell is not None and hasattr(shell, "get_parent") else None
    except Exception:
        return None
    if not isinstance(parent, dict):
        return None
    header, meta = parent.get("header") or {}, parent.get("metadata") or {}
    cell, run = meta.get("cellId"), header.get("msg_id")
    if header.get("msg_type") != "execute_request" or not cell or not run:
        return None
    return str(cell), str(run)


def _note_shown(panel: _Panel) -> None:
    """Record that ``panel`` is displayed in the current cell; close what an earlier run of it displayed."""
    where = _current_cell()
    if where is None:
        return
    cell, run = where
    keep, stale = [], []
    for ref, r in _SHOWN.get(cell, []):
        old = ref()
        if old is None or old is panel:
            continue
        if r != run and type(old) is type(panel):
            stale.append(old)
        else:
            keep.append((ref, r))
    keep.append((weakref.ref(panel), run))
    _SHOWN[cell] = keep
    panel._panel_cells.add(cell)
    for old in stale:
        old._panel_cells.discard(cell)
        if not old._panel_cells:  # shown nowhere else: its view left with the cell's old output
            old.close()


def _forget(panel: _Panel) -> None:
    """Drop ``panel`` (and dead references) from the display record."""
    for cell in list(_SHOWN):
        entries = [(ref, r) for ref, r in _SHOWN[cell] if ref() is not None and ref() is not panel]
        if entries:
            _SHOWN[cell] = entries
        else:
            del _SHOWN[cell]


def _descendants(root: widgets.Widget) -> Iterator[widgets.Widget]:
    """Every widget reachable from ``root`` through its synced traits (children, layout, style, ...), root excluded."""
    seen, stack = {id(root)}, [root]
    while stack:
        w = stack.pop()
        for key in getattr(w, "keys", ()):
            try:
                v = getattr(w, key)
            except Exception:
                continue
            for item in v if isinstance(v, (list, tuple)) else (v,):
                if isinstance(item, widgets.Widget) and id(item) not in seen:
                    seen.add(id(item))
                    stack.append(item)
                    yield item


def _is_artists(v: Any) -> bool:
    """True for a matplotlib artist, or a non-empty dict / list of them (a panel's handles into its figure)."""
    if isinstance(v, Artist):
        return True
    items = list(v.values()) if isinstance(v, dict) else v if isinstance(v, list) else None
    return bool(items) and all(isinstance(a, Artist) for a in items)


class _Panel:
    """Life cycle of a panel (mix in before ``ipywidgets.VBox``); see the module docstring."""

    _panel_closed = False
    _panel_shown = False

    def _observe(self, widget: widgets.Widget, method: Callable[[dict], None], names: str = "value") -> None:
        """``widget.observe(method, names)`` through a weak reference to the panel; undone by :meth:`close`."""
        ref = weakref.WeakMethod(method)

        def handler(change: dict) -> None:
            m = ref()
            if m is not None:
                m(change)

        if "_panel_observers" not in self.__dict__:
            self._panel_observers: list[tuple[widgets.Widget, Callable, str]] = []
        widget.observe(handler, names=names)
        self._panel_observers.append((widget, handler, names))

    @property
    def _panel_cells(self) -> set[str]:
        """The notebook cells this panel is displayed in (see :func:`_note_shown`)."""
        if "_panel_cells_" not in self.__dict__:
            self._panel_cells_: set[str] = set()
        return self._panel_cells_

    # ---- opened on first display ----
    def open(self) -> None:
        """Open the comm to the frontend, but only once the panel is displayed (never after :meth:`close`)."""
        if self._panel_shown and not self._panel_closed:
            super().open()  # type: ignore[misc]

    def _ensure_open(self) -> None:
        if self.comm is None and not self._panel_closed:  # type: ignore[attr-defined]
            self._panel_shown = True
            self.open()
            _note_shown(self)

    @property
    def model_id(self) -> str:
        """The model id of the panel; opens its comm first (the panel is being displayed or serialised)."""
        self._ensure_open()
        return self.comm.comm_id if self.comm is not None else self._model_id  # type: ignore[attr-defined]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self._ensure_open()
        _note_shown(self)
        return super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]

    def get_view_spec(self) -> dict:
        self._ensure_open()
        return super().get_view_spec()  # type: ignore[misc]

    # ---- close ----
    def _release(self) -> None:
        """Free what is specific to a panel class (called once by :meth:`close`); nothing by default."""

    def close(self) -> None:
        """Close the panel and free what it holds (see the module docstring); closing twice is harmless.

        Closes every widget inside the panel (recursively: children, ``layout``, ``style``), removes the panel's
        observers, releases its matplotlib figure(s) and artists, empties its image and audio widgets, and
        closes the panel itself. After ``panel.close(); del panel`` the panel can be garbage collected.
        """
        if self._panel_closed:
            super().close()  # type: ignore[misc]
            return
        self._panel_closed = True
        for w, handler, names in self.__dict__.pop("_panel_observers", []):
            try:
                w.unobserve(handler, names=names)
            except ValueError:
                pass
        inner = list(_descendants(self))  # type: ignore[arg-type]
        for w in inner:
            w.close()
        for w in inner:
            if isinstance(w, (widgets.Image, widgets.Audio, widgets.Video)):
                w.value = b""
        self._release()
        for name, v in list(vars(self).items()):
            if isinstance(v, _BlitFigure):
                v.close()
                setattr(self, name, None)
            elif isinstance(v, Figure):
                _release_figure(v)
                setattr(self, name, None)
            elif _is_artists(v):
                setattr(self, name, None)
        _forget(self)
        super().close()  # type: ignore[misc]
        self._repr_mimebundle_ = None  # not displayable any more (as ipywidgets does for a closed widget)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: S110 - garbage collection, possibly at interpreter exit: nothing to report to
            pass
