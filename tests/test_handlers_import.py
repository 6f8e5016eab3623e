from rekognition_emulator.emulator.server.registry import IMPORT_ERRORS, implemented, load_handlers
from rekognition_emulator.emulator.server.service_model import operation_names


def test_every_handler_module_imports_cleanly():
    load_handlers()
    assert IMPORT_ERRORS == {}


def test_every_registered_operation_is_in_the_service_model():
    assert set(implemented()) <= set(operation_names())
