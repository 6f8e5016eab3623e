"""Face Liveness: sessions with AWS's lifecycle, checked from a selfie video a test submits.

- `operations`: CreateFaceLivenessSession, GetFaceLivenessSessionResults;
- `submit`: `POST /_emulator/liveness/{SessionId}` (a video, frames or a scripted outcome);
- `scoring`: the documented cues and score (what it can and cannot tell).
"""

from rekognition_emulator.handlers.liveness import operations, submit  # noqa: F401
