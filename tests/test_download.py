"""Downloads against a local HTTP server on 127.0.0.1 (habit 10: tests never touch the internet).

Fixture archives (zip, tar.gz, and malicious ones) are built at test time from tiny WAV files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import json
import re
import socket
import sys
import tarfile
import threading
import wave
import zipfile
from collections import Counter
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pooch
import pytest
import soundfile as sf

from adskit.audio import download as dl

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "data_scripts"
SCRIPT_NAMES = [
    "get_dcase2020_task2",
    "get_mimii",
    "get_toyadmos",
    "get_toy_car_running",
    "get_fsdkaggle2018",
    "get_dcase2016_task2",
]


# ------------------------------------------------------------------------------------------ helpers


def wav_bytes(seconds: float, sr: int = 8000, freq: float = 440.0) -> bytes:
    """A mono 16-bit WAV made with the stdlib wave module."""
    t = np.arange(int(seconds * sr)) / sr
    pcm = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm)
    return buf.getvalue()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A ThreadingHTTPServer on 127.0.0.1 serving ``root``; counts GET requests per path.

    Paths listed in ``truncate`` are cut after half their bytes, once (a dropped connection).
    """

    def __init__(self, root: Path):
        self.root = root
        self.hits: Counter[str] = Counter()
        self.truncate: set[str] = set()
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                server.hits[path] += 1
                if path in server.truncate:
                    server.truncate.discard(path)
                    data = (server.root / path.lstrip("/")).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                super().do_GET()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    with Server(served) as srv:
        yield srv


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    root = tmp_path / "data"
    monkeypatch.setenv(dl.DATA_ENV, str(root))
    return root


WAVS = {
    "machine/train/normal_00.wav": wav_bytes(0.2),
    "machine/test/anomaly_00.wav": wav_bytes(0.3, freq=880),
}


def served_dataset(server: Server, name: str = "toyset", hashes: dict[str, str | None] | None = None):
    """Build a zip and a tar.gz of WAVS in the served folder; return a DataSet pointing at them."""
    z = make_zip(server.root / "part1.zip", WAVS)
    t = make_tar(server.root / "part2.tar.gz", WAVS)
    hashes = hashes or {}
    files = tuple(
        dl.RemoteFile(
            name=p.name,
            url=server.url + p.name + "?download=1",
            known_hash=hashes.get(p.name, "sha256:" + sha256(p)),
            hash_note="test fixture",
        )
        for p in (z, t)
    )
    return dl.DataSet(
        name=name,
        title="test set",
        homepage=server.url,
        licence="CC0",
        citation="none",
        used_for="tests",
        layout="machine/{train,test}/*.wav",
        files=files,
    )


# --------------------------------------------------------------------------------- fetch end to end


def test_data_dir_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv(dl.DATA_ENV, str(tmp_path / "env"))
    assert dl.data_dir() == tmp_path / "env"
    assert dl.data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv(dl.DATA_ENV)
    assert dl.data_dir().name == "adskit"


def test_fetch_verify_extract_end_to_end(server, data_root):
    ds = served_dataset(server)
    paths = dl.fetch(ds, progress=False)
    assert [p.name for p in paths] == ["part1.zip", "part2.tar.gz"]
    assert all(p.parent == data_root / "toyset" / "downloads" for p in paths)
    for p in paths:
        assert sha256(p) == sha256(server.root / p.name)
        out = dl.safe_extract(p, data_root / "toyset" / p.name.split(".")[0])
        assert sorted(str(q.relative_to(q.parents[2])) for q in out) == sorted(WAVS)
        audio, sr = sf.read(out[0])
        assert sr == 8000 and audio.ndim == 1 and len(audio) in (1600, 2400)
    lock = json.loads((data_root / dl.LOCK_NAME).read_text())
    assert lock["toyset/part1.zip"]["sha256"] == sha256(server.root / "part1.zip")


def test_second_fetch_does_not_download_again(server, data_root):
    ds = served_dataset(server)
    first = dl.fetch(ds, progress=False)
    second = dl.fetch(ds, progress=False)
    assert first == second
    assert server.hits["/part1.zip"] == 1 and server.hits["/part2.tar.gz"] == 1


