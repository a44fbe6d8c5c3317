"""Moving :class:`adskit.gmm.GaussianMixture` parameters to and from ``sklearn.mixture.GaussianMixture``.

The fitted attributes carry scikit-learn's names and layouts, so the conversion copies arrays; the public entry
points are :meth:`GaussianMixture.to_sklearn` and :meth:`GaussianMixture.from_sklearn`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def to_sklearn(gmm: Any) -> Any:
    """A fitted ``sklearn.mixture.GaussianMixture`` with the parameters of a fitted adskit one (float64).

    Raises
    ------
    AttributeError
        If ``gmm`` is not fitted.
    """
    from sklearn.mixture import GaussianMixture as SkGMM

    gmm._check_fitted()
    sk = SkGMM(
        n_components=gmm.n_components,
        covariance_type=gmm.covariance_type,
        tol=gmm.tol,
        reg_covar=gmm.reg_covar,
        max_iter=gmm.max_iter,
    )
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        setattr(sk, name, getattr(gmm, name).astype(np.float64))
    sk.converged_ = bool(getattr(gmm, "converged_", True))
    sk.n_iter_ = int(getattr(gmm, "n_iter_", 0))
    sk.lower_bound_ = float(getattr(gmm, "lower_bound_", -np.inf))
    sk.n_features_in_ = gmm.n_features_in_
    return sk


def from_sklearn(cls: type, sk_gmm: Any, kwargs: dict[str, Any]) -> Any:
    """An instance of ``cls`` (adskit's GaussianMixture) holding a fitted scikit-learn mixture's parameters.

    ``kwargs`` are constructor arguments; n_components, covariance_type, tol, reg_covar and max_iter default to
    the scikit-learn model's.

    Raises
    ------
    TypeError
        If ``kwargs`` holds a name that is not a constructor argument.
    ValueError
        If a constructor parameter is invalid, or ``sk_gmm`` is not fitted.
    """
    kwargs = dict(kwargs)
    for key in ("n_components", "covariance_type", "tol", "reg_covar", "max_iter"):
        kwargs.setdefault(key, getattr(sk_gmm, key))
    self = cls(**kwargs)
    self._check_params()
    if not hasattr(sk_gmm, "means_"):
        raise ValueError("sk_gmm: the scikit-learn model is not fitted")
    dev, dt = self._device(), self._dtype()

    def tens(a: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=dt, device=dev)

    means = tens(sk_gmm.means_)
    self._center = torch.zeros(means.shape[1], dtype=dt, device=dev)
    self._weights = tens(sk_gmm.weights_)
    self._means = means
    self._covs = tens(sk_gmm.covariances_)
    self._prec_chol = tens(sk_gmm.precisions_cholesky_)
    self.converged_ = bool(getattr(sk_gmm, "converged_", True))
    self.n_iter_ = int(getattr(sk_gmm, "n_iter_", 0))
    self.lower_bound_ = float(getattr(sk_gmm, "lower_bound_", -np.inf))
    self.lower_bounds_ = [self.lower_bound_]
    return self
