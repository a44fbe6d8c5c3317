"""The thread policy of adskit._threads: its logic and that it is undone after each call (no timing here; the speed
under load is measured by benchmarks/bench_threads.py)."""

import numpy as np
import pytest
import torch

from adskit import _threads
from adskit._threads import choose_threads, cpu_threads, idle_cores, runnable_elsewhere


@pytest.fixture
def two_threads():
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def fresh_reading(monkeypatch):
    """Every call reads /proc (or the fake files) again."""
    monkeypatch.setattr(_threads, "_TTL", 0.0)
    monkeypatch.setattr(_threads, "_last", [-float("inf"), None])


@pytest.mark.parametrize(
    ("current", "idle", "small", "expected"),
    [
        (2, 2, False, 2),  # quiet machine: the caller's setting
        (2, 1, False, 1),  # one core busy elsewhere: one thread
        (2, 0, False, 1),  # every core busy: still one
        (4, 8, False, 4),  # never above the caller's setting
        (1, 8, False, 1),
        (8, 8, True, 1),  # small work: one thread whatever the machine does
    ],
)
def test_choose_threads(current, idle, small, expected):
    assert choose_threads(current, idle, small=small) == expected


@pytest.mark.parametrize(("current", "idle", "name"), [(0, 1, "current"), (2, -1, "idle")])
def test_choose_threads_rejects_bad_counts(current, idle, name):
    with pytest.raises(ValueError, match=name):
        choose_threads(current, idle)


def test_idle_cores_from_given_counts():
    assert idle_cores(cores=2, elsewhere=0) == 2
    assert idle_cores(cores=2, elsewhere=1) == 1
    assert idle_cores(cores=2, elsewhere=5) == 0
    assert idle_cores(cores=4, elsewhere=None) == 4  # unknown: every core counts as idle


def _fake_proc(tmp_path, running_total: int, own_states: list[str]):
    (tmp_path / "loadavg").write_text(f"0.50 0.40 0.30 {running_total}/123 4567\n")
    tasks = tmp_path / "task"
    tasks.mkdir()
    for i, state in enumerate(own_states):
        (tasks / str(100 + i)).mkdir()
        # the command name may hold spaces and parentheses: the state is the field after the last ')'
        (tasks / str(100 + i) / "stat").write_text(f"{100 + i} (py (thread) {i}) {state} 1 2 3 4\n")
    return str(tmp_path / "loadavg"), str(tasks)


@pytest.mark.parametrize(
    ("total", "own", "expected"),
    [
        (3, ["R", "S", "S"], 2),  # two other runnable tasks
        (3, ["R", "R", "S"], 1),  # our own second thread is not someone else's
        (1, ["R"], 0),  # only us
        (1, ["S", "S"], 0),  # the reader counts as one even if its state was read as sleeping
    ],
)
def test_runnable_elsewhere_subtracts_own_threads(tmp_path, monkeypatch, fresh_reading, total, own, expected):
    loadavg, tasks = _fake_proc(tmp_path, total, own)
    monkeypatch.setattr(_threads, "_LOADAVG", loadavg)
    monkeypatch.setattr(_threads, "_SELF_TASKS", tasks)
    assert runnable_elsewhere() == expected


@pytest.mark.parametrize(
    ("totals", "expected", "n_read"),
    [
        ([1], 0, 1),  # nothing elsewhere: one reading, no wait
        ([2, 1, 1, 1, 1], 0, 5),  # a task for a moment: the confirming readings clear it
        ([3, 3, 1, 1, 1], 0, 5),
        ([2, 2, 2, 1, 1], 1, 5),  # busy at most readings: busy
        ([2, 2, 2, 2, 2], 1, 5),  # a process that keeps a core busy
        ([5, 3, 2, 4, 3], 2, 5),  # the median
    ],
)
def test_a_busy_reading_is_confirmed(tmp_path, monkeypatch, fresh_reading, totals, expected, n_read):
    """One reading can catch a task runnable for a moment (5 of 12 fits on an idle machine did): a reading that
    sees others is the median of _CONFIRM readings _GAP apart."""
    loadavg, tasks = _fake_proc(tmp_path, totals[0], ["R"])
    monkeypatch.setattr(_threads, "_LOADAVG", loadavg)
    monkeypatch.setattr(_threads, "_SELF_TASKS", tasks)
    later = iter(totals[1:])
    slept = []

    def sleep(seconds):  # time passes: the next reading sees the next total
        slept.append(seconds)
        (tmp_path / "loadavg").write_text(f"0 0 0 {next(later)}/99 1\n")

    monkeypatch.setattr(_threads.time, "sleep", sleep)
    assert runnable_elsewhere() == expected
    assert len(slept) == n_read - 1 and all(s == _threads._GAP for s in slept)