def test_interrupted_download_resumes_per_file(server, data_root):
    ds = served_dataset(server)
    server.truncate.add("/part2.tar.gz")  # first file arrives, the second one's connection drops halfway
    with pytest.raises(dl.DownloadError):
        dl.fetch(ds, progress=False)
    folder = data_root / "toyset" / "downloads"
    assert (folder / "part1.zip").exists()
    assert not (folder / "part2.tar.gz").exists(), "a partial file must not sit under its final name"
    assert sorted(p.name for p in folder.iterdir()) == ["part1.zip"], "no temporary leftovers"

    paths = dl.fetch(ds, progress=False)
    assert sha256(paths[1]) == sha256(server.root / "part2.tar.gz")
    assert server.hits["/part1.zip"] == 1, "a verified file is not downloaded again"
    assert server.hits["/part2.tar.gz"] == 2, "the interrupted file starts again"


def test_md5_known_hash_verifies_and_records_sha256(server, data_root):
    make_zip(server.root / "part1.zip", WAVS)
    md5 = hashlib.md5((server.root / "part1.zip").read_bytes()).hexdigest()
    ds = served_dataset(server, hashes={"part1.zip": "md5:" + md5})
    (path,) = dl.fetch(ds, files=["part1.zip"], progress=False)
    entry = json.loads((data_root / dl.LOCK_NAME).read_text())["toyset/part1.zip"]
    assert entry["verified_with"] == "md5:" + md5
    assert entry["sha256"] == sha256(path)


def test_hash_mismatch_names_file_and_hashes_and_leaves_nothing(server, data_root):
    wrong = "0" * 64
    ds = served_dataset(server, hashes={"part1.zip": "sha256:" + wrong})
    with pytest.raises(dl.HashMismatchError) as err:
        dl.fetch(ds, files=["part1.zip"], progress=False)
    msg = str(err.value)
    assert "part1.zip" in msg and wrong in msg and sha256(server.root / "part1.zip") in msg
    folder = data_root / "toyset" / "downloads"
    assert not (folder / "part1.zip").exists()
    assert list(folder.iterdir()) == [], "the bad download is deleted, no temporary file left"


def test_existing_file_with_wrong_content_is_not_deleted(server, data_root):
    ds = served_dataset(server)
    target = data_root / "toyset" / "downloads" / "part1.zip"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"user's own file")
    with pytest.raises(dl.HashMismatchError, match="does not delete"):
        dl.fetch(ds, files=["part1.zip"], progress=False)
    assert target.read_bytes() == b"user's own file"
    assert server.hits["/part1.zip"] == 0


def test_offline_error_names_url_target_and_synthetic_default(tmp_path, data_root):
    url = f"http://127.0.0.1:{closed_port()}/dev_data_fan.zip"
    ds = dl.DataSet(
        name="offline",
        title="t",
        homepage=url,
        licence="-",
        citation="-",
        used_for="-",
        layout="-",
        files=(dl.RemoteFile("dev_data_fan.zip", url, "sha256:" + "1" * 64),),
    )
    with pytest.raises(dl.DownloadError) as err:
        dl.fetch(ds, progress=False)
    assert isinstance(err.value, RuntimeError)
    msg = str(err.value)
    target = data_root / "offline" / "downloads" / "dev_data_fan.zip"
    assert url in msg and str(target) in msg
    assert "by hand" in msg and "adskit reproduce --quick" in msg and "ensure_synthetic()" in msg
    assert not target.exists()


def test_http_404_is_a_download_error(server, data_root):
    ds = served_dataset(server)
    (server.root / "part1.zip").unlink()
    with pytest.raises(dl.DownloadError, match="part1.zip"):
        dl.fetch(ds, files=["part1.zip"], progress=False)


# ------------------------------------------------------------------------------ trust on first use


def test_unverified_download_is_refused_by_default(server, data_root):
    ds = served_dataset(server, hashes={"part1.zip": None})
    with pytest.raises(dl.UnverifiedDownloadError) as err:
        dl.fetch(ds, progress=False)
    msg = str(err.value)
    assert "part1.zip" in msg and "--allow-unverified" in msg and "allow_unverified=True" in msg
    assert sum(server.hits.values()) == 0, "nothing is downloaded when refusing"


