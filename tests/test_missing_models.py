"""With an empty model cache and no package index, the server says what to run."""

import tempfile

import cv2
import pytest
import skimage.data
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.testing import running_server
from tests.conftest import make_client

NO_INDEX = {
    "PIP_INDEX_URL": "http://127.0.0.1:9/",
    "PIP_NO_INDEX": "1",
    "http_proxy": "",
    "https_proxy": "",
    "npm_config_offline": "true",
}


def test_detect_faces_without_models_names_the_command_to_run():
    with tempfile.TemporaryDirectory() as empty:
        env = {"REKOGNITION_EMULATOR_MODELS_DIR": empty, **NO_INDEX}
        with running_server(env=env) as endpoint:
            rekognition = make_client("rekognition", endpoint)
            ok, jpeg = cv2.imencode(".jpg", skimage.data.astronaut())
            with pytest.raises(ClientError) as caught:
                rekognition.detect_faces(Image={"Bytes": jpeg.tobytes()})
            error = caught.value.response["Error"]
            assert error["Code"] == "InternalServerError"
            assert "rekognition-emulator models pull" in error["Message"]
            assert "Traceback" not in error["Message"]
            # The server keeps serving what needs no model.
            assert rekognition.list_collections()["CollectionIds"] == []
