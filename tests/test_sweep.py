"""The experiment shell: intervals and verdicts, atomic run folders, resume, failures, and a real Dask cluster."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest
from scipy import stats

from adskit.experiments import verification
from adskit.experiments.report import collect_results, mean_interval, summarize, superseded, verdict
from adskit.experiments.runs import execute_run, load_run, run_folder
from adskit.experiments.sweep import run_sweep
from adskit.experiments.verification import VerificationConfig, plan_verification


def tiny(n_updates: int = 20, **kw) -> VerificationConfig:
    """A 2-D verification config that trains in well under a second (coarse grid, small batches)."""
    base = dict(n_updates=n_updates, n_normal=400, n_anomalous=400, batch_normal=50, batch_anomalous=50)
    return VerificationConfig(**{**base, "grid_step": 0.1, "widths": (8, 2, 8), "device": "cpu", **kw})


# ------------------------------------------------------------------------------------------ statistics


def test_mean_interval_is_the_t_interval():
    m, lo, hi = mean_interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)  # sample sd 1, n = 3
    assert m == 2.0 and lo == pytest.approx(2 - half) and hi == pytest.approx(2 + half)
    assert half == pytest.approx(2.4841, abs=1e-4)  # t_{0.975, 2} = 4.3027
    assert mean_interval([0.7]) == (0.7, None, None)
    assert mean_interval([0.5, 0.5]) == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="values"):
        mean_interval([])


@pytest.mark.parametrize(
    "lo, hi, direction, expected",
    [
        (0.01, 0.2, 1, "reproduced"),
        (-0.2, -0.01, 1, "reversed"),
        (-0.1, 0.1, 1, "no difference detected"),
        (-0.2, -0.01, -1, "reproduced"),
        (0.01, 0.2, -1, "reversed"),
        (None, None, 1, "no difference detected"),
    ],
)
def test_verdict(lo, hi, direction, expected):
    assert verdict(lo, hi, direction) == expected


def _result(cost, seed, value, metric="kl_uniform"):
    rec = dict(experiment="verify", machine="2d", model="m", cost=cost, condition="grid", metric=metric)
    return {"records": [{**rec, "value": value, "seed": seed}]}


def test_comparisons_are_paired_over_the_seeds_both_ran():
    # BU is lower than SNP by exactly 0.1 on every seed, although both vary a lot across seeds: paired, it shows
    res = [_result("BU", s, v - 0.1) for s, v in enumerate([0.3, 0.9, 0.5])]
    res += [_result("SNP", s, v) for s, v in enumerate([0.3, 0.9, 0.5, 0.7])]  # seed 3: SNP only
    out = summarize(res)
    (c,) = [c for c in out["comparisons"] if (c["a"], c["b"]) == ("BU", "SNP")]
    assert c["n_seeds"] == 3 and c["mean_diff"] == pytest.approx(-0.1)
    assert c["ci_low"] == pytest.approx(-0.1) and c["verdict"] == "reproduced"  # paper: KL_U(BU) < KL_U(SNP)
    cells = {c["cost"]: c for c in out["cells"]}
    assert cells["SNP"]["n_seeds"] == 4 and cells["BU"]["values"] == pytest.approx([0.2, 0.8, 0.4])
    # unpaired, the same numbers would not separate: the cells' intervals overlap
    assert cells["BU"]["ci_high"] > cells["SNP"]["ci_low"]


def test_intervals_of_rates_stay_in_their_range():
    """Two seeds of a false-alarm rate (0.02 and 0.78): a t interval with 1 degree of freedom runs far outside
    [0, 1]; a rate's is clipped to it, a KL's is not, and a difference of rates is clipped to [-1, 1]."""
    res = [
        _result(c, s, v, "fire_steady")
        for c, vals in (("BU", (0.78, 0.02)), ("RE", (0.02, 0.01)))
        for s, v in enumerate(vals)
    ]
    res += [_result("BU", s, v) for s, v in enumerate((0.78, 0.02))]  # kl_uniform: unbounded
    out = summarize(res)
    cells = {(c["cost"], c["metric"]): c for c in out["cells"]}
    fire, kl = cells["BU", "fire_steady"], cells["BU", "kl_uniform"]
    assert (fire["ci_low"], fire["ci_high"]) == (0.0, 1.0) and fire["mean"] == pytest.approx(0.4)
    assert kl["ci_low"] < -4 and kl["ci_high"] > 5  # the raw t interval, as before
    lo, hi = stats.t.interval(0.95, 1, loc=0.4, scale=stats.sem([0.78, 0.02]))
    assert kl["ci_low"] == pytest.approx(lo) and kl["ci_high"] == pytest.approx(hi)
    for c in out["comparisons"]:
        assert -1.0 <= c["ci_low"] <= c["ci_high"] <= 1.0 or c["metric"] == "kl_uniform"


def test_a_report_keeps_one_run_per_cell(tmp_path):
    """Runs of one cell made with other settings or data (a data folder whose files changed) are not averaged
    as seeds of one cell, nor one picked by folder name: the run just made wins, else the one finished last."""

    def write(key, seed, value, finished):
        folder = tmp_path / "runs" / "verify" / key
        folder.mkdir(parents=True)
        labels = {"machine": "2d", "model": "m", "cost": "RE", "seed": seed}
        res = {"experiment": "verify", "key": key, "labels": labels, "finished": finished}
        res["records"] = _result("RE", seed, value)["records"]
        (folder / "run.json").write_text(json.dumps(res))
        return res

    newer = write("a-newer", 0, 0.2, "2024-05-02T10:00:00")  # folder names sort the other way round
    older = write("b-older", 0, 0.1, "2024-05-01T10:00:00")
    write("c-seed1", 1, 0.4, "2024-05-01T10:00:00")
    assert sorted(r["key"] for r in collect_results([tmp_path])) == ["a-newer", "c-seed1"]
    assert [r["key"] for r in superseded([tmp_path])] == ["b-older"]
    (cell,) = summarize(collect_results([tmp_path]))["cells"]
    assert cell["values"] == [0.2, 0.4]
    assert sorted(r["key"] for r in collect_results([tmp_path], current=[older])) == ["b-older", "c-seed1"]
    assert [r["key"] for r in superseded([tmp_path], current=[older])] == [newer["key"]]


def test_runs_of_other_conditions_with_the_same_labels_are_all_kept(tmp_path):
    """`adskit rare` runs differ by rarity, which is in the records' condition, not in the labels: none of them
    supersedes another (the report once kept only the last rarity)."""
    for key, cond in (("r-05", "rarity 0.5 %"), ("r-2", "rarity 2 %")):
        folder = tmp_path / "runs" / "rare" / key
        folder.mkdir(parents=True)
        labels = {"machine": "fan", "model": "m", "cost": "RE", "seed": 0}
        rec = {**labels, "experiment": "rare", "condition": cond, "metric": "fa_rare_frames", "value": 0.3}
        res = {"experiment": "rare", "key": key, "labels": labels, "finished": key, "records": [rec]}
        (folder / "run.json").write_text(json.dumps(res))
    assert sorted(r["key"] for r in collect_results([tmp_path])) == ["r-05", "r-2"]
    assert superseded([tmp_path]) == []


# ------------------------------------------------------------------------------------------ run folders


def test_run_folder_is_complete_or_absent_and_resumes(tmp_path):
    runs = plan_verification(tiny(), [0, 1])
    assert len(runs) == 6 and len({r.key for r in runs}) == 6
    out = run_sweep(runs, tmp_path, n_workers=0, progress=False)
    assert out.n_executed == 6 and not out.failed
    stamps = {r.key: (run_folder(tmp_path, r) / "run.json").stat().st_mtime_ns for r in runs}
    # a run killed midway leaves only its hidden partial folder; the next sweep redoes it and nothing else
    victim = runs[4]
    final = run_folder(tmp_path, victim)
    final.rename(final.parent / f".{final.name}.partial")
    (final.parent / f".{final.name}.partial" / "run.json").unlink()
    assert load_run(final) is None
    again = run_sweep(runs, tmp_path, n_workers=0, progress=False)
    assert (again.n_skipped, again.n_executed) == (5, 1)
    for r in runs:
        if r.key != victim.key:
            assert (run_folder(tmp_path, r) / "run.json").stat().st_mtime_ns == stamps[r.key]
    assert not list(tmp_path.rglob("*.partial"))
    # other settings never reuse a folder
    other = plan_verification(tiny(h=0.3), [0])
    assert not {r.key for r in other} & set(stamps)


def test_same_seed_same_numbers_and_same_start_for_every_cost(tmp_path):
    a = execute_run(plan_verification(tiny(), [3])[0], tmp_path / "a")
    b = execute_run(plan_verification(tiny(), [3])[0], tmp_path / "b")
    assert a["kld"] == b["kld"]


def test_a_failed_run_is_named_and_the_others_go_on(tmp_path, monkeypatch):
    real = verification.run_verification

    def flaky(cfg, progress=True):
        if cfg.seed == 1 and cfg.costs == ("SNP",):
            raise FloatingPointError("diverged (planted)")
        return real(cfg, progress=progress)

    monkeypatch.setattr(verification, "run_verification", flaky)
    runs = plan_verification(tiny(), [0, 1])
    out = run_sweep(runs, tmp_path, n_workers=0, progress=False)
    assert len(out.failed) == 1 and "SNP-seed1" in out.failed[0]["run"]
    assert "FloatingPointError: diverged (planted)" in out.failed[0]["error"]
    assert len(out.results) == 5
    assert "diverged (planted)" in open(out.failed[0]["traceback"]).read()


# ------------------------------------------------------------------------------------------ a real cluster


def test_local_cluster_survives_a_killed_worker(tmp_path):
    """Two worker processes; one is killed (SIGKILL) while it runs a task. Dask re-runs that task elsewhere, and
    every run arrives complete: no result lost, none half-written, no partial folder left behind."""
    from distributed import Client, LocalCluster

    runs = plan_verification(tiny(n_updates=600), [0, 1, 2])  # 9 runs of about a second each
    killed: dict = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as client:

            def assassin():
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and not killed:
                    busy = {w: ts for w, ts in client.processing().items() if ts}
                    done = list(tmp_path.glob("runs/verify/2d-*"))
                    if len(busy) == 2 and done:  # one run finished, both workers in the middle of another
                        addr = sorted(busy)[0]
                        pid = client.run(os.getpid, workers=[addr])[addr]
                        os.kill(pid, signal.SIGKILL)
                        killed.update(addr=addr, pid=pid, tasks=list(busy[addr]), n_done=len(done))
                        return
                    time.sleep(0.05)

            t = threading.Thread(target=assassin, daemon=True)
            t.start()
            out = run_sweep(runs, tmp_path, scheduler=cluster.scheduler_address, progress=False)
            t.join(timeout=5)
    assert killed, "the test never caught both workers busy"
    assert killed["tasks"], "the killed worker was running a task"
    assert not out.failed and len(out.results) == 9, (out.failed, killed)
    for r in runs:
        res = json.loads((run_folder(tmp_path, r) / "run.json").read_text())
        assert res["key"] == r.key and len(res["records"]) == 2
        assert all(np.isfinite(rec["value"]) for rec in res["records"])
    leftovers = list(tmp_path.rglob("*.partial")) + list(tmp_path.rglob("*.tmp"))
    assert not leftovers, (leftovers, killed)


def test_local_cluster_workers_keep_the_allocators_default_trim_threshold(monkeypatch):
    """Dask's default MALLOC_TRIM_THRESHOLD_=65536 makes torch training about 1.8x slower in a worker; the
    sweep's cluster unsets it (a value the user exported is inherited as usual)."""
    from distributed import Client

    from adskit.experiments.sweep import local_cluster

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with local_cluster(1) as cluster, Client(cluster) as client:
        (env,) = client.run(
            lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS"))
        ).values()
    assert env == (None, "1")
