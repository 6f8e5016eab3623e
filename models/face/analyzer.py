"""One facade over the face models: detect faces, then analyse each face lazily.

    from rekognition_emulator.models.face.analyzer import default_analyzer
    faces = default_analyzer().detect(rgb)          # largest first, at most 100
    face = faces[0]
    face.box, face.score                            # detector output (pixels, 0..1)
    face.pose.yaw, face.quality.sharpness           # computed on first access, then cached
    face.embedding                                  # 128 floats, unit length

Every per-face value is a `functools.cached_property`: a model runs at most once per face,
only when something asks for what it produces, and every attribute that needs the same
intermediate (the mesh, the aligned chip, the iris) shares it. DetectFaces with DEFAULT
attributes therefore runs the detector and the mesh only; ALL adds the iris, age/gender and
expression networks; CompareFaces adds the embedder. Models are loaded once per process
through `models.runtime` (lazily, thread-safe).

A `Face` belongs to the request that made it: it is not meant to be shared between threads.
"""

from __future__ import annotations

import threading
from functools import cached_property

import numpy as np

from rekognition_emulator.models.face import attributes, orientation
from rekognition_emulator.models.face.age_gender import AgeGender, AgeGenderModel
from rekognition_emulator.models.face.attributes import (
    Chip,
    ChipStats,
    FacialHair,
    Gaze,
    Spectacles,
)
from rekognition_emulator.models.face.detector import Detection, FaceDetector
from rekognition_emulator.models.face.embedder import DlibEmbedder, FaceEmbedder, aligned_crop
from rekognition_emulator.models.face.emotion import EmotionModel, Expression
from rekognition_emulator.models.face.mesh import FaceMesh, Iris, IrisModel, Mesh, mesh_eye_line
from rekognition_emulator.models.face.pose import HeadPose, head_pose
from rekognition_emulator.models.face.quality import Quality, measure

# Rekognition promises faces down to 40 px in a 1920 px wide photo: the same fraction of the
# longer side, and never under 10 px, where neither the detector nor the mesh can be trusted.
MIN_FACE_FRACTION = 40.0 / 1920.0
MIN_FACE_PX = 10.0
# A weak detection that the mesh model also rejects as a face is dropped. Real faces score
# presence >= 0.999 on the test photos (even behind hair), false detections 0.007-0.02.
WEAK_SCORE = 0.8
MIN_PRESENCE = 0.1
MAX_FACES = 100
# A face whose mesh is tilted this much more than YuNet's points is detected again level.
LEVEL_TOLERANCE = np.radians(6.0)


