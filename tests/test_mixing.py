"""adskit.audio.mixing: realised ANR, insertion span, frame labels and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adskit.audio.features import FeatureConfig, LogMel, frame_times, stack_context
from adskit.audio.mixing import frame_labels, mix_at_ratio, mix_snr


def _anr_db(y, x, span):
    a, b = span
    return 10 * np.log10(np.sum((y - x)[a:b] ** 2) / np.sum(x[a:b] ** 2))


@pytest.mark.parametrize("ratio_db", [-20.0, -15.0, -10.0, 0.0, 5.0, 13.7])
def test_realised_anr_equals_requested(ratio_db):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(32000) * np.linspace(0.1, 1.0, 32000)  # non-stationary normal sound
    s = np.sin(2 * np.pi * 440 * np.arange(5000) / 16000) * 3.0
    y, span = mix_at_ratio(x, s, ratio_db, rng=rng)
    assert span[1] - span[0] == 5000 and 0 <= span[0] and span[1] <= 32000
    assert abs(_anr_db(y, x, span) - ratio_db) < 1e-6
    np.testing.assert_array_equal(y[: span[0]], x[: span[0]])
    np.testing.assert_array_equal(y[span[1] :], x[span[1] :])


def test_position_and_seed():
    x, s = np.random.default_rng(0).standard_normal((2, 1000))
    y1, span1 = mix_at_ratio(x, s[:100], -10.0, rng=7)
    y2, span2 = mix_at_ratio(x, s[:100], -10.0, rng=7)
    assert span1 == span2 and np.array_equal(y1, y2)
    assert mix_at_ratio(x, s[:100], -10.0, position=900)[1] == (900, 1000)
    assert mix_at_ratio(x, s, -10.0)[1] == (0, 1000)  # equal lengths: the only position
    assert mix_at_ratio(x.astype(np.float32), s[:10].astype(np.float32), 0.0)[0].dtype == np.float32


def test_mixing_errors_name_the_argument():
    x = np.random.default_rng(0).standard_normal(1000)
    silent = x.copy()
    silent[100:300] = 0.0
    with pytest.raises(ValueError, match="normal"):
        mix_at_ratio(silent, np.ones(200), -10.0, position=100)
    with pytest.raises(ValueError, match="other"):
        mix_at_ratio(x, np.zeros(200), -10.0)
    for bad in (np.nan, np.inf, -np.inf, "loud"):
        with pytest.raises(ValueError, match="ratio_db"):
            mix_at_ratio(x, np.ones(200), bad)
    with pytest.raises(ValueError, match="other"):
        mix_at_ratio(x[:100], x, -10.0)
    with pytest.raises(ValueError, match="position"):
        mix_at_ratio(x, x[:200], -10.0, position=801)
    with pytest.raises(ValueError, match="normal"):
        mix_at_ratio(np.full(1000, np.nan), x[:10], -10.0)


def test_mix_snr_loops_and_trims():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(10000)
    a = rng.standard_normal(3000)
    y = mix_snr(x, a, -5.0)
    assert y.shape == x.shape
    assert abs(10 * np.log10(np.sum((y - x) ** 2) / np.sum(x**2)) + 5.0) < 1e-6
    g = (y - x)[0] / a[0]
    np.testing.assert_allclose((y - x)[3000:6000], g * a)  # looped
    assert mix_snr(x[:2000], a, 0.0).shape == (2000,)  # trimmed


@pytest.mark.parametrize("preset", ["paper", "dcase2020"])
def test_frame_labels_cover_the_inserted_span(preset):
    cfg = FeatureConfig.preset(preset)
    n = 3 * cfg.sr
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    s = np.ones(8000, dtype=np.float32)
    y, (start, stop) = mix_at_ratio(x, s, 0.0, position=20000)
    with torch.inference_mode():
        X = stack_context(LogMel(cfg, device="cpu")(y), cfg.frames)
    labels = frame_labels((start, stop), n, cfg)
    assert labels.dtype == bool and labels.shape == (X.shape[0],)
    t = frame_times(labels.size, cfg)
    inside = (t >= start / cfg.sr) & (t < stop / cfg.sr)
    assert labels[inside].all()  # every vector centred in the span is anomalous
    half = cfg.win_length / 2 / cfg.sr
    far = (t < start / cfg.sr - half) | (t >= stop / cfg.sr + half)
    assert not labels[far].any() and labels.sum() == np.count_nonzero(~far)
    # contiguous run
    idx = np.flatnonzero(labels)
    assert np.all(np.diff(idx) == 1)
    assert not frame_labels(None, n, cfg).any() and frame_labels(None, n, cfg).size == X.shape[0]
    with pytest.raises(ValueError, match="span"):
        frame_labels((10, n + 1), n, cfg)
