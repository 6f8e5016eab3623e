"""rekognition-emulator: a local, offline Amazon Rekognition that answers from real models.

Everything the distribution installs lives under this one import package, so nothing generic
lands at the top of a user's site-packages. The repository keeps its folders at the top
(`emulator/`, `handlers/`, `models/`, `conformance/`); pyproject.toml maps each of them to a
subpackage here: `rekognition_emulator.emulator`, `.handlers`, `.models`, `.conformance`.

    from rekognition_emulator import running_server   # a live server for a test
"""

__version__ = "0.1.0"


def __getattr__(name: str):  # lazy, so importing the package stays light
    if name == "running_server":
        from rekognition_emulator.emulator.testing import running_server

        return running_server
    raise AttributeError(name)
