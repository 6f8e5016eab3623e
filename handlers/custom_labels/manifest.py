"""SageMaker Ground Truth manifests as Custom Labels reads them: one JSON line an image.

A line names its image (`source-ref`, an s3:// URL) and carries label attributes: a key
`<attr>` with its sibling `<attr>-metadata`, whose `type` says the use case:
- `groundtruth/image-classification`: `<attr>` is a class number (ignored),
  `<attr>-metadata.class-name` the label; several such pairs make a multi-label line;
- `groundtruth/object-detection`: `<attr>.annotations` are boxes in pixels (class_id, top,
  left, width, height), `<attr>-metadata.class-map` names the classes and
  `<attr>-metadata.objects[i].confidence` goes with annotation i.

Nothing here raises on bad input. Two kinds of problem, as the service has them:
- content errors that remove the line from a dataset (not JSON, too long, no or a malformed
  `source-ref`, a `source-ref` seen before): `parse_line` returns the line with `dropped` set;
- JSON-line errors that are recorded in the line itself, in `errors` (or `warnings`) arrays
  of `{code, message}` objects at the scope they concern (the line, the attribute, the
  attribute's metadata, or one annotation), leaving the rest of the line usable: a box off
  the frame is left out, the other boxes still train.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

CLASSIFICATION_TYPE = "groundtruth/image-classification"
DETECTION_TYPE = "groundtruth/object-detection"
IMAGE_LEVEL = "IMAGE_LEVEL_LABELS"
OBJECT_LOCALIZATION = "OBJECT_LOCALIZATION"
NOT_DETERMINED = "NOT_DETERMINED"

MAX_LINE_CHARS = 100_000
MAX_BOXES = 50
MAX_LABELS_PER_IMAGE = 50
MAX_LABEL_NAME = 256  # (unconfirmed: AWS documents no limit; the console caps names at 256)
RESERVED_KEYS = {"source-ref", "errors", "warnings", "cl-metadata"}
# A moderation adapter's line: {"source-ref": ..., MODERATION_KEY: {"ModerationLabels":
# [{"Name": "Rude Gesture"}, ...]}}; an empty list says the image has none of them.
MODERATION_KEY = "content-moderation-groundtruth"
_S3_URL = re.compile(r"^s3://([^/\s]+)/(.+)$", re.DOTALL)

# The service's own messages for each code (Custom Labels developer guide).
MESSAGES = {
    "ERROR_MISSING_SOURCE_REF": "The source-ref key is missing.",
    "ERROR_INVALID_SOURCE_REF_FORMAT": "The format of the source-ref value is invalid.",
    "ERROR_NO_LABEL_ATTRIBUTES": "No label attributes found.",
    "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT": "The format of the label attribute {} is invalid.",
    "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT": "The format of the label attribute metadata is invalid.",
    "ERROR_NO_VALID_LABEL_ATTRIBUTES": "No valid label attributes found.",
    "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE": "One or more bounding boxes has a missing confidence value.",
    "ERROR_MISSING_CLASS_MAP_ID": "One of more class ids is missing from the class map.",
    "ERROR_INVALID_JSON_LINE": "The JSON Line has an invalid format.",
    "ERROR_INVALID_IMAGE": "The image is invalid. Check S3 path and/or image properties.",
    # (unconfirmed wording: the guide names this code without its message)
    "ERROR_INVALID_IMAGE_DIMENSION": "The image dimension(s) do not conform to allowed dimensions.",
    "ERROR_INVALID_BOUNDING_BOX": "The bounding box has off frame values.",
    "ERROR_NO_VALID_ANNOTATIONS": "No valid annotations found.",
    "ERROR_BOUNDING_BOX_TOO_SMALL": "The height and width of the bounding box is too small.",
    "ERROR_TOO_MANY_BOUNDING_BOXES": "There are more bounding boxes than the allowed maximum.",
    "ERROR_UNSUPPORTED_USE_CASE_TYPE": "The use case type of the label attribute is not supported.",
    "ERROR_INVALID_LABEL_NAME_LENGTH": "The length of the label name is too long.",
    # Not AWS codes: AWS removes such lines silently; these name why in the emulator's own
    # status message when too many lines are removed.
    "ERROR_JSON_LINE_TOO_LONG": "The JSON Line is longer than 100,000 characters.",
    "ERROR_DUPLICATE_SOURCE_REF": "The source-ref value appears more than once.",
    "WARNING_UNANNOTATED_RECORD": "Record is unannotated.",
    "WARNING_NO_ANNOTATIONS": "No annotations were found.",
    "WARNING_NO_ATTRIBUTE_ANNOTATIONS": "No attribute annotations were found.",
}  # fmt: skip


def problem(code: str, *args: object) -> dict[str, str]:
    return {"code": code, "message": MESSAGES[code].format(*args)}


def _add(scope: dict, code: str, *args: object) -> None:
    kind = "warnings" if code.startswith("WARNING_") else "errors"
    scope.setdefault(kind, []).append(problem(code, *args))


@dataclass(frozen=True)
class Box:
    label: str
    left: float
    top: float
    width: float
    height: float


@dataclass
class Line:
    """One manifest line as read: the JSON (with any errors added), and what it labels."""

    index: int  # 0-based position in its manifest
    json: dict[str, Any]
    source_ref: str | None = None
    dropped: str | None = None  # the code of a content error that removes it from a dataset
    image_labels: list[str] = field(default_factory=list)  # classification attributes
    boxes: list[Box] = field(default_factory=list)  # valid detection boxes
    image_size: tuple[int, int] | None = None  # (width, height) from a detection attribute
    detection_attributes: int = 0  # detection attributes present (valid or not)
    classification_attributes: int = 0
    moderation: bool = False  # an adapter's line: image_labels are moderation labels

    @property
    def bucket(self) -> str | None:
        m = _S3_URL.match(self.source_ref or "")
        return m.group(1) if m else None

    @property
    def key(self) -> str | None:
        m = _S3_URL.match(self.source_ref or "")
        return m.group(2) if m else None

    @property
    def labels(self) -> list[str]:
        """Every label of the line: image-level ones, then those of its boxes, each once."""
        return list(dict.fromkeys(self.image_labels + [b.label for b in self.boxes]))

    def labels_for(self, use_case: str | None) -> list[str]:
        """The labels a model of `use_case` learns from this line (all of them for None):
        a line may carry both kinds, and a model uses only its own."""
        if use_case == IMAGE_LEVEL:
            return list(self.image_labels)
        if use_case == OBJECT_LOCALIZATION:
            return list(dict.fromkeys(b.label for b in self.boxes))
        return self.labels

    @property
    def labeled(self) -> bool:
        # An adapter's line with an empty label list is labelled too: "nothing to flag".
        return bool(self.image_labels or self.boxes) or self.moderation

    @property
    def has_errors(self) -> bool:
        return _has_errors(self.json)

    @property
    def ignored(self) -> bool:
        """A line that is valid but carries nothing to learn from (warnings only)."""
        return not self.labeled and not self.has_errors

    def use_cases(self) -> set[str]:
        out = set()
        if self.image_labels:
            out.add(IMAGE_LEVEL)
        if self.boxes:
            out.add(OBJECT_LOCALIZATION)
        return out


def _has_errors(node: Any) -> bool:
    if isinstance(node, dict):
        return bool(node.get("errors")) or any(_has_errors(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_errors(v) for v in node)
    return False


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_line(text: str, index: int) -> Line:
    """Read one manifest line (see the module docstring); never raises."""
    if len(text) > MAX_LINE_CHARS:
        return Line(index, {"errors": [problem("ERROR_JSON_LINE_TOO_LONG")]}, dropped="ERROR_JSON_LINE_TOO_LONG")  # fmt: skip
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        # The service replaces such a line by one holding only the error.
        return Line(index, {"errors": [problem("ERROR_INVALID_JSON_LINE")]}, dropped="ERROR_INVALID_JSON_LINE")  # fmt: skip
    data = copy.deepcopy(data)
    for key in ("errors", "warnings"):  # a line read back from a validation manifest
        data.pop(key, None)
    line = Line(index, data)
    ref = data.get("source-ref")
    if ref is None:
        _add(data, "ERROR_MISSING_SOURCE_REF")
        line.dropped = "ERROR_MISSING_SOURCE_REF"
        return line
    if not isinstance(ref, str) or not _S3_URL.match(ref):
        _add(data, "ERROR_INVALID_SOURCE_REF_FORMAT")
        line.dropped = "ERROR_INVALID_SOURCE_REF_FORMAT"
        return line
    line.source_ref = ref
    _read_attributes(line)
    return line


def _read_attributes(line: Line) -> None:
    data = line.json
    if MODERATION_KEY in data:
        _moderation(line, data[MODERATION_KEY])
        return
    names = [k for k in data if k not in RESERVED_KEYS and not k.endswith("-metadata")]
    pairs = [k for k in names if f"{k}-metadata" in data]
    if not names:
        _add(data, "WARNING_UNANNOTATED_RECORD")
        return
    if not pairs:
        _add(data, "ERROR_NO_LABEL_ATTRIBUTES")
        return
    valid = 0
    empty_detection = 0
    for attr in pairs:
        meta = data[f"{attr}-metadata"]
        if not isinstance(meta, dict):
            _add(data, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT")
            continue
        kind = meta.get("type")
        if kind == CLASSIFICATION_TYPE:
            line.classification_attributes += 1
            valid += _classification(line, attr, meta)
        elif kind == DETECTION_TYPE:
            line.detection_attributes += 1
            outcome = _detection(line, attr, meta)
            valid += outcome == "valid"
            empty_detection += outcome == "empty"
        elif kind is None or not isinstance(kind, str):
            _add(meta, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT")
        else:
            _add(meta, "ERROR_UNSUPPORTED_USE_CASE_TYPE")
    if len(line.labels) > MAX_LABELS_PER_IMAGE:
        # (unconfirmed which code AWS uses; the limit is documented: 50 labels an image)
        _add(data, "ERROR_NO_VALID_LABEL_ATTRIBUTES")
        line.image_labels, line.boxes = [], []
        return
    if valid == 0:
        if empty_detection and empty_detection == line.detection_attributes and not line.classification_attributes:  # fmt: skip
            _add(data, "WARNING_NO_ANNOTATIONS")  # human-annotated, no boxes: ignored
        else:
            _add(data, "ERROR_NO_VALID_LABEL_ATTRIBUTES")


def _moderation(line: Line, value: Any) -> None:
    labels = value.get("ModerationLabels") if isinstance(value, dict) else None
    if not isinstance(labels, list) or not all(isinstance(x, dict) for x in labels):
        _add(line.json, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", MODERATION_KEY)
        return
    for entry in labels:
        if not _label_name_ok(entry, entry.get("Name")):
            return
    line.moderation = True
    line.image_labels = list(dict.fromkeys(entry["Name"] for entry in labels))


def _label_name_ok(scope: dict, name: Any) -> bool:
    if not isinstance(name, str) or not name.strip():
        _add(scope, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT")
        return False
    if len(name) > MAX_LABEL_NAME:
        _add(scope, "ERROR_INVALID_LABEL_NAME_LENGTH")
        return False
    return True


def _classification(line: Line, attr: str, meta: dict) -> bool:
    value = line.json.get(attr)
    if not _number(value):
        _add(line.json, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", attr)
        return False
    name = meta.get("class-name")
    if not _label_name_ok(meta, name):
        return False
    if name not in line.image_labels:
        line.image_labels.append(name)
    return True


def _detection(line: Line, attr: str, meta: dict) -> str:
    """Read one detection attribute: "valid" (some box kept), "empty" (no boxes), "invalid"."""
    value = line.json.get(attr)
    annotations = value.get("annotations") if isinstance(value, dict) else None
    sizes = value.get("image_size") if isinstance(value, dict) else None
    size = sizes[0] if isinstance(sizes, list) and sizes and isinstance(sizes[0], dict) else None
    if (
        not isinstance(annotations, list)
        or size is None
        or not _number(size.get("width"))
        or not _number(size.get("height"))
    ):
        _add(line.json, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", attr)
        return "invalid"
    class_map, objects = meta.get("class-map"), meta.get("objects")
    if not isinstance(class_map, dict) or not isinstance(objects, list):
        _add(meta, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT")
        return "invalid"
    width, height = float(size["width"]), float(size["height"])
    line.image_size = (int(width), int(height))
    if not annotations:
        _add(value, "WARNING_NO_ATTRIBUTE_ANNOTATIONS")
        return "empty"
    if len(annotations) > MAX_BOXES:
        _add(value, "ERROR_TOO_MANY_BOUNDING_BOXES")
        return "invalid"
    kept = 0
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            _add(value, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", attr)
            continue
        box = [ann.get(k) for k in ("left", "top", "width", "height")]
        obj = objects[i] if i < len(objects) else None
        if not all(_number(v) for v in box):
            _add(ann, "ERROR_INVALID_BOUNDING_BOX")
            continue
        left, top, w, h = (float(v) for v in box)
        if str(ann.get("class_id")) not in class_map:
            _add(ann, "ERROR_MISSING_CLASS_MAP_ID")
            continue
        if not isinstance(obj, dict) or not _number(obj.get("confidence")):
            _add(ann, "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE")
            continue
        if left < 0 or top < 0 or w < 0 or h < 0 or left + w > width or top + h > height:
            _add(ann, "ERROR_INVALID_BOUNDING_BOX")
            continue
        if w <= 1 or h <= 1:
            _add(ann, "ERROR_BOUNDING_BOX_TOO_SMALL")
            continue
        name = class_map[str(ann.get("class_id"))]
        if not _label_name_ok(ann, name):
            continue
        line.boxes.append(Box(name, left, top, w, h))
        kept += 1
    if not kept:
        _add(value, "ERROR_NO_VALID_ANNOTATIONS")
        return "invalid"
    return "valid"


@dataclass
class Manifest:
    lines: list[Line]  # every line read, dropped ones included, in file order
    total_lines: int

    @property
    def kept(self) -> list[Line]:
        return [line for line in self.lines if line.dropped is None]

    @property
    def dropped(self) -> list[Line]:
        return [line for line in self.lines if line.dropped is not None]


def parse_manifest(text: str) -> Manifest:
    """Read every non-blank line; a `source-ref` seen before is dropped (an image can be
    referenced once in a dataset)."""
    lines: list[Line] = []
    seen: set[str] = set()
    for raw in text.splitlines():
        if not raw.strip():
            continue
        line = parse_line(raw, len(lines))
        if line.dropped is None and line.source_ref in seen:
            _add(line.json, "ERROR_DUPLICATE_SOURCE_REF")
            line.dropped = "ERROR_DUPLICATE_SOURCE_REF"
        if line.source_ref and line.dropped is None:
            seen.add(line.source_ref)
        lines.append(line)
    return Manifest(lines, len(lines))


def decode(data: bytes) -> str | None:
    """The manifest's text, or None when it is not UTF-8 text (a binary or foreign file)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def select_use_case(lines: list[Line]) -> str:
    """The dataset's use case: the kind most labelled lines have (ties: image level, the
    simpler model), NOT_DETERMINED when no line is labelled."""
    image = sum(1 for line in lines if line.image_labels)
    objects = sum(1 for line in lines if line.boxes)
    if not image and not objects:
        return NOT_DETERMINED
    return OBJECT_LOCALIZATION if objects > image else IMAGE_LEVEL


def entry_json(line: Line) -> str:
    """The JSON string ListDatasetEntries answers for a line (with the `is_labeled` flag)."""
    data = dict(line.json)
    data["cl-metadata"] = {"is_labeled": line.labeled}
    return json.dumps(data, separators=(",", ":"))
