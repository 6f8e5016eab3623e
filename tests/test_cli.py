"""`rekognition-emulator serve`: flags, their REKOGNITION_EMULATOR_* variables, exits, logs."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.server.config import DEFAULT_PORT
from tests.conftest import make_client
from tests.wire import call

VENV_BIN = Path(sys.executable).parent
AUTH_ERRORS = {
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKOGNITION_EMULATOR_")}
    # Keep the model cache where the developer has it.
    if "REKOGNITION_EMULATOR_MODELS_DIR" in os.environ:
        env["REKOGNITION_EMULATOR_MODELS_DIR"] = os.environ["REKOGNITION_EMULATOR_MODELS_DIR"]
    env.update({f"REKOGNITION_EMULATOR_{k}": v for k, v in extra.items()})
    return env


class Served:
    """`python -m rekognition_emulator serve ARGS` as a user runs it (no test harness flags added)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rekognition_emulator", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump_out, daemon=True).start()
        self._err = threading.Thread(target=self._pump_err, daemon=True)
        self._err.start()
        self.endpoint = ""
        self.data_dir = ""

    def _pump_out(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.lines.put(line)

    def _pump_err(self) -> None:
        assert self.proc.stderr
        for line in self.proc.stderr:
            self.stderr.append(line)

    def wait_listening(self, timeout: float = 60) -> Served:
        line = self.lines.get(timeout=timeout)
        match = re.search(r"listening on (http://\S+) \(data: (.*), auth: (\w+)\)", line)
        assert match, line
        self.endpoint, self.data_dir = match[1], match[2]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if call(self.endpoint, None, method="GET", path="/_emulator/health").status == 200:
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("not healthy")

    def health(self) -> dict:
        return call(self.endpoint, None, method="GET", path="/_emulator/health").json

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self._err.join(timeout=5)
        return code

    def log(self) -> str:
        return "".join(self.stderr)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "rekognition_emulator", *args],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- help and entry points ----------------------------------------------------------------
def test_help_documents_every_flag():
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    for flag in (
        "--host",
        "--port",
        "--data-dir",
        "--ephemeral",
        "--auth",
        "--credentials",
        "--s3-endpoint-url",
        "--models-dir",
        "--log-level",
    ):
        assert flag in result.stdout
    assert "REKOGNITION_EMULATOR_" in result.stdout
    assert str(DEFAULT_PORT) in result.stdout
    assert DEFAULT_PORT not in (4566, 5000)


def test_console_script_and_module():
    script = VENV_BIN / "rekognition-emulator"
    if script.exists():
        result = subprocess.run([str(script), "--help"], capture_output=True, text=True)
        assert result.returncode == 0 and "serve" in result.stdout
    assert run_cli().returncode == 2
    unknown = run_cli("launch")
    assert unknown.returncode == 2 and "unknown command" in unknown.stderr


# -- environment variables ----------------------------------------------------------------
def test_every_flag_as_an_environment_variable(tmp_path):
    port = free_port()
    data_dir = tmp_path / "nested" / "data"
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    served = Served(
        [],
        clean_env(
            HOST="127.0.0.1",
            PORT=str(port),
            DATA_DIR=str(data_dir),
            AUTH="strict",
            CREDENTIALS="AKIDONE:one,AKIDTWO:two",
            S3_ENDPOINT_URL="http://127.0.0.1:9",
            LOG_LEVEL="warning",
            MODELS_DIR=str(models_dir),
        ),
    ).wait_listening()
    try:
        assert served.endpoint == f"http://127.0.0.1:{port}"
        health = served.health()
        assert health["data_dir"] == str(data_dir) and data_dir.is_dir()
        assert health["auth"] == "strict"
        assert health["s3"] == "http://127.0.0.1:9"
        assert health["models"].get("dir") == str(models_dir)
        for key, secret in (("AKIDONE", "one"), ("AKIDTWO", "two")):
            code = _error_code(
                make_client("rekognition", served.endpoint, access_key=key, secret=secret)
            )
            assert code not in AUTH_ERRORS
        wrong = make_client("rekognition", served.endpoint, access_key="AKIDONE", secret="two")
        assert _error_code(wrong) == "InvalidSignatureException"
    finally:
        assert served.stop() == 0
    assert not re.search(r"INFO \S+ \d{3} ", served.log())  # warning level: no request lines
    assert data_dir.is_dir()  # a named data dir is kept