def test_trust_on_first_use_records_and_later_verifies(server, data_root, capsys):
    ds = served_dataset(server, hashes={"part1.zip": None})
    (path, _) = dl.fetch(ds, allow_unverified=True, progress=False)
    digest = sha256(server.root / "part1.zip")
    assert f"sha256:{digest}" in capsys.readouterr().err
    entry = json.loads((data_root / dl.LOCK_NAME).read_text())["toyset/part1.zip"]
    assert entry["sha256"] == digest and entry["verified_with"] == "trust-on-first-use"

    # Later fetches need no flag: they verify against the recorded hash, without a new request...
    assert dl.fetch(ds, files=["part1.zip"], progress=False) == [path]
    assert server.hits["/part1.zip"] == 1
    # ...and a changed upstream file is caught.
    path.unlink()
    make_zip(server.root / "part1.zip", {"other.wav": wav_bytes(0.1)})
    with pytest.raises(dl.HashMismatchError, match=digest):
        dl.fetch(ds, files=["part1.zip"], progress=False)
    assert not path.exists()


# ------------------------------------------------------------------------------------ safe extract


def _zip_symlink(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16) | 0x20
        zf.writestr(info, "/etc/passwd")
    return path


def _tar_special(path: Path, kind: bytes, name: str, linkname: str = "") -> Path:
    with tarfile.open(path, "w:gz") as tf:
        ok = tarfile.TarInfo("ok.txt")
        ok.size = 2
        tf.addfile(ok, io.BytesIO(b"ok"))
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        tf.addfile(info)
    return path


MALICIOUS = {
    "zip_dotdot": lambda p: make_zip(p.with_suffix(".zip"), {"ok.txt": b"ok", "../evil.txt": b"x"}),
    "zip_absolute": lambda p: make_zip(p.with_suffix(".zip"), {"/tmp/adskit_evil.txt": b"x"}),
    "zip_drive": lambda p: make_zip(p.with_suffix(".zip"), {"C:/evil.txt": b"x"}),
    "zip_backslash": lambda p: make_zip(p.with_suffix(".zip"), {"a\\..\\..\\evil.txt": b"x"}),
    "zip_symlink": lambda p: _zip_symlink(p.with_suffix(".zip")),
    "tar_dotdot": lambda p: make_tar(p.with_suffix(".tar.gz"), {"ok.txt": b"ok", "sub/../../evil.txt": b"x"}),
    "tar_absolute": lambda p: make_tar(p.with_suffix(".tar.gz"), {"/tmp/adskit_evil.txt": b"x"}),
    "tar_symlink": lambda p: _tar_special(p.with_suffix(".tar.gz"), tarfile.SYMTYPE, "evil", "/etc/passwd"),
    "tar_hardlink": lambda p: _tar_special(p.with_suffix(".tar.gz"), tarfile.LNKTYPE, "evil", "/etc/passwd"),
    "tar_device": lambda p: _tar_special(p.with_suffix(".tar.gz"), tarfile.CHRTYPE, "evil"),
    "tar_fifo": lambda p: _tar_special(p.with_suffix(".tar.gz"), tarfile.FIFOTYPE, "evil"),
}


@pytest.mark.parametrize("kind", sorted(MALICIOUS))
def test_malicious_archives_are_refused_and_write_nothing(tmp_path, kind):
    (tmp_path / "archives").mkdir()
    archive = MALICIOUS[kind](tmp_path / "archives" / kind)
    sandbox = tmp_path / "sandbox"
    target = sandbox / "target"
    with pytest.raises(dl.UnsafeArchiveError) as err:
        dl.safe_extract(archive, target)
    assert archive.name in str(err.value) and "member" in str(err.value)
    assert [p.name for p in sandbox.iterdir()] == ["target"], "no staging folder or file left beside target"
    assert list(target.iterdir()) == [], "nothing extracted, not even the harmless members"
    assert not list(tmp_path.rglob("evil*")) and not Path("/tmp/adskit_evil.txt").exists()


def test_malicious_archive_served_and_fetched_is_refused_on_extract(server, data_root):
    bad = make_zip(server.root / "bad.zip", {"../../escape.wav": wav_bytes(0.1)})
    ds = dl.DataSet(
        name="bad",
        title="t",
        homepage=server.url,
        licence="-",
        citation="-",
        used_for="-",
        layout="-",
        files=(dl.RemoteFile("bad.zip", server.url + "bad.zip", "sha256:" + sha256(bad)),),
    )
    (path,) = dl.fetch(ds, progress=False)  # the hash is right: verification is not a safety check
    with pytest.raises(dl.UnsafeArchiveError, match="escape.wav"):
        dl.safe_extract(path, data_root / "bad" / "extracted")
    assert not list(data_root.rglob("escape.wav"))