class Face:
    """One detected face of one photo, with every analysis computed on demand."""

    def __init__(self, analyzer: FaceAnalyzer, rgb: np.ndarray, detection: Detection) -> None:
        self._analyzer = analyzer
        self._rgb = rgb
        self.detection = detection

    # --- detector ------------------------------------------------------------------------
    @property
    def box(self) -> tuple[float, float, float, float]:
        """x, y, width, height in image pixels (may reach outside the image)."""
        return self.detection.box

    @property
    def score(self) -> float:
        return self.detection.score

    @property
    def points5(self) -> np.ndarray:
        """Detector's 5 points: subject's right eye, left eye, nose tip, right, left mouth corner."""
        return self.detection.points

    @cached_property
    def roll_hint(self) -> float:
        """Tilt of the eye line from the detector's points, radians (used to crop upright)."""
        p = self.detection.points
        return float(np.arctan2(p[1, 1] - p[0, 1], p[1, 0] - p[0, 0]))

    # --- mesh and what is read from it ---------------------------------------------------
    @cached_property
    def mesh(self) -> Mesh:
        return self._analyzer.run_mesh(self._rgb, self.box, self.roll_hint)

    @property
    def presence(self) -> float:
        return self.mesh.presence

    @cached_property
    def pose(self) -> HeadPose:
        return head_pose(self.mesh.points)

    @cached_property
    def chip(self) -> Chip:
        return attributes.make_chip(self._rgb, self.mesh.points)

    @cached_property
    def chip_stats(self) -> ChipStats:
        return attributes.chip_stats(self.chip)

    @cached_property
    def quality(self) -> Quality:
        return measure(self.chip)

    @cached_property
    def iris(self) -> tuple[Iris, Iris]:
        """(subject's right eye, subject's left eye)."""
        return self._analyzer.run_iris(self._rgb, self.mesh)

    @cached_property
    def landmarks(self) -> dict[str, np.ndarray]:
        """Named points in image pixels. "left"/"right" are the viewer's (image) sides.

        The five points that are also in the detector's output come from the detector, so a
        light request (no mesh) and a full one agree on them.
        """
        return named_landmarks(self)

    # --- networks ------------------------------------------------------------------------
    @cached_property
    def age_gender(self) -> AgeGender:
        return self._analyzer.run_age_gender(self._rgb, self.mesh.points)

    @cached_property
    def expression(self) -> Expression:
        return self._analyzer.run_emotion(self._rgb, self.box, self.roll_hint)

    @cached_property
    def embedding(self) -> np.ndarray:
        """128 floats, unit length: cosine similarity of two faces is their dot product."""
        return self._analyzer.run_embedding(self._rgb, self.detection.points)

    @cached_property
    def dlib_embedding(self) -> np.ndarray:
        """dlib ResNet's 128 floats (flip-averaged, unit length): a second, independent
        embedding, measured beside SFace (not used for matching by default)."""
        return self._analyzer.run_dlib_embedding(self._rgb, self.mesh.points)

    # --- derived attributes (probabilities 0..1) ------------------------------------------
    @cached_property
    def eyes_open(self) -> float:
        return attributes.eyes_open(*self.iris)

    @cached_property
    def mouth_open(self) -> float:
        return attributes.mouth_open(self.mesh.points)

    @cached_property
    def smile(self) -> float:
        return attributes.smile(self.chip, self.expression.probabilities["happy"])

    @cached_property
    def gaze(self) -> Gaze:
        return attributes.gaze(*self.iris, self.pose.yaw, self.pose.pitch, self.eyes_open)

    @cached_property
    def spectacles(self) -> Spectacles:
        return attributes.spectacles(self.chip, self.chip_stats)

    @cached_property
    def facial_hair(self) -> FacialHair:
        return attributes.facial_hair(self.chip, self.chip_stats)

    @cached_property
    def occlusion_signals(self) -> attributes.OcclusionSignals:
        return attributes.occlusion_signals(
            self.chip,
            self.chip_stats,
            self.mesh.points,
            self.points5,
            self.presence,
            self.box,
            self._rgb.shape[:2],
        )

    @cached_property
    def occluded(self) -> float:
        return attributes.occlusion(self.occlusion_signals)


# Mesh indices of the named points (MediaPipe topology); "left" = image left.
MESH_LANDMARKS = {
    "left_brow_left": 70,
    "left_brow_right": 107,
    "left_brow_up": 105,
    "right_brow_left": 336,
    "right_brow_right": 300,
    "right_brow_up": 334,
    "left_eye_left": 33,
    "left_eye_right": 133,
    "left_eye_up": 159,
    "left_eye_down": 145,
    "right_eye_left": 362,
    "right_eye_right": 263,
    "right_eye_up": 386,
    "right_eye_down": 374,
    "nose_left": 129,
    "nose_right": 358,
    "mouth_up": 0,
    "mouth_down": 17,
    "upper_jaw_left": 234,
    "mid_jaw_left": 172,
    "chin_bottom": 152,
    "mid_jaw_right": 397,
    "upper_jaw_right": 454,
}
DETECTOR_LANDMARKS = ("eye_left", "eye_right", "nose", "mouth_left", "mouth_right")
ALL_LANDMARKS = (*DETECTOR_LANDMARKS, *MESH_LANDMARKS, "left_pupil", "right_pupil")


