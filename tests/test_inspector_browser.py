"""The inspector in a real browser (headless Chromium): real requests through boto3, then the
page's rendered DOM checked against the answers, and a screenshot of each view in
build/test-output/inspector/. Skips, saying why, where Chromium is absent."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import skimage.data

from rekognition_emulator.emulator.testing import EmulatorProcess
from tests.browser import chromium, screenshot, wait_for
from tests.conftest import REPO, jpeg, make_client
from tests.wire import CheckedServer

ASTRONAUT = jpeg(skimage.data.astronaut())
CAT = jpeg(skimage.data.chelsea())


def text_photo() -> bytes:
    canvas = np.full((300, 900, 3), 255, np.uint8)
    cv2.putText(canvas, "INSPECT ME", (40, 120), cv2.FONT_HERSHEY_SIMPLEX, 2.5, (0, 0, 0), 6)
    cv2.putText(canvas, "hello world 42", (40, 230), cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 0), 5)
    return jpeg(canvas)


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def inspected():
    """A fresh server, so that its journal holds only this module's requests."""
    server = CheckedServer()
    server.start()
    yield server.endpoint
    server.cleanup()


def by_css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def open_request(driver, operation: str):
    """Click the newest row of `operation` and wait until its images have loaded."""

    def click_newest(d) -> bool:
        rows = by_css(d, f'#requests tr[data-operation="{operation}"]')
        if rows:
            rows[0].click()  # a row redrawn meanwhile is stale: wait_for tries again
        return bool(rows)

    wait_for(driver, click_newest, what=f"a row of {operation}")
    wait_for(
        driver,
        lambda d: (
            by_css(d, "#request-detail figure[data-loaded='1']")
            and by_css(d, "#request-detail h2")[0].text.startswith(operation)
        ),
        what=f"the image of {operation}",
    )


def shapes(driver, kind: str) -> list:
    return by_css(driver, f"#request-detail svg .shape[data-kind='{kind}']")


def captions(driver) -> list[str]:
    return [c.get_attribute("textContent") for c in by_css(driver, "#request-detail .caption")]


def test_each_request_is_drawn_on_its_image(browser, inspected):
    browser.get(inspected + "/_emulator/ui")
    wait_for(
        browser, lambda d: d.execute_script("return document.body.dataset.ready"), what="the page"
    )
    assert by_css(browser, "#requests tbody tr") == []

    rekognition = make_client("rekognition", inspected)
    faces = rekognition.detect_faces(Image={"Bytes": ASTRONAUT})["FaceDetails"]
    labels = rekognition.detect_labels(Image={"Bytes": CAT})["Labels"]
    text = rekognition.detect_text(Image={"Bytes": text_photo()})["TextDetections"]
    rekognition.create_collection(CollectionId="inspected")
    indexed = rekognition.index_faces(
        CollectionId="inspected", Image={"Bytes": ASTRONAUT}, ExternalImageId="eileen"
    )["FaceRecords"]

    # The list is live: the new requests appear without a reload.
    wait_for(
        browser,
        lambda d: len(by_css(d, "#requests tbody tr")) == 5,
        what="the five requests in the list",
    )
    listed = [r.get_attribute("data-operation") for r in by_css(browser, "#requests tbody tr")]
    assert listed == ["IndexFaces", "CreateCollection", "DetectText", "DetectLabels", "DetectFaces"]

    open_request(browser, "DetectFaces")
    assert len(shapes(browser, "face")) == len(faces) == 1
    landmarks = by_css(browser, "#request-detail .dot")
    assert len(landmarks) == len(faces[0]["Landmarks"]) == 5
    box = faces[0]["BoundingBox"]
    rect = shapes(browser, "face")[0]
    assert float(rect.get_attribute("x")) == pytest.approx(box["Left"])
    assert float(rect.get_attribute("width")) == pytest.approx(box["Width"])
    screenshot(browser, "detect-faces")

    open_request(browser, "DetectLabels")
    instances = [(lab["Name"], i) for lab in labels for i in lab["Instances"]]
    assert len(shapes(browser, "label")) == len(instances) >= 1
    assert any(c.startswith("Cat ") for c in captions(browser))
    listed_labels = by_css(browser, "#request-detail .findings li")
    assert len(listed_labels) == len(labels)  # the boxed ones and the whole-image ones
    screenshot(browser, "detect-labels")

    open_request(browser, "DetectText")
    lines = [t["DetectedText"] for t in text if t["Type"] == "LINE"]
    words = [t for t in text if t["Type"] == "WORD"]
    assert len(shapes(browser, "line")) == len(lines) == 2
    assert len(shapes(browser, "word")) == len(words)
    shown = captions(browser)
    for line in lines:
        assert any(c.startswith(line) for c in shown), (line, shown)
    screenshot(browser, "detect-text")

    open_request(browser, "IndexFaces")
    assert len(shapes(browser, "face")) == len(indexed) == 1
    face_id = indexed[0]["Face"]["FaceId"]
    assert any(face_id[:8] in c for c in captions(browser))
    screenshot(browser, "index-faces")

    # The filter narrows the list as one types.
    box = by_css(browser, "#request-filter")[0]
    box.send_keys("DetectText")
    wait_for(browser, lambda d: len(by_css(d, "#requests tbody tr")) == 1, what="one filtered row")
    box.clear()
    box.send_keys(" ")  # an input event with an empty filter
    wait_for(browser, lambda d: len(by_css(d, "#requests tbody tr")) == 5, what="every row again")


