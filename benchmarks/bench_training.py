"""AEDetector training throughput through the kit's pipeline against a plain PyTorch loop.

adskit: ``AEDetector.fit_sampler(FrameSampler(FeatureCache(...)))``, i.e. mini-batches of context vectors from
the feature cache (its frames held in memory, the sampler's default up to 1 GiB), standardised, and the
detector's loop (learning-rate schedule, clip, history, checks). Reference: the same model (same preset, same
Glorot start) and batch size trained by a bare loop over one in-memory tensor (``X[randint]``, forward, loss,
AMSGrad/Adam step). Both count the frames (rows) they train on; the ratio is adskit's frames/s over the
reference's (target >= 0.9x). Both are timed from the model's construction to the last update (adskit's fit also
reads and checks its first batch, estimates the statistics and scores the first rows for its threshold: about
15 ms, 3-4 % of the quick run's 60 updates). With BU the reference computes the same weights with
:func:`adskit.kde.bu_weights` (the same bandwidth rule), so the row measures the pipeline, not the KDE
(``bench_bu`` measures that).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from run import Case, Result


def _case(preset: str, cost: str, quick: bool, n_files: int | None = None) -> Case:
    """``n_files`` ten-second clips (default 10, 30 with the full run)."""
    n_files = n_files or (10 if quick else 30)
    label = f"AE training {preset} {cost.upper()} (cache+sampler" + (f", {n_files} files)" if n_files > 30 else ")")

    def run() -> Result:
        import torch

        from adskit.audio.datasets import FeatureCache, FrameSampler
        from adskit.audio.features import FeatureConfig
        from adskit.audio.io import save_audio
        from adskit.detectors import AEDetector
        from adskit.kde import bu_weights, median_heuristic
        from adskit.losses import anomaly_score

        n_updates = 60 if quick else 300
        batch = 512
        proto = AEDetector.preset(preset, cost=cost, device="cpu")
        fcfg = FeatureConfig(**proto.feature_config)
        with tempfile.TemporaryDirectory() as tmp:
            rng = np.random.default_rng(0)
            paths = [
                save_audio(Path(tmp) / f"normal_{i:03d}.wav", 0.1 * rng.standard_normal(fcfg.sr * 10), fcfg.sr)
                for i in range(n_files)
            ]
            cache = FeatureCache(Path(tmp) / "cache", fcfg, device="cpu")
            cache.build(paths, progress=False)
            X_all = torch.from_numpy(np.concatenate([cache.vectors(p) for p in paths]))
            X_all = (X_all - X_all.mean(0)) / X_all.std(0).clamp_min(1e-8)
            anomalous = batch // 8
            h = median_heuristic(X_all[:2048]) if cost == "bu" else float("nan")

            def ours() -> float:
                sampler = FrameSampler(cache, paths, batch_size=batch, random_state=0)
                if cost == "re":
                    src = sampler
                else:  # something-else frames stand-in: another draw of the same cache
                    src = ((X, sampler.sample(anomalous)) for X in sampler)
                det = AEDetector.preset(preset, cost=cost, n_updates=n_updates, device="cpu")
                t0 = time.perf_counter()
                det.fit_sampler(src, n_stat_batches=1)
                return det.frames_seen_ / (time.perf_counter() - t0)

            def ref() -> float:  # timed from the model's construction, as adskit's fit is
                t0 = time.perf_counter()
                model = AEDetector.preset(preset, cost=cost, device="cpu")
                model._build_model(X_all.shape[1], torch.device("cpu"))
                net = model.model_
                opt = torch.optim.Adam(net.parameters(), lr=1e-3, amsgrad=model.optimizer == "amsgrad")
                g = torch.Generator().manual_seed(0)
                frames = 0
                net.train()
                for _ in range(n_updates):
                    xb = X_all[torch.randint(0, X_all.shape[0], (batch,), generator=g)]
                    if cost == "re":
                        loss = anomaly_score(xb, net(xb)).mean()
                        frames += batch
                    else:
                        xa = X_all[torch.randint(0, X_all.shape[0], (anomalous,), generator=g)]
                        a = anomaly_score(torch.cat([xb, xa]), net(torch.cat([xb, xa])))
                        if cost == "bu":
                            w = bu_weights(xb, h, warn=False)
                            loss = (w * a[:batch]).sum() - a[batch:].clamp(max=10.0).mean()
                        else:
                            loss = a[:batch].mean() - a[batch:].clamp(max=10.0).mean()
                        frames += batch + anomalous
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                return frames / (time.perf_counter() - t0)

            ours(), ref()  # warm-up
            a, b = [], []
            for _ in range(3 if quick else 5):  # interleaved repeats, median
                a.append(ours())
                b.append(ref())
        fa, fb = float(np.median(a)), float(np.median(b))
        ratio = fa / fb
        return Result(
            name=label,
            adskit=fa,
            reference=fb,
            unit="fr/s",
            ratio=ratio,
            ratio_label="adskit/ref (throughput)",
            target=">= 0.9x",
            meets=ratio >= 0.9,
            notes=(
                f"{n_updates} updates of {batch} frames from {n_files} clips of 10 s, torch threads "
                f"{torch.get_num_threads()}; reference: in-memory tensor, same model (its construction timed too), "
                "bare loop"
                + ("" if cost == "re" else f"; {cost.upper()} reference uses a fixed clip, adskit its running C rule")
            ),
            extra={"preset": preset, "cost": cost, "n_updates": n_updates, "batch": batch, "n_files": n_files},
        )

    return Case(name=label, run=run)


def cases(quick: bool) -> list[Case]:
    """The DCASE 2020 baseline AE (the preset that trains from the cache) with RE, and the paper's FCN64-small
    with SNP and with BU (normal + anomalous frames per update, as in the paper's sound experiment); and RE from an
    analyst's folder of many clips (a DCASE 2020 machine type has about 1,000 training clips; with the quick run 200),
    which the sampler used to read file by file (each batch touches hundreds of them)."""
    return [
        _case("dcase2020", "re", quick),
        _case("fcn64-small", "snp", quick),
        _case("fcn64-small", "bu", quick),
        _case("dcase2020", "re", quick, n_files=200 if quick else 1000),
    ]
