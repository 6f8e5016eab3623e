"""The front end: app (dispatch, admin routes), router (which AWS service a request is for),
protocol, validation, auth, errors, context, registry, config."""
