import numpy as np
import pytest

from adskit.experiments.verification import (
    VerificationConfig,
    make_ring_data,
    run_verification,
)
from adskit.plots import plot_grid_maps

pytestmark = pytest.mark.usefixtures("one_thread")


def test_ring_data_radii_and_determinism():
    x = make_ring_data(2000, 0.0, 2.0, random_state=3)
    r = np.linalg.norm(x, axis=1)
    assert r.max() <= 2.0 and r.min() >= 0 and abs(r.mean() - 1.0) < 0.05
    np.testing.assert_array_equal(x, make_ring_data(2000, 0.0, 2.0, random_state=3))
    xa = np.linalg.norm(make_ring_data(500, 2.0, 3.0, 1), axis=1)
    assert xa.min() >= 2.0 and xa.max() <= 3.0


def test_short_run_reports_table_figures_and_is_deterministic():
    cfg = VerificationConfig(n_updates=200, n_normal=2000, n_anomalous=2000, grid_step=0.05, device="cpu")
    res = run_verification(cfg, progress=False)
    assert set(res.kld) == {"RE", "SNP", "BU"}
    for m in ("RE", "SNP", "BU"):
        assert set(res.kld[m]) == {"p", "uniform"} and all(np.isfinite(list(res.kld[m].values())))
        assert res.q[m].shape == res.scores[m].shape == (res.grid.size, res.grid.size)
        assert res.q[m].sum() == pytest.approx(1.0)
    assert res.config["n_updates"] == 200 and "| BU |" in res.table_markdown()
    fig = plot_grid_maps(res.q, cfg.grid_lim, title="q", kind="q")
    assert len(fig.axes) == 6  # three maps and their colour bars
    res2 = run_verification(cfg, progress=False)
    assert res2.kld == res.kld  # same seed, same numbers


@pytest.mark.slow
def test_full_run_reproduces_the_papers_pattern():
    """The acceptance check, 5,000 updates: BU < SNP < RE on KL[p_U||q], each step by a quarter at least, and
    SNP and BU both at most half RE's KL[p||q].

    Seed check 2026-11-29 (seeds 0-7, one run each): KL[p_U||q] RE 0.77-0.87, SNP 0.34-0.51, BU 0.18-0.21;
    ratios BU/SNP 0.39-0.59 (bound 0.75), SNP/RE 0.40-0.59 (bound 0.75), BU/RE 0.21-0.28 (bound 0.5).
    KL[p||q] RE 1.06-1.17, SNP 0.295-0.311, BU 0.303-0.346; max(SNP, BU)/RE 0.27-0.30 (bound 0.5).
    The paper's "SNP lowest on KL[p||q]" is not asserted: SNP was lowest on 6 of 8 seeds, BU - SNP ranged
    -0.002 (seeds 1 and 4: BU lowest) to +0.035, too close for one run to decide.
    """
    res = run_verification(VerificationConfig(device="cpu"), progress=False)
    u = {m: res.kld[m]["uniform"] for m in ("RE", "SNP", "BU")}
    p = {m: res.kld[m]["p"] for m in ("RE", "SNP", "BU")}
    assert u["BU"] < 0.75 * u["SNP"] and u["SNP"] < 0.75 * u["RE"], res.kld
    assert u["BU"] < 0.5 * u["RE"], res.kld
    assert max(p["SNP"], p["BU"]) < 0.5 * p["RE"], res.kld


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"h": 0}, "h"),
        ({"eps": -1.0}, "eps"),
        ({"C": -1}, "C"),
        ({"widths": (4, 2)}, "widths"),
        ({"n_updates": 0}, "n_updates"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_verification(VerificationConfig(**kwargs), progress=False)
