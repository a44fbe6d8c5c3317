"""adskit.audio.features: the librosa oracle for the log-mel, batches of waveforms, context stacking, presets and
frame times."""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import pytest
import torch

from adskit.audio.features import (
    FeatureConfig,
    LogMel,
    frame_times,
    log_mel,
    log_mel_batch,
    n_frames,
    stack_context,
)

PRESETS = ("dcase2020", "paper", "np2017")


@pytest.fixture(scope="module")
def signals():
    """A random and a tonal 16 kHz signal (2.3 s), plus a warm librosa (numba compiles once per process)."""
    rng = np.random.default_rng(0)
    n = 36800
    t = np.arange(n) / 16000
    noise = (0.1 * rng.standard_normal(n)).astype(np.float32)
    tonal = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3150 * t) + 1e-3 * rng.standard_normal(n)
    librosa.feature.melspectrogram(y=noise[:4096], sr=16000)
    return {"random": noise, "tonal": tonal.astype(np.float32)}


def _librosa_mel(y, cfg):
    return librosa.feature.melspectrogram(
        y=y,
        sr=cfg.sr,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=cfg.window,
        center=cfg.center,
        pad_mode=cfg.pad_mode,
        power=cfg.power,
        n_mels=cfg.n_mels,
        fmin=cfg.fmin,
        fmax=cfg.fmax,
    )


def _variants():
    out = [(p, {}) for p in PRESETS]
    out += [("paper", {"n_mels": 40}), ("paper", {"pad_mode": "constant"}), ("dcase2020", {"center": False})]
    out += [("dcase2020", {"win_length": 800, "fmin": 50.0, "fmax": 7000.0}), ("paper", {"power": 1.5})]
    return out


@pytest.mark.parametrize(("preset", "changes"), _variants())
@pytest.mark.parametrize("kind", ["random", "tonal"])
def test_logmel_matches_librosa(signals, preset, changes, kind):
    cfg = dataclasses.replace(FeatureConfig.preset(preset), **changes)
    y = signals[kind]
    ref = _librosa_mel(y, cfg)
    m = LogMel(cfg, device="cpu")
    with torch.inference_mode():
        mel = m.mel_power(y).numpy()
        logmel = m(y).numpy()
    assert mel.shape == ref.shape == (cfg.n_mels, n_frames(y.size, cfg))
    # before the log: 1e-4 relative error, element by element (atol only for bins ~1e-6 below the peak)
    np.testing.assert_allclose(mel, ref, rtol=1e-4, atol=1e-6 * ref.max())
    # after the log: an atol, since bins 100+ dB below the peak carry float32 leakage of ~1e-4 relative
    ref_log = np.maximum(ref, cfg.log_floor)
    ref_log = 10 * np.log10(ref_log) if cfg.log == "10log10" else np.log(ref_log)
    np.testing.assert_allclose(logmel, ref_log.T, atol=1e-2 if cfg.log == "10log10" else 2e-3)


def test_logmel_batched_equals_rowwise_and_keeps_leading_dims(signals):
    cfg = FeatureConfig.preset("paper")
    m = LogMel(cfg, device="cpu")
    batch = np.stack([signals["random"], signals["tonal"]])
    with torch.inference_mode():
        out = m(torch.as_tensor(batch))
        rows = [m(b) for b in batch]
        nested = m(batch.reshape(1, 2, -1))
    T = n_frames(batch.shape[1], cfg)
    assert out.shape == (2, T, 64) and out.dtype == torch.float32 and nested.shape == (1, 2, T, 64)
    for i in range(2):
        torch.testing.assert_close(out[i], rows[i], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_mel(batch[0], cfg, device="cpu"), rows[0].numpy(), atol=1e-5)


def test_log_mel_batch_groups_by_length_and_keeps_order():
    cfg = FeatureConfig.preset("paper")
    rng = np.random.default_rng(3)
    lengths = (16000, 8000, 16000, 12000, 8000, 16000)
    waves = [rng.standard_normal(n) for n in lengths]  # float64 in, cast to float32
    specs = log_mel_batch(waves, cfg=cfg, device="cpu")
    assert [S.shape for S in specs] == [(n_frames(n, cfg), cfg.n_mels) for n in lengths]
    for y, S in zip(waves, specs, strict=True):
        assert S.dtype == np.float32
        np.testing.assert_allclose(S, log_mel(y.astype(np.float32), cfg, device="cpu"), rtol=1e-6, atol=1e-5)
    # how many waveforms share an extractor call does not matter (bit-identical on one thread)
    for chunked, S in zip(log_mel_batch(waves, cfg=cfg, device="cpu", batch_size=1), specs, strict=True):
        np.testing.assert_allclose(chunked, S, rtol=1e-6, atol=1e-5)
    assert log_mel_batch([], cfg=cfg) == []


