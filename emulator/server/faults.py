"""Fault injection: make Rekognition operations fail or slow down on purpose, so that a test
suite can check how its code handles throttling, errors and latency.

    POST   /_emulator/faults        add a rule (JSON below); answers the rule with its id
    GET    /_emulator/faults        the rules, with how often each fired
    DELETE /_emulator/faults        remove every rule (so does POST /_emulator/reset)
    DELETE /_emulator/faults/{id}   remove one rule

A rule:

    {"operation": "DetectFaces",           # omitted or "*": every operation
     "account": "123456789012",            # optional
     "region": "us-east-1",                # optional
     "error": "ThrottlingException",       # one of the operation's errors in the service model
     "message": "Rate exceeded",           # optional
     "latency_ms": 2000,                   # optional: wait this long first (with or without error)
     "count": 3,                           # optional: fire this many times, then no more
     "probability": 0.1, "seed": 7}        # optional: fire on this share of the calls (seeded)

A request is checked after it was read and validated, as a real service answers only
well-formed requests: the first rule that matches its operation, account and region and that
fires (count left, the probability's draw) decides. An error answers as AWS sends it: the
exception name, its HTTP status (ThrottlingException and InternalServerError 500, the others
400), `x-amzn-ErrorType` and a JSON body with the message.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rekognition_emulator.emulator.server import errors, ids
from rekognition_emulator.emulator.server.registry import admin_route
from rekognition_emulator.emulator.server.service_model import operation_model, operation_names

if TYPE_CHECKING:
    from rekognition_emulator.emulator.server.context import AppState

SERVICE_KEY = "faults"
RULE_FIELDS = (
    "operation",
    "account",
    "region",
    "error",
    "message",
    "latency_ms",
    "count",
    "probability",
    "seed",
)


class RuleError(ValueError):
    """A rule that cannot be applied (answered 400 with this text)."""


def modelled_errors(operation: str) -> list[str]:
    """The error names the service model gives `operation`."""
    return [shape.name for shape in operation_model(operation).error_shapes]


def _error_class(name: str) -> type[errors.AWSError]:
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.AWSError)):
        raise RuleError(f"{name} is not an error of the Rekognition service model")
    return cls


@dataclass
class Rule:
    rule_id: int
    operation: str | None
    account: str | None
    region: str | None
    error: str | None
    message: str | None
    latency_ms: float
    count: int | None
    probability: float | None
    seed: int | None
    fired: int = 0
    seen: int = 0  # requests that matched, fired or not
    _draws: random.Random = field(default_factory=random.Random, repr=False)

    def matches(self, operation: str, account: str, region: str) -> bool:
        if self.operation is not None and self.operation != operation:
            return False
        if self.account is not None and self.account != account:
            return False
        if self.region is not None and self.region != region:
            return False
        # A rule for every operation injects an error only where the model has it.
        return self.error is None or self.operation is not None or _models(operation, self.error)

    def fires(self) -> bool:
        """Called for a matching request: does the rule apply to this one?"""
        self.seen += 1
        if self.count is not None and self.fired >= self.count:
            return False
        if self.probability is not None and self._draws.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def exception(self, operation: str) -> errors.AWSError | None:
        if self.error is None:
            return None
        message = self.message or (
            f"{self.error} injected by rekognition-emulator's fault rule {self.rule_id} "
            f"for {operation}."
        )
        return _error_class(self.error)(message)

    def view(self) -> dict[str, Any]:
        shown = {name: getattr(self, name) for name in RULE_FIELDS}
        remaining = None if self.count is None else max(0, self.count - self.fired)
        return {
            "id": self.rule_id,
            **{k: v for k, v in shown.items() if v is not None},
            "fired": self.fired,
            "seen": self.seen,
            "remaining": remaining,
        }


def _models(operation: str, error: str) -> bool:
    try:
        return error in modelled_errors(operation)
    except Exception:  # an operation name the model does not know
        return False


def parse_rule(body: Any, rule_id: int) -> Rule:
    """A rule from its JSON, checked against the service model."""
    if not isinstance(body, dict):
        raise RuleError("a fault rule is a JSON object")
    unknown = sorted(set(body) - set(RULE_FIELDS))
    if unknown:
        raise RuleError(
            f"unknown field(s) {', '.join(unknown)}; a rule has {', '.join(RULE_FIELDS)}"
        )
    operation = body.get("operation")
    if operation in (None, "", "*"):
        operation = None
    elif operation not in operation_names():
        raise RuleError(f"{operation!r} is not an operation of the Rekognition service model")
    error = body.get("error")
    if error is not None:
        _error_class(str(error))
        allowed = modelled_errors(operation) if operation else None
        if allowed is not None and error not in allowed:
            raise RuleError(
                f"{operation} cannot answer {error}: its errors in the service model are "
                f"{', '.join(allowed)}"
            )
    latency = _number(body, "latency_ms", 0.0, minimum=0.0, maximum=600_000.0)
    if error is None and not latency:
        raise RuleError("a rule needs an error, a latency_ms, or both")
    count = body.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise RuleError("count must be a whole number of at least 1")
    probability = body.get("probability")
    if probability is not None:
        probability = _number(body, "probability", 1.0, minimum=0.0, maximum=1.0)
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise RuleError("seed must be a whole number")
    # Unseeded draws come from the server's id source: reproducible under --seed.
    draws = random.Random(
        seed if seed is not None else int.from_bytes(ids.new_bytes("fault-draws", 8))
    )
    return Rule(
        rule_id=rule_id,
        operation=operation,
        account=_text(body, "account"),
        region=_text(body, "region"),
        error=error,
        message=_text(body, "message"),
        latency_ms=latency,
        count=count,
        probability=probability,
        seed=seed,
        _draws=draws,
    )


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise RuleError(f"{name} must be a non-empty string")
    return value


def _number(
    body: dict[str, Any], name: str, default: float, *, minimum: float, maximum: float
) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{name} must be a number")
    if not minimum <= value <= maximum:
        raise RuleError(f"{name} must be between {minimum:g} and {maximum:g}")
    return float(value)


@dataclass(frozen=True)
class Fault:
    """What a fired rule does to one request."""

    rule_id: int
    latency_s: float
    error: errors.AWSError | None

    async def apply(self) -> None:
        """Wait (without holding a thread), then raise the error, if the rule has one."""
        if self.latency_s:
            await anyio.sleep(self.latency_s)
        if self.error is not None:
            raise self.error


class Faults:
    """The server's rules (in memory: a restart clears them, as a test wants)."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._next_id = 1

    def add(self, body: Any) -> Rule:
        with self._lock:
            rule = parse_rule(body, self._next_id)
            self._next_id += 1
            self._rules.append(rule)
            return rule

    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._rules)

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            kept = [r for r in self._rules if r.rule_id != rule_id]
            removed = len(kept) != len(self._rules)
            self._rules = kept
            return removed

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    reset = clear  # POST /_emulator/reset

    def match(self, operation: str, account: str, region: str) -> Fault | None:
        """The fault for this request, if a rule fires (cheap when there are no rules)."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(operation, account, region) and rule.fires():
                    return Fault(rule.rule_id, rule.latency_ms / 1000.0, rule.exception(operation))
        return None


def faults(state: AppState) -> Faults:
    return state.singleton(SERVICE_KEY, Faults)


# -- the admin endpoints ------------------------------------------------------------------------
@admin_route("/_emulator/faults", methods=["GET"])
async def list_faults(request: Request, state: AppState) -> Response:
    return JSONResponse({"rules": [r.view() for r in faults(state).rules()]})


@admin_route("/_emulator/faults", methods=["POST"])
async def add_fault(request: Request, state: AppState) -> Response:
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "the body must be a JSON fault rule"}, status_code=400)
    try:
        rule = faults(state).add(body)
    except RuleError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(rule.view(), status_code=201)


@admin_route("/_emulator/faults", methods=["DELETE"])
async def clear_faults(request: Request, state: AppState) -> Response:
    faults(state).clear()
    return JSONResponse({"rules": []})


@admin_route("/_emulator/faults/{rule_id:int}", methods=["DELETE"])
async def remove_fault(request: Request, state: AppState) -> Response:
    rule_id = request.path_params["rule_id"]
    if not faults(state).remove(rule_id):
        return JSONResponse({"error": f"no fault rule {rule_id}"}, status_code=404)
    return JSONResponse({"removed": rule_id})
