"""Statuses of projects, datasets and model versions, and which operation may act in which.

One table per resource kind: the operations' legal starting statuses and the error a call
from any other status answers. Handlers call `require(...)` before changing anything, so an
illegal call changes nothing.
"""

from __future__ import annotations

from rekognition_emulator.emulator.server import errors

# -- projects --------------------------------------------------------------------------------
PROJECT_CREATING, PROJECT_CREATED, PROJECT_DELETING = "CREATING", "CREATED", "DELETING"

# -- datasets --------------------------------------------------------------------------------
CREATE_IN_PROGRESS, CREATE_COMPLETE, CREATE_FAILED = (
    "CREATE_IN_PROGRESS",
    "CREATE_COMPLETE",
    "CREATE_FAILED",
)
UPDATE_IN_PROGRESS, UPDATE_COMPLETE, UPDATE_FAILED = (
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_FAILED",
)
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
DATASET_IN_PROGRESS = {CREATE_IN_PROGRESS, UPDATE_IN_PROGRESS, DELETE_IN_PROGRESS}
DATASET_SETTLED = {CREATE_COMPLETE, CREATE_FAILED, UPDATE_COMPLETE, UPDATE_FAILED}
DATASET_USABLE = {CREATE_COMPLETE, UPDATE_COMPLETE}
SUCCESS, SERVICE_ERROR, CLIENT_ERROR = "SUCCESS", "SERVICE_ERROR", "CLIENT_ERROR"
DATASET_CREATED_MESSAGE = "The dataset was successfully created from the manifest file."
DATASET_UPDATED_MESSAGE = "The dataset was successfully updated."
DATASET_CREATING_MESSAGE = "The dataset is being created."
DATASET_UPDATING_MESSAGE = "The dataset is being updated."
DATASET_DELETING_MESSAGE = "The dataset is being deleted."

# -- model versions ---------------------------------------------------------------------------
TRAINING_IN_PROGRESS = "TRAINING_IN_PROGRESS"
TRAINING_COMPLETED = "TRAINING_COMPLETED"
TRAINING_FAILED = "TRAINING_FAILED"
STARTING, RUNNING, FAILED = "STARTING", "RUNNING", "FAILED"
STOPPING, STOPPED = "STOPPING", "STOPPED"
DELETING = "DELETING"
COPYING_IN_PROGRESS = "COPYING_IN_PROGRESS"
COPYING_COMPLETED = "COPYING_COMPLETED"
COPYING_FAILED = "COPYING_FAILED"
DEPRECATED, EXPIRED = "DEPRECATED", "EXPIRED"

VERSION_MESSAGES = {
    TRAINING_IN_PROGRESS: "The model is being trained.",
    TRAINING_COMPLETED: "The model is ready to run.",
    STARTING: "The model is starting.",
    RUNNING: "The model is running.",
    STOPPING: "The model is stopping.",
    STOPPED: "The model is ready to run.",
    DELETING: "The model is being deleted.",
    COPYING_IN_PROGRESS: "The model is being copied.",
    COPYING_COMPLETED: "The model is ready to run.",
    FAILED: "The model failed to start.",
}
ADAPTER_READY_MESSAGE = "The adapter is ready to use."

# A model that exists and holds trained weights (the states a copy or a start may come from).
TRAINED = {TRAINING_COMPLETED, STARTING, RUNNING, STOPPING, STOPPED, COPYING_COMPLETED, FAILED}

_LEGAL: dict[str, set[str]] = {
    # (unconfirmed: AWS documents Start only for trained/stopped models; a copy is trained.)
    "StartProjectVersion": {TRAINING_COMPLETED, STOPPED, COPYING_COMPLETED, FAILED},
    # The DG's stop sample accepts STOPPING/STOPPED as the first status after the call.
    "StopProjectVersion": {RUNNING, STARTING},
    # Not while it runs, trains or copies (SM: "You can't delete a model if it is running
    # or if it is training").
    "DeleteProjectVersion": {
        TRAINING_COMPLETED,
        TRAINING_FAILED,
        STOPPED,
        FAILED,
        COPYING_COMPLETED,
        COPYING_FAILED,
        DEPRECATED,
        EXPIRED,
    },
    "DetectCustomLabels": {RUNNING},
    "CopyProjectVersion": TRAINED,
}


def legal_from(operation: str) -> set[str]:
    """The statuses `operation` may act in (for a compare-and-set of the change)."""
    return _LEGAL[operation]


def require(operation: str, status: str, what: str) -> None:
    """Raise the operation's AWS error when a version in `status` cannot undergo it."""
    if status in _LEGAL[operation]:
        return
    if operation == "DetectCustomLabels":
        raise errors.ResourceNotReadyException(
            f"The requested model version {what} isn't deployed: its status is {status}. "
            "Start it with StartProjectVersion and wait until it is RUNNING."
        )
    if operation == "CopyProjectVersion":
        raise errors.InvalidParameterException(
            f"The source model version {what} cannot be copied while its status is {status}."
        )
    raise errors.ResourceInUseException(
        f"{operation} cannot act on {what} while its status is {status}."
    )


def require_dataset_settled(status: str, arn: str, operation: str) -> None:
    """Update/Delete need a dataset that is not being created, updated or deleted."""
    if status in DATASET_IN_PROGRESS:
        raise errors.ResourceInUseException(
            f"{operation} cannot act on dataset {arn} while its status is {status}."
        )


def require_dataset_ready(status: str, arn: str, operation: str) -> None:
    """Listings and Distribute need a dataset whose entries are there."""
    if status in DATASET_IN_PROGRESS:
        raise errors.ResourceNotReadyException(
            f"{operation} cannot read dataset {arn} while its status is {status}."
        )
    if status == CREATE_FAILED:
        raise errors.ResourceNotReadyException(
            f"{operation} cannot read dataset {arn}: its creation failed."
        )