@pytest.mark.parametrize(
    ("later", "expected"),
    [
        (["gone", "gone", "gone", "gone"], 0),  # the first reading is never confirmed: not busy
        (["3/9", "gone", "junk", "gone"], 2),  # failed readings are left out: median of (2, 2)
        (["1/9", "gone", "3/9", "1/9"], 0),  # lower median of (2, 0, 2, 0)
    ],
)
def test_a_failed_confirming_reading_confirms_nothing(tmp_path, monkeypatch, fresh_reading, later, expected):
    """A confirming reading that fails (the file gone or garbled) is left out, not replaced by the busy first one."""
    loadavg, tasks = _fake_proc(tmp_path, 3, ["R"])
    monkeypatch.setattr(_threads, "_LOADAVG", loadavg)
    monkeypatch.setattr(_threads, "_SELF_TASKS", tasks)
    steps = iter(later)

    def sleep(seconds):
        state, f = next(steps), tmp_path / "loadavg"
        if state == "gone":
            f.unlink(missing_ok=True)
        else:
            f.write_text("garbage\n" if state == "junk" else f"0 0 0 {state} 1\n")

    monkeypatch.setattr(_threads.time, "sleep", sleep)
    assert runnable_elsewhere() == expected


def test_runnable_elsewhere_unknown_without_proc(tmp_path, monkeypatch, fresh_reading):
    monkeypatch.setattr(_threads, "_LOADAVG", str(tmp_path / "missing"))
    assert runnable_elsewhere() is None
    assert idle_cores(cores=3) == 3


def test_runnable_elsewhere_reuses_a_recent_reading(tmp_path, monkeypatch, fresh_reading):
    loadavg, tasks = _fake_proc(tmp_path, 4, ["R"])
    monkeypatch.setattr(_threads, "_LOADAVG", loadavg)
    monkeypatch.setattr(_threads, "_SELF_TASKS", tasks)
    assert runnable_elsewhere() == 3
    monkeypatch.setattr(_threads, "_TTL", 3600.0)
    (tmp_path / "loadavg").write_text("0 0 0 1/1 1\n")
    assert runnable_elsewhere() == 3  # within the TTL: the kept value
    monkeypatch.setattr(_threads, "_TTL", 0.0)
    assert runnable_elsewhere() == 0


@pytest.mark.parametrize(("idle", "inside"), [(1, 1), (2, 2), (0, 1)])
def test_cpu_threads_sets_and_restores(monkeypatch, two_threads, idle, inside):
    monkeypatch.setattr(_threads, "idle_cores", lambda: idle)
    with cpu_threads("cpu") as n:
        assert n == inside == torch.get_num_threads()
    assert torch.get_num_threads() == 2


def test_cpu_threads_restores_after_an_error(monkeypatch, two_threads):
    monkeypatch.setattr(_threads, "idle_cores", lambda: 1)
    with pytest.raises(RuntimeError, match="boom"), cpu_threads("cpu"):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2


def test_cpu_threads_leaves_gpu_work_alone(monkeypatch, two_threads):
    monkeypatch.setattr(_threads, "idle_cores", lambda: pytest.fail("a GPU call must not read the CPU load"))
    with cpu_threads(torch.device("cuda")) as n:  # only the device type is looked at: no GPU is needed
        assert n == torch.get_num_threads() == 2
    with cpu_threads("cpu", small=True) as n:  # small work needs no reading either
        assert n == torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_log_mel_runs_on_one_cpu_thread_and_restores(monkeypatch, two_threads):
    from adskit.audio.features import FeatureConfig, LogMel

    seen = []
    module = LogMel(FeatureConfig.preset("paper"), device="cpu")
    inner = module._mel_flat

    def spy(flat):
        seen.append(torch.get_num_threads())
        return inner(flat)

    monkeypatch.setattr(module, "_mel_flat", spy)
    y = np.random.default_rng(0).standard_normal((8, 16000 * 10)).astype(np.float32)
    module(y)
    assert len(seen) == 2 and set(seen) == {1}  # two chunks of <= 2**20 samples, each on one thread
    assert torch.get_num_threads() == 2  # and the caller's setting is back


@pytest.mark.parametrize("kind", ["ae", "np", "gmm"])
def test_training_runs_on_the_policy_and_restores(monkeypatch, two_threads, kind):
    """AE training, the NP detector's fit and the GMM fit run on the policy's count (one idle core: one thread)."""
    from adskit.detectors import ae, neyman_pearson
    from adskit.gmm import GaussianMixture

    monkeypatch.setattr(_threads, "idle_cores", lambda: 1)
    seen = []

    def spying(inner):
        def spy(*args, **kwargs):
            seen.append(torch.get_num_threads())
            return inner(*args, **kwargs)

        return spy

    X = np.random.default_rng(0).standard_normal((64, 6)).astype(np.float32)
    if kind == "ae":
        monkeypatch.setattr(ae, "train_loop", spying(ae.train_loop))
        det = ae.AEDetector(hidden=(8,), latent_dim=2, n_updates=3, batch_size=16, device="cpu")
    elif kind == "np":
        cls = neyman_pearson.NPDetector
        monkeypatch.setattr(cls, "_final_normal_model", spying(cls._final_normal_model))
        det = cls(extractor="vae", hidden=(8,), latent_dim=2, n_components=2, n_steps=3, batch_size=16, device="cpu")
    else:
        monkeypatch.setattr(GaussianMixture, "_em", spying(GaussianMixture._em))
        det = GaussianMixture(2, device="cpu")
    det.fit(X)
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == 2
