"""Per-frame analysis: the AWS semantics of an image operation on one decoded frame.

An image operation is "decode, analyse one frame, shape"; a video job is "decode, sample,
analyse each frame, aggregate, shape". Both call the functions here, so a video answers
exactly what the image operation answers for the same frame.

The pattern every family follows (faces, labels, text; moderation, ppe, celebrities ...):
- one module per family, `handlers/analysis/<family>.py`;
- plain functions whose first argument is the frame, `rgb: np.ndarray` (H x W x 3, uint8,
  RGB, already EXIF-rotated), and whose options are keyword arguments already parsed from
  the request, AWS's defaults applied (named after the request members in snake_case:
  `min_confidence`, `max_labels`, `quality_filter` ...); where the image and the video
  operation share a request structure, the module also parses it once (e.g.
  `text.filter_options(Filters)`, `faces.parse_attributes(Attributes)`);
- they return AWS-shaped pieces: dicts and lists exactly as they appear in the operation's
  output (a FaceDetail, a list of Labels, TextDetections ...), coordinates as ratios of the
  frame, floats at float32 precision (`numbers.f32`, `numbers.percent`), in any key order
  (the serializer writes the model's order);
- no request context, no image loading, no store, no timestamps: the handler
  (`handlers/<family>.py`) reads the parameters, loads the image, calls the function and
  adds the operation's own members (model versions ...); a video job adds Timestamp
  around each frame's pieces and aggregates;
- they may raise AWS errors where the operation defines one for the frame itself (e.g.
  CompareFaces without a source face: InvalidParameterException);
- what models know stays in `models/`; AWS vocabulary (enums, shapes, confidence scales)
  lives here.

    from rekognition_emulator.handlers.analysis import faces, labels, text

    faces.detect_faces(rgb, attributes=faces.ALL_ATTRIBUTES)     # [FaceDetail]
    labels.detect_labels(rgb, min_confidence=50.0)                # {"Labels": [...]}
    text.detect_text(rgb, **text.filter_options(filters))        # [TextDetection]

This package registers no operation; importing it is cheap (models load on first use).
"""
