"""AWS error classes: raising one is the whole error path of a handler.

Each class carries the exception name the client sees (`__type`) and the HTTP status.
The names are the service model's 23 modelled exceptions plus the protocol-level ones
AWS really returns (ValidationException, SerializationException, ...).
"""

from __future__ import annotations


class AWSError(Exception):
    """An error answered to the client as `{"__type": code, "message": message}`."""

    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return type(self).__name__


# -- modelled by the Rekognition service model ------------------------------------------------
class AccessDeniedException(AWSError): ...


class ConflictException(AWSError): ...


class HumanLoopQuotaExceededException(AWSError): ...


class IdempotentParameterMismatchException(AWSError): ...


class ImageTooLargeException(AWSError): ...


class InvalidImageFormatException(AWSError): ...


class InvalidManifestException(AWSError): ...


class InvalidPaginationTokenException(AWSError): ...


class InvalidParameterException(AWSError): ...


class InvalidPolicyRevisionIdException(AWSError): ...


class InvalidS3ObjectException(AWSError): ...


class LimitExceededException(AWSError): ...


class MalformedPolicyDocumentException(AWSError): ...


class ProvisionedThroughputExceededException(AWSError): ...


class ResourceAlreadyExistsException(AWSError): ...


class ResourceInUseException(AWSError): ...


class ResourceNotFoundException(AWSError): ...


class ResourceNotReadyException(AWSError): ...


class ServiceQuotaExceededException(AWSError): ...


class SessionNotFoundException(AWSError): ...


class VideoTooLargeException(AWSError): ...


class InternalServerError(AWSError):
    status = 500


class ThrottlingException(AWSError):
    # Documented by AWS as a 5xx so that SDKs retry it.
    status = 500


# -- protocol level (not in the model, returned by the real service) -------------------------
class ValidationException(AWSError): ...


class SerializationException(AWSError): ...


class UnknownOperationException(AWSError): ...


class InvalidSignatureException(AWSError): ...


class UnrecognizedClientException(AWSError): ...


class MissingAuthenticationTokenException(AWSError): ...


class IncompleteSignatureException(AWSError): ...


class NotImplementedException(AWSError):
    # Not an AWS error: our answer for an operation the emulator does not implement yet.
    status = 501
