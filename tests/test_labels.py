"""DetectLabels through boto3 against a live emulator: what it names, where, and how it looks.

Every call goes through a client that checks the raw JSON body against the service model.
"""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest
import skimage.data

from rekognition_emulator.handlers._colors import palette
from tests import groundtruth as gt
from tests.conftest import REPO, make_client
from tests.conftest import jpeg as encode_jpeg
from tests.shape_check import validate_responses


def jpeg(rgb: np.ndarray) -> bytes:
    return encode_jpeg(rgb, quality=92)


@pytest.fixture(scope="module")
def client(endpoint):
    return validate_responses(make_client("rekognition", endpoint))


@pytest.fixture(scope="module")
def detector_available() -> bool:
    from rekognition_emulator.models import labels as scene

    # None only where npm cannot fetch the model (documented); any other load error fails.
    return scene.default_detector() is not None


def named(resp: dict) -> dict[str, dict]:
    return {label["Name"]: label for label in resp["Labels"]}


@pytest.fixture(scope="module")
def chelsea(client):
    return client.detect_labels(Image={"Bytes": jpeg(skimage.data.chelsea())})


@pytest.fixture(scope="module")
def coffee_all(client):
    return client.detect_labels(
        Image={"Bytes": jpeg(skimage.data.coffee())},
        Features=["GENERAL_LABELS", "IMAGE_PROPERTIES"],
    )


def test_cat_comes_with_animal_mammal_pet(chelsea):
    labels = named(chelsea)
    assert "Cat" in labels and labels["Cat"]["Confidence"] >= 95  # README: Cat 98
    assert {"Animal", "Mammal", "Pet"} <= set(labels)
    assert {"Animal", "Mammal", "Pet"} <= {p["Name"] for p in labels["Cat"]["Parents"]}
    assert labels["Cat"]["Categories"] == [{"Name": "Animals and Pets"}]
    assert chelsea["LabelModelVersion"] == "3.0"


def test_parents_are_listed_alphabetically_and_at_least_as_confident(chelsea, coffee_all):
    for resp in (chelsea, coffee_all):
        labels = named(resp)
        for label in resp["Labels"]:
            parents = [p["Name"] for p in label["Parents"]]
            assert parents == sorted(parents)
            for p in parents:
                assert p in labels, (label["Name"], p)
                assert labels[p]["Confidence"] >= label["Confidence"] - 1e-3


def test_labels_are_sorted_by_confidence(chelsea):
    conf = [label["Confidence"] for label in chelsea["Labels"]]
    assert conf == sorted(conf, reverse=True)
    assert all(55 <= c <= 100 for c in conf)


def test_coffee_is_a_cup_of_coffee(coffee_all):
    labels = named(coffee_all)
    # README: Espresso and Coffee 97, with Cup.
    assert {"Coffee", "Espresso", "Cup"} <= set(labels), list(labels)
    assert min(labels["Coffee"]["Confidence"], labels["Espresso"]["Confidence"]) >= 95


def test_astronaut_is_one_person_with_one_instance(client):
    resp = client.detect_labels(Image={"Bytes": jpeg(skimage.data.astronaut())})
    person = named(resp)["Person"]
    assert len(person["Instances"]) == 1
    box = person["Instances"][0]["BoundingBox"]
    assert 0 <= box["Left"] < 0.5 and 0 <= box["Top"] < 0.5
    assert box["Width"] > 0.3 and box["Height"] > 0.3
    assert person["Aliases"] == [{"Name": "Human"}]


def test_motorcycle(client):
    try:
        left = skimage.data.stereo_motorcycle()[0]
    except Exception as exc:  # fetched by pooch on first use
        pytest.skip(f"skimage motorcycle photo unavailable: {exc}")
    resp = client.detect_labels(Image={"Bytes": jpeg(left)})
    labels = named(resp)
    assert "Motorcycle" in labels and labels["Motorcycle"]["Confidence"] >= 95  # README: 99
    assert {"Transportation", "Vehicle"} <= set(labels)


def test_min_confidence_and_max_labels(client):
    data = jpeg(skimage.data.chelsea())
    low = client.detect_labels(Image={"Bytes": data}, MinConfidence=20)
    high = client.detect_labels(Image={"Bytes": data}, MinConfidence=90)
    assert len(low["Labels"]) > len(high["Labels"]) > 0
    assert all(label["Confidence"] >= 90 for label in high["Labels"])
    assert client.detect_labels(Image={"Bytes": data}, MaxLabels=0)["Labels"] == []
    two = client.detect_labels(Image={"Bytes": data}, MinConfidence=20, MaxLabels=2)
    assert [label["Name"] for label in two["Labels"]] == [
        label["Name"] for label in low["Labels"][:2]
    ]


def test_inclusion_and_exclusion_filters(client):
    data = jpeg(skimage.data.chelsea())
    only_cat = client.detect_labels(
        Image={"Bytes": data}, Settings={"GeneralLabels": {"LabelInclusionFilters": ["Cat"]}}
    )
    assert [label["Name"] for label in only_cat["Labels"]] == ["Cat"]
    no_pet = client.detect_labels(
        Image={"Bytes": data}, Settings={"GeneralLabels": {"LabelExclusionFilters": ["Pet"]}}
    )
    assert "Pet" not in named(no_pet) and "Cat" in named(no_pet)
    animals = client.detect_labels(
        Image={"Bytes": data},
        Settings={"GeneralLabels": {"LabelCategoryInclusionFilters": ["Animals and Pets"]}},
    )
    assert all(label["Categories"] == [{"Name": "Animals and Pets"}] for label in animals["Labels"])
    not_animals = client.detect_labels(
        Image={"Bytes": data},
        Settings={"GeneralLabels": {"LabelCategoryExclusionFilters": ["Animals and Pets"]}},
    )
    assert "Cat" not in named(not_animals)


def test_image_properties(coffee_all):
    props = coffee_all["ImageProperties"]
    quality = props["Quality"]
    assert set(quality) == {"Brightness", "Sharpness", "Contrast"}
    assert all(0 <= v <= 100 for v in quality.values())
    css = {c.name: c for c in palette()[0]}
    for colors in (props["DominantColors"], props["Foreground"]["DominantColors"]):
        assert 0 < len(colors) <= 10
        assert sum(c["PixelPercent"] for c in colors) <= 100.01
        for c in colors:
            ref = css[c["CSSColor"]]
            assert (c["Red"], c["Green"], c["Blue"]) == ref.rgb
            assert c["HexCode"] == ref.hex
            assert c["SimplifiedColor"] in {
                "black", "white", "grey", "red", "orange", "yellow", "green", "blue",
                "purple", "pink", "brown",
            }  # fmt: skip
    assert set(props["Foreground"]["Quality"]) == {"Brightness", "Sharpness"}
    assert set(props["Background"]["Quality"]) == {"Brightness", "Sharpness"}
    # Labels with boxes carry their own colours when both features are asked for.
    for label in coffee_all["Labels"]:
        for inst in label["Instances"]:
            assert "DominantColors" in inst


def test_image_properties_alone_and_colour_count(client):
    data = jpeg(skimage.data.coffee())
    resp = client.detect_labels(
        Image={"Bytes": data},
        Features=["IMAGE_PROPERTIES"],
        Settings={"ImageProperties": {"MaxDominantColors": 3}},
    )
    assert "Labels" not in resp
    assert 0 < len(resp["ImageProperties"]["DominantColors"]) <= 3
    none = client.detect_labels(
        Image={"Bytes": data},
        Features=["IMAGE_PROPERTIES"],
        Settings={"ImageProperties": {"MaxDominantColors": 0}},
    )
    assert none["ImageProperties"]["DominantColors"] == []


def test_brightness_follows_the_picture(client):
    grey = np.random.default_rng(0).integers(0, 40, (240, 320, 3)).astype(np.uint8)
    dark = client.detect_labels(Image={"Bytes": jpeg(grey)}, Features=["IMAGE_PROPERTIES"])
    light = client.detect_labels(Image={"Bytes": jpeg(255 - grey)}, Features=["IMAGE_PROPERTIES"])
    assert dark["ImageProperties"]["Quality"]["Brightness"] < 20
    assert light["ImageProperties"]["Quality"]["Brightness"] > 80


def test_same_image_same_answer(client):
    data = jpeg(skimage.data.coffee())
    a = client.detect_labels(Image={"Bytes": data}, Features=["GENERAL_LABELS", "IMAGE_PROPERTIES"])
    b = client.detect_labels(Image={"Bytes": data}, Features=["GENERAL_LABELS", "IMAGE_PROPERTIES"])
    a.pop("ResponseMetadata")
    b.pop("ResponseMetadata")
    assert a == b


# --- COCO8: real photos with annotated objects --------------------------------------------


