"""Server configuration, resolved once: command-line flag, else `REKOGNITION_EMULATOR_<NAME>`,
else the default. Every part of the emulator reads the `Config` it is given, never the
environment.

Each field of `Config` is one setting: its line declares the type, the default and the help
text, and that single line drives the `serve` flag (`--hnsw-m`), the environment variable
(`REKOGNITION_EMULATOR_HNSW_M`) and the `--help` text. Adding a setting is adding a line.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "REKOGNITION_EMULATOR_"
# Collides with neither LocalStack (4566, 4510-4559) nor moto server (5000).
DEFAULT_PORT = 4590
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
LOG_LEVELS = ("debug", "info", "warning", "error")


def env(name: str, default: str | None = None) -> str | None:
    """`REKOGNITION_EMULATOR_<name>` (kept for code not yet handed a Config; prefer Config)."""
    return os.environ.get(ENV_PREFIX + name, default)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "rekognition-emulator"


def _listed(items: list[str] | str) -> list[str]:
    """The entries of a repeatable setting: the flag's values, or the env var's text, each
    comma-separated, stripped, empty ones dropped."""
    values = [items] if isinstance(items, str) else items
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def parse_credentials(items: list[str] | str) -> dict[str, str]:
    """`AKID:SECRET` pairs (the env var holds them comma-separated)."""
    creds: dict[str, str] = {}
    for pair in _listed(items):
        key, sep, secret = pair.partition(":")
        if not sep or not key or not secret:
            raise ValueError(f"credentials must look like AKID:SECRET, got {pair!r}")
        creds[key] = secret
    return creds


def parse_sampling(items: list[str] | str) -> dict[str, float]:
    """`ANALYSIS=MS` pairs (the env var holds them comma-separated): milliseconds between the
    frames a Rekognition Video analysis looks at, e.g. `LabelDetection=250`. ANALYSIS is the
    name a Start*/Get* pair shares (FaceDetection, TextDetection ...), in any case."""
    from rekognition_emulator.emulator.server.service_model import operation_names

    names = set(operation_names())
    pairs = [n[len("Start") :] for n in names if n.startswith("Start") and f"Get{n[5:]}" in names]
    known = {pair.lower(): pair for pair in pairs}
    out: dict[str, float] = {}
    for pair in _listed(items):
        name, sep, value = pair.partition("=")
        canonical = known.get(name.strip().lower())
        if not sep or canonical is None:
            raise ValueError(
                f"video sampling must look like ANALYSIS=MS with ANALYSIS one of "
                f"{', '.join(sorted(known.values()))}, got {pair!r}"
            )
        try:
            ms = float(value)
        except ValueError:
            raise ValueError(f"{pair!r}: the milliseconds are not a number") from None
        if not ms > 0:
            raise ValueError(f"{pair!r}: the interval must be more than 0 ms")
        out[canonical] = ms
    return out


@dataclass(frozen=True)
class Setting:
    """How one Config field is set from the outside (kept in the field's metadata)."""

    help: str
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    # For values that are not a plain str/int/float/bool/Path: text (or repeated flag
    # values) -> the field's value.
    parse: Callable[[Any], Any] | None = None
    repeat: bool = False  # the flag may be given more than once
    minimum: float | None = None  # for numbers
    flag: bool = True  # False: environment / Config only (no serve flag)


def setting(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
    **how: Any,
) -> Any:
    """A Config field that is also a serve flag and an environment variable."""
    return field(  # type: ignore[call-overload]
        default=default,
        default_factory=default_factory,
        metadata={"setting": Setting(help=help, **how)},
    )


@dataclass
class Config:
    # -- the server
    host: str = setting("127.0.0.1", "interface to listen on (0.0.0.0 in a container)")
    port: int = setting(DEFAULT_PORT, "port; 0 picks a free one", minimum=0)
    data_dir: Path = setting(
        default_factory=default_data_dir, help="where state is kept (default: per-user data folder)"
    )
    ephemeral: bool = setting(False, "keep all state in a temporary folder removed at exit")
    auth: str = setting("off", "strict verifies SigV4 signatures", choices=("off", "strict"))
    credentials: dict[str, str] = setting(
        default_factory=dict,
        help="a key pair accepted in --auth strict (repeatable; the env var is comma-separated)",
        metavar="AKID:SECRET",
        parse=parse_credentials,
        repeat=True,
    )
    log_level: str = setting("info", "one line per request at info", choices=LOG_LEVELS)
    # -- models
    models_dir: Path | None = setting(None, "model cache (default: the per-user cache folder)")
    threads: int = setting(2, "onnxruntime threads per model", minimum=1)
    nudenet: bool = setting(
        False, "use the opt-in NudeNet model (AGPL-3.0) for the body-part moderation labels"
    )
    # -- the other AWS services (None: embedded on this port)
    s3_endpoint_url: str | None = setting(None, "use this S3 instead of the embedded one")
    sns_endpoint_url: str | None = setting(None, "publish to this SNS instead of the embedded one")
    sqs_endpoint_url: str | None = setting(None, "use this SQS instead of the embedded one")
    kinesis_endpoint_url: str | None = setting(
        None, "write to this Kinesis instead of the embedded one"
    )
    # -- face search index (HNSW), measured with tests/bench/bench_search.py
    hnsw_m: int = setting(48, "HNSW graph degree M of new indexes", minimum=2)
    hnsw_ef_construction: int = setting(200, "HNSW ef_construction of new indexes", minimum=1)
    hnsw_ef_search: int = setting(128, "HNSW ef at search time", minimum=1)
    # -- jobs (video, custom labels, ...)
    job_workers: int = setting(2, "threads running asynchronous jobs", minimum=1)
    max_concurrent_jobs: int = setting(20, "jobs in progress per account and region", minimum=1)
    job_retention_days: float = setting(7.0, "days a finished job's results are kept", minimum=0)
    sync_jobs: bool = setting(False, "run each job to its end before Start* answers (tests)")
    # -- for test authors: reproducible ids, the web inspector (/_emulator/ui)
    seed: int | None = setting(
        None,
        "make every generated id (FaceId, ImageId, JobId, request ids ...) reproducible run to run",
    )
    inspector: bool = setting(
        True, "keep a journal of recent requests for the web inspector at /_emulator/ui"
    )
    inspector_requests: int = setting(500, "requests the inspector's journal keeps", minimum=1)
    inspector_image_bytes: int = setting(
        5 * 1024 * 1024, "a request's image is kept for the inspector up to this size", minimum=0
    )
    inspector_memory_mb: float = setting(
        64.0, "image bytes the journal holds in all (the oldest are dropped first)", minimum=0
    )
    thumbnails_mb: float = setting(
        32.0, "disk the face thumbnails of IndexFaces may use in the data dir", minimum=0
    )
    # -- Rekognition Video
    video_sample_ms: dict[str, float] = setting(
        default_factory=dict,
        help="milliseconds between the frames one video analysis looks at (repeatable; the "
        "env var comma-separated; defaults: 500, TextDetection 1000, PersonTracking and "
        "FaceSearch 200)",
        metavar="ANALYSIS=MS",
        parse=parse_sampling,
        repeat=True,
    )
    # -- Custom Labels
    custom_labels_wait: float = setting(
        30.0,
        "seconds CreateProjectVersion / StartProjectVersion / CopyProjectVersion wait for their "
        "job before answering (a small model is trained by then)",
        minimum=0,
    )
    # -- stream processors and Face Liveness
    stream_speed: float = setting(
        1.0,
        "playback speed of mapped Kinesis video streams: 1 real time, 4 four times as fast, "
        "0 as fast as the frames are analysed",
        minimum=0,
    )
    stream_analysis_fps: float = setting(
        5.0, "frames a second a stream processor analyses", minimum=0.1
    )
    liveness_session_seconds: float = setting(
        180.0,
        "seconds a Face Liveness session lives before it is EXPIRED (AWS: 3 minutes)",
        minimum=0.1,
    )
    # -- celebrities
    celebrities_dir: Path | None = setting(
        None, "a folder of NAME/photo.jpg: celebrities read into the gallery at start"
    )

    def __post_init__(self) -> None:
        for spec, name, _ in settings(type(self)):
            value = getattr(self, name)
            if spec.choices and value not in spec.choices:
                raise ValueError(f"{name} must be one of {', '.join(spec.choices)}, not {value!r}")
            if spec.minimum is not None and value < spec.minimum:
                raise ValueError(f"{name} must be at least {spec.minimum:g}, not {value!r}")

    @classmethod
    def resolve(
        cls, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Config:
        """Flag, else environment variable, else default, for every setting.

        `flags` maps field names to values already parsed (argparse's namespace, as a dict,
        holding only the flags that were given); `environ` defaults to os.environ.
        """
        flags = dict(flags or {})
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec, name, kind in settings(cls):
            if name in flags:
                values[name] = _from_flag(spec, kind, flags[name])
                continue
            raw = environ.get(env_name(name))
            if raw is not None and raw != "":
                values[name] = _from_text(spec, name, kind, raw)
        return cls(**values)


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


@functools.cache
def settings(cls: type | None = None) -> list[tuple[Setting, str, type]]:
    """(setting, field name, value type with None stripped) for every field of `cls`
    (default Config) made with `setting()`."""
    cls = cls or Config
    hints = typing.get_type_hints(cls)
    return [
        (f.metadata["setting"], f.name, _value_type(hints[f.name]))
        for f in dataclasses.fields(cls)
        if "setting" in f.metadata
    ]


def _value_type(annotation: Any) -> type:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = kinds[0]
    return typing.get_origin(annotation) or annotation


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _from_text(spec: Setting, name: str, kind: type, raw: str) -> Any:
    """An environment variable's text as the field's value, or a ValueError naming it."""
    try:
        if spec.parse is not None:
            return spec.parse(raw)
        if kind is bool:
            if raw.strip().lower() in _TRUE:
                return True
            if raw.strip().lower() in _FALSE:
                return False
            raise ValueError(f"expected one of {', '.join(_TRUE + _FALSE)}")
        if kind is Path:
            return Path(raw).expanduser()
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"{env_name(name)}={raw!r} is not valid: {exc}") from None


def _from_flag(spec: Setting, kind: type, value: Any) -> Any:
    if spec.parse is not None:
        return spec.parse(value)
    if kind is Path:
        return Path(value).expanduser()
    return value


def add_arguments(parser: argparse.ArgumentParser, cls: type | None = None) -> None:
    """One flag per setting. Flags not given stay out of the namespace (argparse.SUPPRESS), so
    `Config.resolve(vars(namespace))` can tell a given flag from the environment's value."""
    cls = cls or Config
    defaults = cls()
    for spec, name, kind in settings(cls):
        if not spec.flag:
            continue
        default = getattr(defaults, name)
        shown = "none" if default in (None, {}) else default
        if name == "data_dir":
            shown = "the per-user data folder"
        help_text = f"{spec.help} [env {env_name(name)}; default {shown}]".replace("%", "%%")
        kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "help": help_text}
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif spec.repeat:
            kwargs.update(action="append", metavar=spec.metavar)
        else:
            kwargs.update(type=str if kind is Path else kind, metavar=spec.metavar)
            if spec.choices:
                kwargs["choices"] = spec.choices
        parser.add_argument(flag_name(name), dest=name, **kwargs)


def account_for_access_key(access_key: str | None) -> str:
    """A 12-digit access key is that account (as moto does); anything else the default."""
    if access_key and len(access_key) == 12 and access_key.isdigit():
        return access_key
    return DEFAULT_ACCOUNT