def test_safe_extract_is_idempotent_and_protects_user_files(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"d/x.wav": wav_bytes(0.1), "d/y.txt": b"archive"})
    target = tmp_path / "out"
    first = dl.safe_extract(archive, target)
    mtime = (target / "d" / "x.wav").stat().st_mtime_ns
    assert dl.safe_extract(archive, target) == first
    assert (target / "d" / "x.wav").stat().st_mtime_ns == mtime, "second call is a no-op (marker)"

    # A new archive version whose y.txt differs from what is on disk: refused, nothing changed.
    archive2 = make_zip(tmp_path / "a.zip", {"d/x.wav": wav_bytes(0.1), "d/y.txt": b"new", "d/z.txt": b"z"})
    (target / "d" / "y.txt").write_bytes(b"edited by the user")
    with pytest.raises(FileExistsError, match="y.txt"):
        dl.safe_extract(archive2, target)
    assert (target / "d" / "y.txt").read_bytes() == b"edited by the user"
    assert not (target / "d" / "z.txt").exists(), "nothing moved when a conflict is found"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".adskit")] == []

    out = dl.safe_extract(archive2, target, overwrite=True)
    assert (target / "d" / "y.txt").read_bytes() == b"new" and len(out) == 3


def test_safe_extract_rejects_non_archives(tmp_path):
    p = tmp_path / "ToyCar.7z.001"
    p.write_bytes(b"7z\xbc\xaf\x27\x1c not really")
    with pytest.raises(ValueError, match="7-Zip"):
        dl.safe_extract(p, tmp_path / "out")


# ----------------------------------------------------------------------------------------- registry


def test_registry_hashes_are_well_formed_or_explained():
    for ds in dl.REGISTRY.values():
        names = [f.name for f in ds.files]
        assert len(names) == len(set(names)), ds.name
        assert ds.licence and ds.citation and ds.homepage.startswith("https://")
        for f in ds.files:
            assert f.url.startswith("https://") and f.hash_note, (ds.name, f.name)
            if f.known_hash is not None:
                assert re.fullmatch(r"md5:[0-9a-f]{32}|sha256:[0-9a-f]{64}", f.known_hash), f.known_hash
    # publisher MD5s from FACTS.md
    dev = {f.name: f.known_hash for f in dl.REGISTRY["dcase2020_task2"].select(tags=["dev"])}
    assert dev["dev_data_fan.zip"] == "md5:649bdfc06263ae7a838963f43b6641e6"
    assert dev["dev_data_ToyConveyor.zip"] == "md5:03b6aa1bfd09a39d53af0ba39f71fa91"
    assert len(dev) == 6
    assert all(f.known_hash is None for f in dl.REGISTRY["fsdkaggle2018"].files)


def test_describe_lists_urls_and_hash_status():
    text = dl.describe("fsdkaggle2018")
    assert "FSDKaggle2018.audio_train.zip" in text and "zenodo.org/records/2552860" in text
    assert "NONE (trust on first use" in text


# ------------------------------------------------------------------------------------------ scripts