def _coco_labels() -> dict[str, str]:
    with open(REPO / "handlers" / "data" / "coco_labels.tsv", encoding="utf-8") as f:
        return {r["coco_name"]: r["label"] for r in csv.DictReader(f, delimiter="\t")}


def _coco8(testdata):
    folder = testdata / "objects" / "coco8"
    names = [
        line.split("\t")[1].strip() for line in (folder / "classes.txt").read_text().splitlines()
    ]
    for jpg in sorted(folder.glob("*.jpg")):
        h, w = cv2.imread(str(jpg)).shape[:2]
        boxes = []
        for line in (jpg.with_suffix(".txt")).read_text().split("\n"):
            if line.strip():
                c, cx, cy, bw, bh = (float(v) for v in line.split())
                boxes.append((names[int(c)], (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)))
        yield jpg, boxes, (w, h)


@pytest.fixture(scope="module")
def coco8_answers(client, testdata, detector_available):
    if not detector_available:
        gt.skip_or_fail("the COCO detector (NanoDet) is unavailable here: its model needs npm")
    return [
        (boxes, size, client.detect_labels(Image={"Bytes": jpg.read_bytes()}))
        for jpg, boxes, size in _coco8(testdata)
    ]


def test_coco8_annotated_classes_are_named(coco8_answers):
    mapping = _coco_labels()
    wanted, found = set(), set()
    for boxes, _, resp in coco8_answers:
        names = set(named(resp))
        for cls, _ in boxes:
            wanted.add(cls)
            if mapping[cls] in names:
                found.add(cls)
    assert len(found) / len(wanted) >= 0.6, sorted(wanted - found)


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


def _person_recall(coco8_answers, threshold: float) -> float:
    hits = total = 0
    for boxes, _, resp in coco8_answers:
        person = named(resp).get("Person", {"Instances": []})
        found = [
            (b["Left"], b["Top"], b["Left"] + b["Width"], b["Top"] + b["Height"])
            for b in (i["BoundingBox"] for i in person["Instances"])
        ]
        for cls, truth in boxes:
            if cls == "person":
                total += 1
                hits += any(_iou(f, truth) >= threshold for f in found)
    return hits / total


def test_coco8_people_are_found_roughly(coco8_answers):
    # Four of COCO8's ten annotated people are under 35 px tall (riders far away); NanoDet
    # finds most people but places small ones loosely. Measured: 0.8 at IoU 0.3.
    assert _person_recall(coco8_answers, 0.3) >= 0.6


@pytest.fixture(scope="module")
def shared_photo_figures(client, testdata, detector_available):
    """scripts/label_recall.py's figures, through the server (PNG bytes: pixels unchanged)."""
    if not detector_available:
        gt.skip_or_fail("the COCO detector (NanoDet) is unavailable here: its model needs npm")
    module = gt.measurement_script("label_recall")

    def detect(rgb):
        ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        return client.detect_labels(Image={"Bytes": png.tobytes()})["Labels"]

    return module.measure(testdata, detect)


def test_coco8_people_match_at_iou_half_on_perturbed_copies(shared_photo_figures):
    # README: Person instances against COCO8's 10 annotated people at IoU 0.5 on copies the
    # second look was not tuned on (JPEG q95, 0.8x, a 5 % crop, a mirror image): 25 of 40
    # (0.62); 8 of 10 on the photos as they are (the photos the constants were tuned on, so
    # only the perturbed figure is asserted).
    people = shared_photo_figures["people"]
    hit = sum(people[k][0] for k in people if k != "as is")
    total = sum(people[k][1] for k in people if k != "as is")
    assert total == 40 and hit / total >= 0.55


def test_label_recall_on_the_shared_photos(shared_photo_figures):
    # README: COCO8 photo-class pairs named 13 of 15 with 3 labels of COCO classes the photo
    # does not hold (before the detector boxes were cross-checked: 6, before animals the
    # detector named otherwise were taken from the classifier: 5); the shared object photos'
    # human labels 12 of 20.
    f = shared_photo_figures
    assert f["coco8_pairs"] == 15 and f["coco8_found"] >= 13
    assert f["coco8_false"] <= 3
    assert f["objects_wanted"] == 20 and f["objects_found"] >= 12


def test_a_box_the_classifier_plainly_sees_as_another_animal_is_renamed(
    client, testdata, detector_available
):
    # COCO8 000000000042 is a dog; NanoDet boxes it as a cat (0.52). The classifier on the
    # box's crop reads Dog 0.91 and Cat 0.001: the box is a Dog instance, and no Cat remains.
    if not detector_available:
        gt.skip_or_fail("the COCO detector (NanoDet) is unavailable here: its model needs npm")
    data = (testdata / "objects" / "coco8" / "000000000042.jpg").read_bytes()
    labels = named(client.detect_labels(Image={"Bytes": data}))
    assert "Cat" not in labels
    assert len(labels["Dog"]["Instances"]) == 1


def test_horses_with_riders_are_horses_not_dogs(client, testdata, detector_available):
    # COCO8 000000000049: riders on two horses. ImageNet has one horse class, so the
    # whole-frame classifier spreads the horses over dog breeds (Dog 83 before); the detector
    # boxes two horses, and that is what the answer says.
    if not detector_available:
        gt.skip_or_fail("the COCO detector (NanoDet) is unavailable here: its model needs npm")
    data = (testdata / "objects" / "coco8" / "000000000049.jpg").read_bytes()
    labels = named(client.detect_labels(Image={"Bytes": data}))
    assert len(labels["Horse"]["Instances"]) == 2
    assert not {"Dog", "Canine", "Pet", "Cattle"} & set(labels)


def test_giraffes_are_not_called_zebras(client, testdata, detector_available):
    # COCO8 000000000025: a giraffe. ImageNet has no giraffe class: its nearest is the zebra.
    if not detector_available:
        gt.skip_or_fail("the COCO detector (NanoDet) is unavailable here: its model needs npm")
    data = (testdata / "objects" / "coco8" / "000000000025.jpg").read_bytes()
    labels = named(client.detect_labels(Image={"Bytes": data}))
    assert labels["Giraffe"]["Instances"] and "Zebra" not in labels


# --- honest failures and honest numbers ----------------------------------------------------

_BROKEN_DETECTOR = """
import importlib.abc, importlib.util, sys

class _Break(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "rekognition_emulator.models.labels.detector":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)

            def detect(self, rgb):
                raise RuntimeError("the COCO detector broke")

            module.ObjectDetector.detect = detect

        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _Break())
"""


def test_a_broken_detector_is_an_internal_error_not_fewer_labels(tmp_path, detector_available):
    # Only a model that cannot be had (NanoDet without npm) may be answered without; a model
    # that fails while running fails the request.
    from botocore.exceptions import ClientError

    from tests.wire import CheckedServer

    if not detector_available:
        gt.skip_or_fail("the COCO detector (NanoDet) is unavailable here: its model needs npm")
    (tmp_path / "sitecustomize.py").write_text(_BROKEN_DETECTOR)
    server = CheckedServer(env={"PYTHONPATH": str(tmp_path)})
    server.start()
    try:
        client = make_client("rekognition", server.endpoint)
        with pytest.raises(ClientError) as caught:
            client.detect_labels(Image={"Bytes": jpeg(skimage.data.chelsea())})
        assert caught.value.response["Error"]["Code"] == "InternalServerError"
        assert "Traceback" not in caught.value.response["Error"]["Message"]
    finally:
        server.cleanup()


def test_confidences_on_the_shared_photos_sit_at_no_cap(client, testdata):
    # Every label's confidence comes from its own model score through a saturating map: no
    # value sits at a ceiling, and unrelated labels do not share a value (before: 27 of 234
    # labels on these photos sat at exactly 99.9000015, e.g. Zebra, Animal, Mammal, Wildlife).
    photos = sorted((testdata / "objects").glob("*.*")) + sorted(
        (testdata / "objects" / "coco8").glob("*.jpg")
    )
    photos = [p for p in photos if p.suffix in (".jpg", ".png")]
    assert len(photos) >= 14
    shared = total = 0
    for path in photos:
        labels = client.detect_labels(Image={"Bytes": path.read_bytes()}, MinConfidence=1)["Labels"]
        assert labels, path.name
        family = {
            label["Name"]: {label["Name"], *(p["Name"] for p in label["Parents"])}
            for label in labels
        }
        for label in labels:
            assert 0 < label["Confidence"] < 100, (path.name, label["Name"], label["Confidence"])
            for inst in label["Instances"]:
                assert 0 < inst["Confidence"] < 100
        for i, a in enumerate(labels):
            for b in labels[i + 1 :]:
                # Related: one is the other's ancestor, or both are ancestors of one label
                # (siblings that both take a child's confidence).
                related = any({a["Name"], b["Name"]} <= f for f in family.values())
                if not related:
                    total += 1
                    shared += a["Confidence"] == b["Confidence"]
    assert total > 100
    assert shared == 0
