"""rekognition-emulator: a local, offline Amazon Rekognition that answers from real models."""

__version__ = "0.1.0"


def __getattr__(name: str):  # lazy, so `import emulator` stays light
    if name == "running_server":
        from emulator.testing import running_server

        return running_server
    raise AttributeError(name)