def named_landmarks(face: Face, names: tuple[str, ...] = ALL_LANDMARKS) -> dict[str, np.ndarray]:
    """The requested named points; only the models those names need are run."""
    out: dict[str, np.ndarray] = {}
    p = face.points5
    # The detector's subject-right eye is the image-left one for a face towards the camera;
    # order by x so that "left" is the image left even for an unusual pose.
    eyes = sorted((p[0], p[1]), key=lambda v: v[0])
    mouth = sorted((p[3], p[4]), key=lambda v: v[0])
    detector = {
        "eye_left": eyes[0],
        "eye_right": eyes[1],
        "nose": p[2],
        "mouth_left": mouth[0],
        "mouth_right": mouth[1],
    }
    for name in names:
        if name in detector:
            out[name] = np.asarray(detector[name], dtype=np.float64)
        elif name in MESH_LANDMARKS:
            out[name] = face.mesh.points[MESH_LANDMARKS[name], :2].copy()
        elif name in ("left_pupil", "right_pupil"):
            right_eye, left_eye = face.iris
            pupils = sorted((right_eye.center, left_eye.center), key=lambda v: v[0])
            out[name] = np.asarray(pupils[0 if name == "left_pupil" else 1], dtype=np.float64)
        else:
            raise KeyError(f"unknown landmark {name!r}")
    return out


