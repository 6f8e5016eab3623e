"""The handler table is a value, and families plug admin routes and CLI commands in without
editing app.py or cli.py."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError
from starlette.requests import Request
from starlette.responses import JSONResponse

from rekognition_emulator.emulator import cli
from rekognition_emulator.emulator.server import registry
from rekognition_emulator.emulator.server.app import create_app
from rekognition_emulator.emulator.server.config import Config
from rekognition_emulator.emulator.server.context import AppState
from tests.conftest import make_client
from tests.wire import app_server, call


def _fake_detect_faces(ctx, params):
    return {"FaceDetails": [], "OrientationCorrection": "ROTATE_0"}


# A family's admin endpoints, as a module would declare them at import.
@registry.admin_route("/_emulator/test-registry/{name}", methods=["GET"])
async def _echo_name(request: Request, state: AppState) -> JSONResponse:
    return JSONResponse({"name": request.path_params["name"], "port": state.config.port})


@registry.admin_route("/_emulator/test-registry-sync", methods=["POST"])
def _sync_count(request: Request, state: AppState) -> JSONResponse:
    return JSONResponse({"operations": sorted(state.operations)})


@registry.cli_command("test-registry-echo", help="echo the arguments (tests only)")
def _echo_command(argv: list[str]) -> int:
    print(" ".join(argv))
    return len(argv)


def test_an_app_serves_exactly_the_table_it_is_given(tmp_path):
    app = create_app(Config(data_dir=tmp_path), {"DetectFaces": _fake_detect_faces})
    with app_server(app) as endpoint:
        client = make_client("rekognition", endpoint)
        faces = client.detect_faces(Image={"Bytes": b"not even an image"})
        assert faces["OrientationCorrection"] == "ROTATE_0"
        with pytest.raises(ClientError) as info:
            client.list_collections()
        assert info.value.response["Error"]["Code"] == "NotImplementedException"
        health = call(endpoint, None, method="GET", path="/_emulator/health").json
        assert health["operations_implemented"] == ["DetectFaces"]
    # The registry's own table is untouched: the real DetectFaces is still the one registered.
    assert registry.all_operations()["DetectFaces"] is not _fake_detect_faces


def test_default_table_is_every_registered_operation(tmp_path):
    app = create_app(Config(data_dir=tmp_path))
    assert dict(app.state.emulator.operations) == registry.all_operations()


def test_registered_admin_routes_are_served(tmp_path):
    app = create_app(Config(data_dir=tmp_path, port=1234), {"DetectFaces": _fake_detect_faces})
    with app_server(app) as endpoint:
        with urllib.request.urlopen(f"{endpoint}/_emulator/test-registry/abc") as reply:
            assert json.loads(reply.read()) == {"name": "abc", "port": 1234}
        reply = call(endpoint, None, raw=b"", path="/_emulator/test-registry-sync")
        assert reply.json == {"operations": ["DetectFaces"]}
        # The built-in ones are registered the same way.
        assert call(endpoint, None, method="GET", path="/_emulator/health").status == 200
        assert call(endpoint, None, raw=b"", path="/_emulator/reset").json == {"reset": True}


def test_admin_routes_live_under_the_admin_prefix():
    with pytest.raises(ValueError, match="/_emulator/"):
        registry.admin_route("/jobs")
    with pytest.raises(ValueError, match="registered twice"):
        registry.admin_route("/_emulator/test-registry/{name}")(lambda request, state: None)


def test_registered_cli_commands_are_dispatched(capsys):
    assert cli.main(["test-registry-echo", "a", "b"]) == 2
    assert capsys.readouterr().out == "a b\n"
    assert cli.main(["--help"]) == 0
    listing = capsys.readouterr().out
    for name in ("serve", "models", "test-registry-echo"):
        assert name in listing
    assert cli.main(["no-such-command"]) == 2
    assert "unknown command" in capsys.readouterr().err
