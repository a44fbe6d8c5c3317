"""adskit.audio.io: reading, resampling, channel handling, atomic writes and the errors on bad files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from adskit.audio.io import AudioFileError, audio_info, list_audio_files, load_audio, save_audio


def _tone(freq: float, sr: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)


def test_save_load_roundtrip(tmp_path):
    y = _tone(440.0, 16000)
    path = save_audio(tmp_path / "sub" / "tone.wav", y, 16000)
    out, sr = load_audio(path)
    assert sr == 16000 and out.dtype == np.float32 and out.shape == y.shape
    np.testing.assert_allclose(out, y, atol=1.0 / 32768 + 1e-7)
    info = audio_info(path)
    assert info["subtype"] == "PCM_16" and info["channels"] == 1 and info["frames"] == 16000
    assert info["duration"] == pytest.approx(1.0)
    assert [p.name for p in path.parent.iterdir()] == ["tone.wav"]  # no temporary file left behind


def test_save_audio_refuses_clipping_unless_asked(tmp_path):
    with pytest.raises(ValueError, match="peak"):
        save_audio(tmp_path / "loud.wav", np.array([0.0, 1.5, -0.2]), 16000)
    save_audio(tmp_path / "loud.wav", np.array([0.0, 1.5, -0.2]), 16000, clip=True)
    y, _ = load_audio(tmp_path / "loud.wav")
    assert y.max() == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="NaN"):
        save_audio(tmp_path / "nan.wav", np.array([0.0, np.nan]), 16000)


def test_resample_48k_to_16k_keeps_length_and_frequency(tmp_path):
    sf.write(tmp_path / "hi.wav", _tone(1000.0, 48000, 2.0), 48000, subtype="PCM_16")
    y, sr = load_audio(tmp_path / "hi.wav", sr=16000)
    assert sr == 16000 and y.shape == (32000,) and y.dtype == np.float32
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    assert np.fft.rfftfreq(y.size, 1 / sr)[np.argmax(spec)] == pytest.approx(1000.0, abs=1.0)
    assert np.sqrt(np.mean(y[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    native, native_sr = load_audio(tmp_path / "hi.wav")
    assert native_sr == 48000 and native.size == 96000


def test_stereo_mixdown_and_channel_selection(tmp_path):
    a, b = _tone(300.0, 16000, amp=0.4), _tone(700.0, 16000, amp=0.2)
    sf.write(tmp_path / "st.wav", np.stack([a, b], axis=1), 16000, subtype="FLOAT")
    mix, _ = load_audio(tmp_path / "st.wav")
    np.testing.assert_allclose(mix, (a + b) / 2, atol=1e-6)
    np.testing.assert_allclose(load_audio(tmp_path / "st.wav", channel=1)[0], b, atol=1e-6)
    np.testing.assert_allclose(load_audio(tmp_path / "st.wav", channel=-2)[0], a, atol=1e-6)
    assert load_audio(tmp_path / "st.wav", dtype=np.float64)[0].dtype == np.float64
    with pytest.raises(ValueError, match="channel"):
        load_audio(tmp_path / "st.wav", channel="left")


def _empty(path):
    sf.write(path, np.zeros((0,)), 16000, subtype="PCM_16")


def _truncated_header(path):
    sf.write(path, _tone(440.0, 16000), 16000, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:20])


def _text(path):
    path.write_text("this is not audio\n" * 20)


@pytest.mark.parametrize(
    ("name", "make", "kwargs", "match"),
    [
        ("missing.wav", None, {}, "not found"),
        ("empty.wav", _empty, {}, "0 frames"),
        ("truncated.wav", _truncated_header, {}, "truncated"),
        ("text.wav", _text, {}, "not a readable audio file"),
        (
            "short.wav",
            lambda p: save_audio(p, _tone(440.0, 16000, 0.5), 16000),
            {"min_duration": 1.0},
            "too short",
        ),
        ("mono.wav", lambda p: save_audio(p, _tone(440.0, 16000), 16000), {"channel": 1}, "channel index 1"),
    ],
)
def test_bad_files_raise_audio_file_error_naming_the_file(tmp_path, name, make, kwargs, match):
    path = tmp_path / name
    if make is not None:
        make(path)
    with pytest.raises(AudioFileError, match=match) as err:
        load_audio(path, **kwargs)
    assert name in str(err.value) and err.value.path == path
    assert isinstance(err.value, ValueError)


def test_audio_info_of_bad_file_names_it(tmp_path):
    _text(tmp_path / "fake.wav")
    with pytest.raises(AudioFileError, match="fake.wav"):
        audio_info(tmp_path / "fake.wav")


def test_list_audio_files_recursive_sorted_and_filtered(tmp_path):
    for rel in ["b/2.wav", "a/1.FLAC", "a/z.ogg", "c.wav", "notes.txt", "a/.hidden.wav"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    got = [p.relative_to(tmp_path).as_posix() for p in list_audio_files(tmp_path)]
    assert got == ["a/1.FLAC", "a/z.ogg", "b/2.wav", "c.wav"]
    assert [p.name for p in list_audio_files(tmp_path, exts=(".wav",))] == ["2.wav", "c.wav"]
    with pytest.raises(FileNotFoundError):
        list_audio_files(tmp_path / "nope")