class FaceAnalyzer:
    """Owns the (lazily loaded, process-wide) face models and runs them for `Face` objects."""

    def __init__(self, store=None) -> None:  # store: models.store.ModelStore | None
        self._store = store

    # --- model access through models.runtime ----------------------------------------------
    def _shared(self, name: str, factory):
        from rekognition_emulator.models import runtime

        return runtime.shared(name, factory, store=self._store)

    def _session(self, name: str):
        """The shared, thread-safe onnxruntime session of a face model."""
        from rekognition_emulator.models import runtime

        return runtime.onnx_session(name, store=self._store)

    def run_detector(self, rgb: np.ndarray) -> list[Detection]:
        """YuNet on the photo as it is (upright faces; points as YuNet places them)."""
        with self._shared("yunet", FaceDetector).use() as detector:
            return detector.detect(rgb)

    def run_detector_any_rotation(self, rgb: np.ndarray) -> list[Detection]:
        """Faces at any in-plane rotation, points in anatomical order (`orientation`)."""
        with self._shared("yunet", FaceDetector).use() as detector:
            return orientation.find_faces(rgb, detector.detect)

    def run_mesh(self, rgb: np.ndarray, box, roll: float) -> Mesh:
        with self._shared("face_mesh", FaceMesh).use() as mesh:
            return mesh.run(rgb, box, roll)

    def run_iris(self, rgb: np.ndarray, mesh: Mesh) -> tuple[Iris, Iris]:
        with self._shared("iris", IrisModel).use() as iris:
            return iris.run(rgb, mesh)

    def run_age_gender(self, rgb: np.ndarray, mesh_points: np.ndarray) -> AgeGender:
        model = AgeGenderModel(self._session("age"), self._session("gender"))
        return model.predict(rgb, [mesh_points])[0]

    def run_emotion(self, rgb: np.ndarray, box, roll: float) -> Expression:
        return EmotionModel(self._session("emotion")).predict(rgb, [(box, roll)])[0]

    def run_embedding(self, rgb: np.ndarray, points5: np.ndarray) -> np.ndarray:
        with self._shared("sface", FaceEmbedder).use() as embedder:
            return embedder.embed([aligned_crop(rgb, points5)])[0]

    def run_dlib_embedding(self, rgb: np.ndarray, mesh_points: np.ndarray) -> np.ndarray:
        return DlibEmbedder(self._session("dlib_resnet")).embed(rgb, [mesh_points])[0]

    def prefetch(
        self, faces: list[Face], *, age_gender: bool = False, expression: bool = False
    ) -> None:
        """Run the age/gender and expression networks for many faces in one batch each.

        Fills each face's cached value, so a later `face.age_gender` costs nothing; one
        batched run of N faces is much cheaper than N runs of one.
        """
        by_image: dict[int, list[Face]] = {}
        for face in faces:
            by_image.setdefault(id(face._rgb), []).append(face)
        for group in by_image.values():
            rgb = group[0]._rgb
            todo = [f for f in group if age_gender and "age_gender" not in f.__dict__]
            if todo:
                model = AgeGenderModel(self._session("age"), self._session("gender"))
                for face, result in zip(
                    todo, model.predict(rgb, [f.mesh.points for f in todo]), strict=True
                ):
                    face.__dict__["age_gender"] = result
            todo = [f for f in group if expression and "expression" not in f.__dict__]
            if todo:
                model = EmotionModel(self._session("emotion"))
                results = model.predict(rgb, [(f.box, f.roll_hint) for f in todo])
                for face, result in zip(todo, results, strict=True):
                    face.__dict__["expression"] = result

    def warm(self, *, full: bool = True) -> None:
        """Load the models now (server start) instead of on the first request."""
        probe = np.full((160, 160, 3), 128, dtype=np.uint8)
        self.run_detector(probe)
        self.run_mesh(probe, (40.0, 40.0, 80.0, 80.0), 0.0)
        if full:
            mesh = self.run_mesh(probe, (40.0, 40.0, 80.0, 80.0), 0.0)
            self.run_iris(probe, mesh)
            self.run_age_gender(probe, mesh.points)
            self.run_emotion(probe, (40.0, 40.0, 80.0, 80.0), 0.0)
            self.run_embedding(
                probe, np.array([[60, 70], [100, 70], [80, 90], [65, 110], [95, 110]], float)
            )

    def _level(self, face: Face) -> None:
        """Detect a tilted face again at the face mesh's tilt, so its points follow it.

        YuNet's points follow a tilted face only part of the way (a face turned by 45 degrees
        reads 0-30), and the embedding's alignment and the landmarks come from them. The mesh,
        run on a crop turned by YuNet's reading, measures the tilt within a few degrees up to
        45 degrees (median error 0.7 at 15, 3.4 at 45 after one more look).
        """
        for _ in range(2):
            tilt = mesh_eye_line(face.mesh.points)
            off = float(np.angle(np.exp(1j * (tilt - face.roll_hint))))
            if abs(off) <= LEVEL_TOLERANCE:
                return
            with self._shared("yunet", FaceDetector).use() as detector:
                again = orientation.redetect(face._rgb, face.detection, tilt, detector.detect)
            if again is None:
                return
            face.detection = again
            for key in ("roll_hint", "mesh"):  # both follow from the points
                face.__dict__.pop(key, None)

    # --- the public entry point ----------------------------------------------------------
    def detect(
        self, rgb: np.ndarray, *, max_faces: int = MAX_FACES, any_rotation: bool = True
    ) -> list[Face]:
        """Faces in an H x W x 3 uint8 RGB photo: the `max_faces` largest, largest first.

        `any_rotation=False` looks for upright faces only: a photo without an upright face
        is not searched again turned by 90, 180 and 270 degrees (a quarter of the cost on
        frames without faces, for callers that know their frames are upright)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError("expected an H x W x 3 uint8 RGB array")
        rgb = np.ascontiguousarray(rgb)
        h, w = rgb.shape[:2]
        min_side = max(MIN_FACE_PX, MIN_FACE_FRACTION * max(h, w))
        faces = []
        found = self.run_detector_any_rotation(rgb) if any_rotation else self.run_detector(rgb)
        for det in found:
            if min(det.box[2], det.box[3]) < min_side:
                continue
            face = Face(self, rgb, det)
            if det.score < WEAK_SCORE and face.presence < MIN_PRESENCE:
                continue
            self._level(face)
            faces.append(face)
        # Largest first; ties (identical sizes) by position so that the order is stable.
        faces.sort(key=lambda f: (-f.detection.area, f.box[1], f.box[0]))
        return faces[:max_faces]


_default: FaceAnalyzer | None = None
_default_lock = threading.Lock()


def default_analyzer() -> FaceAnalyzer:
    """The process-wide analyzer over the default model store."""
    global _default
    with _default_lock:
        if _default is None:
            _default = FaceAnalyzer()
        return _default


__all__ = [
    "ALL_LANDMARKS",
    "DETECTOR_LANDMARKS",
    "Face",
    "FaceAnalyzer",
    "MESH_LANDMARKS",
    "default_analyzer",
    "named_landmarks",
]
