"""The one standardiser against scikit-learn's StandardScaler and its floor rule."""

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler

from adskit._scaling import fit_scale, parse_scaler, safe_scale


def test_fit_scale_matches_standard_scaler() -> None:
    X = np.random.default_rng(0).normal(3.0, 2.0, size=(200, 5))
    X[:, 2] = 7.0  # a constant dimension: scikit-learn gives it scale 1
    ref = StandardScaler().fit(X)
    mean, scale = fit_scale(X)
    np.testing.assert_allclose(mean, ref.mean_)
    np.testing.assert_allclose(scale, ref.scale_)


def test_fit_scale_torch_matches_numpy_with_ddof() -> None:
    X = np.random.default_rng(1).normal(size=(50, 4))
    m_np, s_np = fit_scale(X, ddof=1)
    m_t, s_t = fit_scale(torch.as_tensor(X), ddof=1)
    assert isinstance(m_t, torch.Tensor) and m_t.dtype == torch.float64
    np.testing.assert_allclose(m_t.numpy(), m_np)
    np.testing.assert_allclose(s_t.numpy(), np.std(X, axis=0, ddof=1))


def test_floor_is_relative() -> None:
    s = safe_scale(np.array([1e3, 1e-9, 0.0, 2.0]))
    np.testing.assert_array_equal(s, [1e3, 1.0, 1.0, 2.0])  # 1e-9 <= 1e-8 * 1e3: treated as constant
    assert torch.equal(safe_scale(torch.tensor([0.0, 0.5])), torch.tensor([1.0, 0.5]))


def test_parse_scaler_forms_and_errors() -> None:
    X = np.random.default_rng(2).normal(size=(30, 3))
    ref = StandardScaler().fit(X)
    for obj in (ref, (ref.mean_, ref.scale_)):
        mean, scale = parse_scaler(obj, 3)
        np.testing.assert_allclose(scale, ref.scale_)
    with pytest.raises(ValueError, match="scaler: mean/std have 3/3 entries, the data have 4"):
        parse_scaler(ref, 4)
    with pytest.raises(ValueError, match="standardize: expected"):
        parse_scaler(3.0, 3, name="standardize")
    with pytest.raises(ValueError, match="X: expected a 2-D array"):
        fit_scale(np.zeros(3))