def test_a_collection_shows_its_faces_as_thumbnails(browser, inspected):
    rekognition = make_client("rekognition", inspected)
    rekognition.create_collection(CollectionId="gallery")
    face_id = rekognition.index_faces(
        CollectionId="gallery", Image={"Bytes": ASTRONAUT}, ExternalImageId="eileen"
    )["FaceRecords"][0]["Face"]["FaceId"]
    rekognition.create_user(CollectionId="gallery", UserId="eileen-collins")
    rekognition.associate_faces(CollectionId="gallery", UserId="eileen-collins", FaceIds=[face_id])

    browser.get(inspected + "/_emulator/ui#collections")
    wait_for(
        browser,
        lambda d: by_css(d, '#collections tr[data-collection="gallery"]'),
        what="the collection",
    )
    by_css(browser, '#collections tr[data-collection="gallery"]')[0].click()
    card = wait_for(
        browser, lambda d: by_css(d, f'.face-card[data-face-id="{face_id}"]'), what="the face"
    )[0]
    wait_for(
        browser,
        lambda d: d.execute_script(
            "const i = arguments[0].querySelector('img'); return i && i.complete && i.naturalWidth",
            card,
        ),
        what="the thumbnail",
    )
    assert "eileen" in card.text and "user eileen-collins" in card.text
    users = by_css(browser, "#collection-users tr[data-user]")
    assert [u.get_attribute("data-user") for u in users] == ["eileen-collins"]
    assert "1" in users[0].text and "ACTIVE" in users[0].text
    screenshot(browser, "collection")


@pytest.fixture(scope="module")
def job_server():
    # StartLabelDetection served as a test job of N steps, one result item each (tests/job_probe.py)
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    server = EmulatorProcess(env={"PYTHONPATH": path}, module="tests.job_probe")
    server.start()
    yield server.endpoint
    server.cleanup()


def test_jobs_show_their_progress_and_results_on_a_timeline(browser, job_server):
    rekognition = make_client("rekognition", job_server)
    job_id = rekognition.start_label_detection(
        Video={"S3Object": {"Bucket": "videos", "Name": "clip.mp4"}}, JobTag="steps=6:delay=0"
    )["JobId"]
    browser.get(job_server + "/_emulator/ui#jobs")
    bar = f'.job-bar[data-job-id="{job_id}"]'
    wait_for(browser, lambda d: by_css(d, f"{bar}.status-SUCCEEDED"), what="the finished job")
    browser.get(job_server + f"/_emulator/ui#jobs/{job_id}")
    marks = wait_for(browser, lambda d: by_css(d, "#job-items .item-mark"), what="the result items")
    assert len(marks) == 6  # one per stored item, placed by its Timestamp
    xs = [float(m.get_attribute("x")) for m in marks]
    assert xs == sorted(xs) and len(set(xs)) == 6
    assert "SUCCEEDED" in by_css(browser, "#job-detail .note")[0].text
    screenshot(browser, "jobs")


def test_the_page_says_when_the_journal_is_off(browser):
    server = CheckedServer(args=["--no-inspector"])
    endpoint = server.start()
    try:
        browser.get(endpoint + "/_emulator/ui")
        wait_for(
            browser,
            lambda d: by_css(d, "#journal-off")[0].is_displayed(),
            what="the journal-off note",
        )
    finally:
        server.cleanup()


def test_compare_faces_and_a_search_are_drawn_where_their_faces_are(browser, inspected):
    rekognition = make_client("rekognition", inspected)
    mirrored = jpeg(np.ascontiguousarray(skimage.data.astronaut()[:, ::-1]))
    compared = rekognition.compare_faces(
        SourceImage={"Bytes": ASTRONAUT}, TargetImage={"Bytes": mirrored}
    )
    rekognition.create_collection(CollectionId="searched")
    face_id = rekognition.index_faces(CollectionId="searched", Image={"Bytes": ASTRONAUT})[
        "FaceRecords"
    ][0]["Face"]["FaceId"]
    found = rekognition.search_faces_by_image(CollectionId="searched", Image={"Bytes": mirrored})

    browser.get(inspected + "/_emulator/ui")
    wait_for(
        browser,
        lambda d: by_css(d, '#requests tr[data-operation="SearchFacesByImage"]'),
        what="the rows",
    )

    open_request(browser, "CompareFaces")
    source = by_css(browser, "#request-detail figure[data-member='SourceImage'] .shape")
    target = by_css(browser, "#request-detail figure[data-member='TargetImage'] .shape")
    assert len(source) == 1  # SourceImageFace, on the source image
    assert len(target) == len(compared["FaceMatches"]) + len(compared["UnmatchedFaces"]) == 1
    similarity = compared["FaceMatches"][0]["Similarity"]
    assert f"match {similarity:.1f}%" in captions(browser)
    screenshot(browser, "compare-faces")

    open_request(browser, "SearchFacesByImage")
    assert len(shapes(browser, "face")) == 1  # the searched face; the match is elsewhere
    card = wait_for(
        browser,
        lambda d: by_css(d, f'#request-detail .face-card[data-face-id="{face_id}"]'),
        what="the match",
    )[0]
    assert f"{found['FaceMatches'][0]['Similarity']:.1f}%" in card.text
    screenshot(browser, "search-faces-by-image")