@pytest.fixture
def scripts(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))

    def load(name):
        return importlib.import_module(name)

    return load


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("--list must not touch the network")

    monkeypatch.setattr(pooch, "retrieve", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("script", SCRIPT_NAMES)
def test_script_list_runs_without_network(scripts, no_network, script, capsys, data_root):
    assert scripts(script).main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "licence:" in out and "files (" in out
    if script != "get_toy_car_running":
        assert "url:  https://" in out and "hash:" in out
    assert not data_root.exists(), "--list writes nothing"


def test_dcase2020_script_selects_machines(scripts, no_network, capsys):
    assert scripts("get_dcase2020_task2").main(["--list", "--machines", "fan", "pump"]) == 0
    out = capsys.readouterr().out
    assert "files (2)" in out and "dev_data_fan.zip" in out and "dev_data_pump.zip" in out
    assert "dev_data_valve.zip" not in out


def test_toy_car_running_list_with_user_file(scripts, no_network, capsys):
    mod = scripts("get_toy_car_running")
    assert mod.main(["--list", "--file", "a.zip", "--known-hash", "md5:" + "a" * 32]) == 0
    out = capsys.readouterr().out
    assert "https://archive.org/download/toy_car_running_dataset/a.zip" in out and "md5:" + "a" * 32 in out


def test_script_offline_exit_code_and_message(scripts, monkeypatch, capsys, data_root):
    url = f"http://127.0.0.1:{closed_port()}/dcase2016_task2_train_dev.zip"
    ds = dl.REGISTRY["dcase2016_task2"]
    files = (dl.RemoteFile(ds.files[0].name, url, ds.files[0].known_hash),)
    monkeypatch.setitem(dl.REGISTRY, "dcase2016_task2", dataclasses.replace(ds, files=files))
    assert scripts("get_dcase2016_task2").main(["--no-progress"]) == 2
    err = capsys.readouterr().err
    assert url in err and "adskit reproduce --quick" in err


def test_dcase2016_script_copies_seven_classes(scripts, server, monkeypatch, data_root, capsys):
    members = {"dcase2016_task2_train_dev/README.txt": b"readme"}
    for cls in [*dl.DCASE2016_ANOMALY_CLASSES, "cough", "speech"]:
        for i in range(3):
            members[f"dcase2016_task2_train_dev/dcase2016_task2_train/{cls}{i:03d}.wav"] = wav_bytes(0.05)
    z = make_zip(server.root / "dcase2016_task2_train_dev.zip", members)
    ds = dl.REGISTRY["dcase2016_task2"]
    files = (dl.RemoteFile(z.name, server.url + z.name, "md5:" + hashlib.md5(z.read_bytes()).hexdigest()),)
    monkeypatch.setitem(dl.REGISTRY, "dcase2016_task2", dataclasses.replace(ds, files=files))
    mod = scripts("get_dcase2016_task2")
    assert mod.main(["--no-progress", "--per-class", "2"]) == 0
    anomalies = data_root / "dcase2016_task2" / "test_anomalies"
    assert sorted(p.name for p in anomalies.iterdir()) == sorted(dl.DCASE2016_ANOMALY_CLASSES)
    assert all(len(list((anomalies / c).iterdir())) == 2 for c in dl.DCASE2016_ANOMALY_CLASSES)
    extracted = list((data_root / "dcase2016_task2" / "extracted").rglob("*.wav"))
    assert len(extracted) == 27, "copied, not moved"
    # Running again is a no-op: the archive is not fetched again and the copies are kept.
    assert mod.main(["--no-progress", "--per-class", "2"]) == 0
    assert server.hits["/dcase2016_task2_train_dev.zip"] == 1


def test_fsdkaggle2018_script_filters_short_clips(scripts, server, monkeypatch, data_root, capsys):
    members = {
        "FSDKaggle2018.audio_train/short1.wav": wav_bytes(1.0),
        "FSDKaggle2018.audio_train/short2.wav": wav_bytes(4.9),
        "FSDKaggle2018.audio_train/long.wav": wav_bytes(6.0),
    }
    make_zip(server.root / "FSDKaggle2018.audio_train.zip", members)
    make_zip(server.root / "FSDKaggle2018.meta.zip", {"FSDKaggle2018.meta/train.csv": b"fname,label\n"})
    ds = dl.REGISTRY["fsdkaggle2018"]
    files = tuple(
        dl.RemoteFile(f.name, server.url + f.name, None, hash_note=f.hash_note, tags=f.tags) for f in ds.files
    )
    monkeypatch.setitem(dl.REGISTRY, "fsdkaggle2018", dataclasses.replace(ds, files=files))
    mod = scripts("get_fsdkaggle2018")

    assert mod.main(["--no-progress"]) == 2, "no published hash: refused without --allow-unverified"
    assert "--allow-unverified" in capsys.readouterr().err
    assert sum(server.hits.values()) == 0

    assert mod.main(["--no-progress", "--allow-unverified", "--max-duration", "5"]) == 0
    folder = data_root / "fsdkaggle2018"
    assert sorted(p.name for p in (folder / "something_else").iterdir()) == ["short1.wav", "short2.wav"]
    assert len(list((folder / "extracted").rglob("*.wav"))) == 3, "originals kept"
    lock = json.loads((data_root / dl.LOCK_NAME).read_text())
    assert set(lock) == {
        "fsdkaggle2018/FSDKaggle2018.audio_train.zip",
        "fsdkaggle2018/FSDKaggle2018.meta.zip",
    }


def test_script_runs_as_a_program(tmp_path):
    import subprocess

    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "get_mimii.py"), "--list", "--machines", "fan", "--snr", "-6"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"ADSKIT_DATA": str(tmp_path / "d"), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "-6_dB_fan.zip" in proc.stdout and "md5:f02ae808a58d84b6815b7ec38ff30879" in proc.stdout
