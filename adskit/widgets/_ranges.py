"""Slider ranges that hold the value a panel starts with, so that a slider always shows the value in use.

ipywidgets clamps a value outside a slider's range without a word; a panel that computed its numbers from the
requested value would then show another one beside them. The panels widen their ranges instead (a log slider
reaches any positive value), and refuse what no slider of theirs can show.
"""

from __future__ import annotations

import math

from .._utils import check_positive


def log_exponents(value: float, lo: float, hi: float, name: str) -> tuple[float, float]:
    """Base-10 exponents of a log slider spanning ``[lo, hi]``, widened so that ``value`` lies inside it exactly.

    Parameters
    ----------
    value : float > 0
        The slider's starting value.
    lo, hi : float > 0
        The default range.
    name : str
        The argument ``value`` came from, for the error message.

    Returns
    -------
    (min, max) : tuple of float
        With ``10**min <= value <= 10**max`` in floating point (ipywidgets' clamping test).

    Raises
    ------
    ValueError
        If ``value`` is not a finite number > 0 (a log slider cannot show it); the message names ``name`` and
        the default range.
    """
    try:
        v = check_positive(value, name)
    except ValueError:
        raise ValueError(
            f"{name}: expected a finite number > 0 (its slider is logarithmic, {lo:g} to {hi:g} by default, and "
            f"widens to any positive value), got {value!r}"
        ) from None
    a, b = math.log10(min(lo, v)), math.log10(max(hi, v))
    while 10.0**a > v:
        a = math.nextafter(a, -math.inf)
    while 10.0**b < v:
        b = math.nextafter(b, math.inf)
    return a, b


def linear_span(values: list[float], value: float, pad: float = 0.02) -> tuple[float, float]:
    """``(lo, hi)`` of a linear slider over ``values`` and ``value``, padded by ``pad`` of the span on each side."""
    lo, hi = min(min(values), value), max(max(values), value)
    p = pad * (hi - lo or 1.0)
    return lo - p, hi + p