def _error_code(client) -> str | None:
    try:
        client.list_collections()
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return None


def test_flags_override_environment_variables(tmp_path):
    served = Served(
        ["--auth", "off", "--port", "0", "--data-dir", str(tmp_path / "flag")],
        clean_env(AUTH="strict", CREDENTIALS="A:B", PORT="1", DATA_DIR=str(tmp_path / "env")),
    ).wait_listening()
    try:
        health = served.health()
        assert health["auth"] == "off"
        assert health["data_dir"] == str(tmp_path / "flag")
    finally:
        served.stop()


def test_default_data_dir_is_per_user(tmp_path):
    served = Served(
        ["--port", "0"], {**clean_env(), "XDG_DATA_HOME": str(tmp_path)}
    ).wait_listening()
    try:
        assert served.health()["data_dir"] == str(tmp_path / "rekognition-emulator")
        assert (tmp_path / "rekognition-emulator").is_dir()
    finally:
        served.stop()


# -- --ephemeral --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "how, sig",
    [("flag", signal.SIGTERM), ("flag", signal.SIGINT), ("env", signal.SIGTERM)],
    ids=["flag-sigterm", "flag-sigint", "env-sigterm"],
)
def test_ephemeral_removes_its_dir(how, sig):
    args = ["--port", "0"] + (["--ephemeral"] if how == "flag" else [])
    env = clean_env(EPHEMERAL="1") if how == "env" else clean_env()
    served = Served(args, env).wait_listening()
    data_dir = Path(served.data_dir)
    assert data_dir.is_dir()
    make_client("s3", served.endpoint).create_bucket(Bucket="scratch")  # write something
    assert any(data_dir.rglob("*"))
    assert served.stop(sig) == 0
    assert not data_dir.exists()
    assert "Traceback" not in served.log()


# -- refusals -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, code, says",
    [
        (["--auth", "strict"], 2, "--credentials"),
        (["--credentials", "no-colon"], 2, "AKID:SECRET"),
        (["--auth", "sometimes"], 2, "invalid choice"),
        (["--log-level", "loud"], 2, "invalid choice"),
        (["--port", "eighty"], 2, "invalid int"),
    ],
)
def test_bad_arguments(tmp_path, args, code, says):
    result = run_cli("serve", "--port", "0", "--data-dir", str(tmp_path), *args)
    assert result.returncode == code
    assert says in result.stderr


def test_port_in_use(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


# -- logging ------------------------------------------------------------------------------
def test_one_log_line_per_request(tmp_path):
    served = Served(["--port", "0", "--data-dir", str(tmp_path)], clean_env()).wait_listening()
    try:
        call(served.endpoint, "CreateCollection", {"CollectionId": "bad id!"})
        call(served.endpoint, None, {}, target="RekognitionService.Nope")
        call(served.endpoint, "CreateCollection", raw=b"{")
        make_client("s3", served.endpoint).list_buckets()
    finally:
        served.stop()
    lines = re.findall(r"INFO (\S+) (\d{3}) (\d+\.\d)ms", served.log())
    assert [(op, status) for op, status, _ in lines] == [
        ("CreateCollection", "400"),
        ("-", "400"),
        ("CreateCollection", "400"),
    ]
    assert re.search(r"INFO S3 GET / 200 \d+\.\dms", served.log())


def test_a_second_server_on_a_data_dir_in_use_is_refused_in_one_line(tmp_path):
    from rekognition_emulator.emulator.testing import EmulatorProcess

    first = EmulatorProcess(data_dir=tmp_path / "data")
    first.start()
    try:
        second = subprocess.run(
            [sys.executable, "-m", "rekognition_emulator", "serve", "--port", "0"]
            + ["--data-dir", str(tmp_path / "data")],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        first.cleanup()
    assert second.returncode == 3
    assert "is in use by another emulator process" in second.stderr
    assert "Traceback" not in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