def test_log_mel_batch_errors():
    cfg = FeatureConfig.preset("paper")
    with pytest.raises(ValueError, match=r"waves\[1\]: expected a 1-D waveform"):
        log_mel_batch([np.zeros(4000), np.zeros((2, 4000))], cfg=cfg, device="cpu")
    with pytest.raises(ValueError, match="batch_size"):
        log_mel_batch([np.zeros(4000)], cfg=cfg, device="cpu", batch_size=0)
    with pytest.raises(ValueError, match="reflect padding"):
        log_mel_batch([np.zeros(100)], cfg=cfg, device="cpu")


def test_mel_basis_is_librosas():
    cfg = FeatureConfig.preset("dcase2020")
    fb = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=128)
    np.testing.assert_array_equal(LogMel(cfg, device="cpu").mel_basis.numpy(), fb)


def test_logmel_rejects_bad_input():
    m = LogMel(FeatureConfig.preset("paper"), device="cpu")
    with pytest.raises(ValueError, match="y:"):
        m(np.zeros(0, dtype=np.float32))
    with pytest.raises(ValueError, match="reflect"):
        m(np.zeros(100, dtype=np.float32))


def test_presets_and_their_numbers():
    d = FeatureConfig.preset("dcase2020")
    assert (d.sr, d.n_fft, d.hop_length, d.n_mels, d.power, d.log, d.frames, d.dim) == (
        16000, 1024, 512, 128, 2.0, "10log10", 5, 640
    )  # fmt: skip
    p = FeatureConfig.preset("paper")
    assert (p.n_fft, p.hop_length, p.n_mels, p.power, p.log, p.log_floor, p.frames, p.dim) == (
        512, 256, 64, 1.0, "ln", 1e-8, 11, 704
    )  # fmt: skip
    assert dataclasses.replace(p, n_mels=40).dim == 440
    n = FeatureConfig.preset("np2017")
    assert (n.n_mels, n.frames, n.dim, n.n_fft, n.hop_length) == (64, 21, 1344, 512, 256)
    with pytest.raises(ValueError, match="name"):
        FeatureConfig.preset("dcase2099")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.n_mels = 40


def test_key_is_stable_and_sensitive():
    p = FeatureConfig.preset("paper")
    assert p.key() == FeatureConfig.preset("paper").key() and len(p.key()) == 12
    keys = {FeatureConfig.preset(name).key() for name in PRESETS}
    keys.add(dataclasses.replace(p, log_floor=1e-7).key())
    keys.add(dataclasses.replace(p, pad_mode="constant").key())
    assert len(keys) == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [("n_fft", 0), ("win_length", 4096), ("pad_mode", "edge"), ("log", "log2"), ("power", -1.0), ("frames", 0),
     ("fmax", 9000.0), ("log_floor", 0.0)],
)  # fmt: skip
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(FeatureConfig.preset("paper"), **{field: value})


def _naive_stack(S, frames):
    T = S.shape[0]
    return np.stack([np.concatenate([S[i + k] for k in range(frames)]) for i in range(T - frames + 1)])


@pytest.mark.parametrize(("T", "F", "frames"), [(20, 3, 5), (11, 64, 11), (7, 2, 1), (5, 4, 5)])
def test_stack_context_matches_naive_loop(T, F, frames):
    S = np.random.default_rng(T).standard_normal((T, F)).astype(np.float32)
    want = _naive_stack(S, frames)
    got = stack_context(S, frames)
    assert got.shape == (T - frames + 1, frames * F) and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)
    got_t = stack_context(torch.as_tensor(S), frames)
    assert isinstance(got_t, torch.Tensor)
    np.testing.assert_array_equal(got_t.numpy(), want)
    # frame-major layout: element k * F + f is mel bin f of frame i + k
    assert got[0, (frames - 1) * F] == S[frames - 1, 0]


@pytest.mark.parametrize(("T", "frames"), [(4, 5), (10, 0), (10, -1)])
def test_stack_context_errors_name_frames(T, frames):
    with pytest.raises(ValueError, match="frames"):
        stack_context(np.zeros((T, 3)), frames)
    with pytest.raises(ValueError, match="frames"):
        stack_context(torch.zeros(T, 3), frames)


def test_frame_times_line_up_with_stft_frames():
    cfg = FeatureConfig.preset("paper")
    n = 16000
    n_vec = n_frames(n, cfg) - cfg.frames + 1
    t = frame_times(n_vec, cfg)
    assert t.shape == (n_vec,)
    assert t[0] == pytest.approx(5 * 256 / 16000) and np.allclose(np.diff(t), 256 / 16000)
    assert t[-1] <= n / 16000
    no_center = dataclasses.replace(cfg, center=False)
    assert frame_times(1, no_center)[0] == pytest.approx((5 * 256 + 256) / 16000)
    assert n_frames(n, no_center) == 1 + (n - 512) // 256


def test_stack_context_returns_a_writable_copy_when_frames_equals_T() -> None:
    S = np.arange(8.0).reshape(4, 2)
    for frames in (1, 3, 4):
        X = stack_context(S, frames)
        assert X.flags.writeable and X.flags.c_contiguous and not np.shares_memory(X, S)
