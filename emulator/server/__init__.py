"""The Rekognition front end: app, protocol, validation, auth, errors, registry, config."""
