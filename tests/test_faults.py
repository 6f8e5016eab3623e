"""Fault injection (`/_emulator/faults`): what a test suite sees when it makes the emulator
throttle, fail or slow down on purpose, through boto3 and botocore's own retry modes."""

from __future__ import annotations

import random
import textwrap
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from rekognition_emulator.emulator.testing import Faults
from tests.conftest import make_client
from tests.test_user_kit import _run_pytest
from tests.wire import call


@pytest.fixture
def faults(endpoint: str):
    rules = Faults(endpoint)
    rules.clear()
    yield rules
    rules.clear()


def client(endpoint: str, region: str = "us-east-1", access_key: str = "AKIAEXAMPLE", **retries):
    """A Rekognition client making one attempt a call unless `retries` says otherwise."""
    return make_client(
        "rekognition",
        endpoint,
        region=region,
        access_key=access_key,
        retries=retries or {"total_max_attempts": 1},
    )


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_botocore_retries_injected_throttling_and_then_succeeds(endpoint, faults, mode):
    rule = faults.add(operation="ListCollections", error="ThrottlingException", count=2)
    rekognition = client(endpoint, mode=mode, total_max_attempts=3)

    answer = rekognition.list_collections()

    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2  # two throttled, the third served
    (seen,) = faults.rules()
    assert seen["id"] == rule["id"]
    assert (seen["fired"], seen["remaining"]) == (2, 0)


def test_throttling_past_the_retry_budget_reaches_the_caller_as_aws_sends_it(endpoint, faults):
    faults.add(operation="ListCollections", error="ThrottlingException", count=5)
    rekognition = client(endpoint, mode="standard", total_max_attempts=3)  # 1 call + 2 retries

    with pytest.raises(ClientError) as caught:
        rekognition.list_collections()

    error = caught.value.response
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 500  # AWS answers it as a 5xx
    assert error["ResponseMetadata"]["RetryAttempts"] == 2
    assert faults.rules()[0]["fired"] == 3


def test_an_injected_error_has_the_operation_models_name_status_and_message(endpoint, faults):
    faults.add(
        operation="DescribeCollection",
        error="ProvisionedThroughputExceededException",
        message="The provisioned throughput was exceeded (test).",
        count=1,
    )
    reply = call(endpoint, "DescribeCollection", {"CollectionId": "anything"})
    assert reply.status == 400
    assert reply.headers["x-amzn-errortype"] == "ProvisionedThroughputExceededException"
    assert reply.json == {
        "__type": "ProvisionedThroughputExceededException",
        "message": "The provisioned throughput was exceeded (test).",
    }
    # count=1: the next call is the operation's own answer again
    assert call(endpoint, "DescribeCollection", {"CollectionId": "anything"}).error_type == (
        "ResourceNotFoundException"
    )


def test_an_injected_latency_is_measured_by_the_client(endpoint, faults):
    rekognition = client(endpoint)
    rekognition.list_collections()  # connection and first-call costs out of the way
    faults.add(operation="ListCollections", latency_ms=1500, count=1)

    started = time.perf_counter()
    rekognition.list_collections()
    slowed = time.perf_counter() - started
    started = time.perf_counter()
    rekognition.list_collections()
    normal = time.perf_counter() - started

    assert slowed >= 1.5
    assert normal < 0.5


def test_a_seeded_probability_fails_the_same_calls_every_time(endpoint, faults):
    faults.add(
        operation="ListCollections",
        error="ProvisionedThroughputExceededException",
        probability=0.3,
        seed=7,
    )
    rekognition = client(endpoint)
    outcomes = []
    for _ in range(40):
        try:
            rekognition.list_collections()
            outcomes.append(False)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
            outcomes.append(True)

    draws = random.Random(7)
    assert outcomes == [draws.random() < 0.3 for _ in range(40)]
    assert 4 <= sum(outcomes) <= 20


def test_rules_match_by_region_and_account_only(endpoint, faults):
    faults.add(operation="ListCollections", region="eu-west-1", error="ThrottlingException")
    faults.add(operation="ListCollections", account="210987654321", error="AccessDeniedException")

    client(endpoint, region="us-east-1").list_collections()  # neither rule applies
    with pytest.raises(ClientError, match="ThrottlingException"):
        client(endpoint, region="eu-west-1").list_collections()
    other_account = client(endpoint, access_key="210987654321")  # a 12-digit key: that account
    with pytest.raises(ClientError, match="AccessDeniedException"):
        other_account.list_collections()


def test_clearing_the_rules_restores_normal_answers(endpoint, faults):
    faults.add(operation="ListCollections", error="InternalServerError")
    rekognition = client(endpoint)
    with pytest.raises(ClientError, match="InternalServerError"):
        rekognition.list_collections()

    faults.clear()

    assert faults.rules() == []
    assert rekognition.list_collections()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_one_rule_can_be_removed_by_its_id(endpoint, faults):
    kept = faults.add(operation="DescribeCollection", latency_ms=10)
    dropped = faults.add(operation="ListCollections", error="ThrottlingException")
    faults.remove(dropped["id"])
    assert [r["id"] for r in faults.rules()] == [kept["id"]]
    client(endpoint).list_collections()


def test_a_rule_the_model_does_not_allow_is_refused_with_the_reason(endpoint, faults):
    with pytest.raises(ValueError, match="ListCollections cannot answer ImageTooLargeException"):
        faults.add(operation="ListCollections", error="ImageTooLargeException")
    with pytest.raises(ValueError, match="not an operation"):
        faults.add(operation="DetectUnicorns", error="ThrottlingException")
    with pytest.raises(ValueError, match="needs an error, a latency_ms, or both"):
        faults.add(operation="DetectFaces")
    with pytest.raises(ValueError, match="probability must be between 0 and 1"):
        faults.add(operation="DetectFaces", error="ThrottlingException", probability=2)
    assert faults.rules() == []


def test_a_rule_for_every_operation_injects_only_errors_each_operation_has(endpoint, faults):
    # ImageTooLargeException is an error of DetectFaces but not of ListCollections.
    faults.add(error="ImageTooLargeException")
    client(endpoint).list_collections()
    reply = call(endpoint, "DetectFaces", {"Image": {"Bytes": "aGVsbG8="}})
    assert reply.error_type == "ImageTooLargeException"


def test_the_reset_clears_the_rules(endpoint, faults):
    faults.add(operation="ListCollections", error="ThrottlingException")
    call(endpoint, None, method="POST", path="/_emulator/reset")
    assert faults.rules() == []


def test_the_pytest_fixture_in_a_users_test_file(tmp_path: Path, endpoint: str) -> None:
    (tmp_path / "test_retry.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from botocore.exceptions import ClientError


            def test_my_code_sees_throttling(rekognition_faults, rekognition_client):
                rekognition_faults.add(
                    operation="ListCollections", error="ThrottlingException", count=1
                )
                with pytest.raises(ClientError, match="ThrottlingException"):
                    rekognition_client.list_collections()
                rekognition_client.list_collections()
                assert rekognition_faults.rules()[0]["fired"] == 1


            def test_rules_do_not_outlive_their_test(rekognition_faults):
                assert rekognition_faults.rules() == []
            """
        )
    )
    proc = _run_pytest(tmp_path, "-q", "--rekognition-endpoint", endpoint)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout
