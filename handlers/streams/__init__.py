"""Stream processors: the seven operations, their sessions, and what the streams play.

- `settings`: what Create, Start and Update accept beyond the service model;
- `operations`: the operations and the status each is legal in;
- `session`: a session from Start to STOPPED or FAILED, run on the job engine;
- `playback`: a mapped video played as a live Kinesis video stream (pace, fragments, clock);
- `face_search`: frame records on the output Kinesis data stream;
- `connected_home`: people, pets and packages to S3 and SNS;
- `sources`: `/_emulator/streams` and `rekognition-emulator streams`: which video a stream plays.
"""

from rekognition_emulator.handlers.streams import operations, session, sources  # noqa: F401
