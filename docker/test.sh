#!/usr/bin/env bash
# Build the Docker image with podman and prove it works offline:
#   1. install podman and the local stand-in for python:3.11-slim (../shared/tools/container-base.sh);
#      when this machine cannot get podman at all, say so and exit 0 (skipped);
#   2. build docker/Dockerfile (models pulled at build time);
#   3. start the image on the host network, on a free port, with the package index made
#      unreachable, no proxy, a read-only root filesystem;
#   4. wait for /_emulator/health, check it lists every model of the store as present and that no
#      model was pulled at run time (logs, unchanged and read-only models folder);
#   5. run docker/smoke.py from the host through boto3 (CreateCollection, IndexFaces,
#      SearchFacesByImage, DetectFaces ALL);
#   6. start the image again with --network=none (no interface but loopback) and run the same
#      smoke from the host inside the container's network namespace (nsenter): the image answers
#      with no network at all;
#   7. stop and remove the containers whatever happened. Exit non-zero on any failure.
# Prints the build time, the image size and the time from `run` to the first healthy answer.
#
# Environment: IMAGE (default localhost/rekognition-emulator:test), PYTHON (host interpreter with
# boto3 + scikit-image; default .venv/bin/python), HEALTH_TIMEOUT (seconds, default 180).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
IMAGE=${IMAGE:-localhost/rekognition-emulator:test}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-180}
MODELS_DIR=/opt/rekognition-emulator/models
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON=$ROOT/.venv/bin/python; else PYTHON=python3; fi
fi

say() { printf '[docker/test.sh] %s\n' "$*"; }
die() { printf '[docker/test.sh] FAIL: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ------------------------------------------------------------------ 1. podman + base image
BASE_SCRIPT=$ROOT/../shared/tools/container-base.sh
if [ -f "$BASE_SCRIPT" ]; then
  say "preparing podman and localhost/python:3.11-slim ($BASE_SCRIPT)"
  if ! bash "$BASE_SCRIPT"; then
    if ! command -v podman >/dev/null 2>&1; then
      say "SKIPPED: this machine cannot install podman (container-base.sh failed); the image was not tested"
      exit 0
    fi
    die "container-base.sh failed although podman is installed (see above)"
  fi
elif ! command -v podman >/dev/null 2>&1; then
  say "SKIPPED: no podman and no $BASE_SCRIPT to install it; the image was not tested"
  exit 0
fi
command -v podman >/dev/null 2>&1 || {
  say "SKIPPED: podman is still not installed after container-base.sh; the image was not tested"
  exit 0
}
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)
"${PODMAN[@]}" image exists localhost/python:3.11-slim ||
  die "base image localhost/python:3.11-slim is missing after container-base.sh"

# ------------------------------------------------------------------ 2. build
# Docker image format (not OCI) so that the HEALTHCHECK instruction is kept in the image.
export BUILDAH_FORMAT=docker
say "building $IMAGE"
OLD_ID=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
t0=$(now)
"${PODMAN[@]}" build --isolation=chroot --network=host \
  --volume /etc/ssl/certs:/etc/ssl/certs:ro \
  --build-arg BASE=localhost/python:3.11-slim \
  -f docker/Dockerfile -t "$IMAGE" . || die "image build failed"
BUILD_SECONDS=$(elapsed "$t0" "$(now)")
# The image this build replaced would stay behind untagged: drop it (build-stage cache stays).
NEW_ID=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
  "${PODMAN[@]}" rmi "$OLD_ID" >/dev/null 2>&1 || true
fi
IMAGE_BYTES=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
IMAGE_MB=$(awk -v b="$IMAGE_BYTES" 'BEGIN { printf "%.0f", b / 1000000 }')
say "built in ${BUILD_SECONDS} s; image size ${IMAGE_MB} MB"

# The image's own promises: non-root user, exposed port, healthcheck, data volume.
"${PODMAN[@]}" image inspect "$IMAGE" | "$PYTHON" -c '
import json, sys
img = json.load(sys.stdin)[0]
cfg = img.get("Config") or {}
hc = img.get("Healthcheck") or img.get("HealthCheck") or cfg.get("Healthcheck") or {}
problems = []
if cfg.get("User") in (None, "", "root", "0"): problems.append("runs as root")
if "4590/tcp" not in (cfg.get("ExposedPorts") or {}): problems.append("4590/tcp not exposed")
if "/data" not in (cfg.get("Volumes") or {}): problems.append("/data is not a volume")
if not hc.get("Test"): problems.append("no HEALTHCHECK in the image")
if problems: sys.exit("image config: " + "; ".join(problems))
print("[docker/test.sh] image config: user %s, port 4590, volume /data, healthcheck present" % cfg["User"])
' || die "image configuration"

# Baseline of the baked models, taken from the image with no network at all.
models_fingerprint() { # $1: container id, or "" for a fresh --network=none container
  local cmd="cd $MODELS_DIR && find . -type f -exec sha256sum {} + | sort"
  if [ -z "$1" ]; then
    "${PODMAN[@]}" run --rm --no-healthcheck --network=none --entrypoint sh "$IMAGE" -c "$cmd"
  else
    "${PODMAN[@]}" exec "$1" sh -c "$cmd"
  fi
}
BASELINE=$(models_fingerprint "") || die "cannot list the models folder in the image"
[ -n "$BASELINE" ] || die "the image holds no model files in $MODELS_DIR"
say "image holds $(printf '%s\n' "$BASELINE" | wc -l) model files in $MODELS_DIR"
# The store itself, offline: every model present and matching its pinned sha256.
"${PODMAN[@]}" run --rm --no-healthcheck --network=none "$IMAGE" models verify ||
  die "'rekognition-emulator models verify' failed offline inside the image"

# ------------------------------------------------------------------ 3. run, offline
PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
NAME=rekognition-emulator-test-$$
CID=""
RUN_ERR=$(mktemp)
cleanup() {
  local rc=$?
  rm -f "$RUN_ERR"
  if [ -n "$CID" ]; then
    if [ $rc -ne 0 ]; then
      say "container logs (last 80 lines):"
      "${PODMAN[@]}" logs --tail 80 "$CID" 2>&1 | sed 's/^/    /' || true
    fi
    "${PODMAN[@]}" rm -f -v -t 5 "$CID" >/dev/null 2>&1 || true
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Poll health until it answers; print its JSON. Args: URL, then an optional command prefix that
# runs the probe elsewhere (e.g. nsenter into the container's network namespace).
wait_healthy() {
  local url=$1 deadline state json
  shift
  deadline=$(awk -v a="$(now)" -v t="$HEALTH_TIMEOUT" 'BEGIN { printf "%d", a + t }')
  while :; do
    if json=$("$@" "$PYTHON" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' "$url" 2>/dev/null); then
      printf '%s' "$json"
      return 0
    fi
    state=$("${PODMAN[@]}" inspect --format '{{.State.Status}}' "$CID" 2>/dev/null || echo gone)
    [ "$state" = running ] || die "the container stopped before answering health (state: $state)"
    [ "$(date +%s)" -lt "$deadline" ] || die "no healthy answer on $url within ${HEALTH_TIMEOUT} s"
    sleep 0.2
  done
}

# The logs must be there (else checking them proves nothing) and show no pull or download.
check_logs_no_pull() {
  local logs
  logs=$("${PODMAN[@]}" logs "$CID" 2>&1 || true)
  printf '%s\n' "$logs" | grep -q 'listening on' ||
    die "the container logs lack the 'listening on' line: the log check would prove nothing"
  if printf '%s\n' "$logs" | grep -Ei 'pulling|downloading|pip download|models pull' >/dev/null; then
    printf '%s\n' "$logs" | grep -Ei 'pulling|downloading|pip download|models pull' | sed 's/^/    /'
    die "the container pulled or downloaded something at run time"
  fi
}

say "starting the container on 127.0.0.1:$PORT (host network, no package index, no proxy, read-only root)"
t0=$(now)
CID=$(env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u no_proxy -u NO_PROXY \
  "${PODMAN[@]}" run -d --name "$NAME" --network=host --http-proxy=false --log-driver=k8s-file \
  --read-only --read-only-tmpfs \
  -e REKOGNITION_EMULATOR_PORT="$PORT" \
  -e PIP_INDEX_URL=http://127.0.0.1:9/ -e PIP_EXTRA_INDEX_URL= -e PIP_FIND_LINKS= -e PIP_NO_INDEX=1 \
  -e HTTP_PROXY=http://127.0.0.1:9/ -e HTTPS_PROXY=http://127.0.0.1:9/ \
  -e http_proxy=http://127.0.0.1:9/ -e https_proxy=http://127.0.0.1:9/ -e NO_PROXY=127.0.0.1,localhost \
  -e no_proxy=127.0.0.1,localhost \
  "$IMAGE" 2>"$RUN_ERR") || { cat "$RUN_ERR" >&2; die "podman run failed"; }
# Without systemd podman cannot schedule the periodic healthcheck and says so: not our failure.
grep -v 'systemd connection' "$RUN_ERR" >&2 || true

# ------------------------------------------------------------------ 4. health
HEALTH_JSON=$(wait_healthy "http://127.0.0.1:$PORT/_emulator/health") || exit 1
HEALTHY_SECONDS=$(elapsed "$t0" "$(now)")
say "healthy ${HEALTHY_SECONDS} s after podman run"

# Every model of the default pull (the manifest without its opt-in models) is listed by
# health as present.
EXPECTED_MODELS=$("${PODMAN[@]}" run --rm --no-healthcheck --network=none --entrypoint python "$IMAGE" \
  -c 'from rekognition_emulator.models.manifest import select; print(" ".join(s.name for s in select(None)))') || die "cannot read the model manifest in the image"
printf '%s' "$HEALTH_JSON" | "$PYTHON" -c '
import json, sys
health = json.load(sys.stdin)
expected = sys.argv[1].split()
models = health.get("models") or {}
present = set(models.get("present") or [])
missing = [m for m in expected if m not in present]
if health.get("status") != "ok":
    sys.exit("health status is %r, not ok: %s" % (health.get("status"), json.dumps(health)[:800]))
if models.get("error"):
    sys.exit("health reports a model store error: %s" % models["error"])
if missing:
    sys.exit("health does not list these models as present: %s (present: %s)" % (missing, sorted(present)))
print("[docker/test.sh] health: status ok, all %d models present (%s); %d operations implemented"
      % (len(expected), " ".join(expected), len(health.get("operations_implemented") or [])))
' "$EXPECTED_MODELS" || die "health does not list every model as present"

# The image's own HEALTHCHECK command works too.
"${PODMAN[@]}" healthcheck run "$CID" >/dev/null || die "the image HEALTHCHECK command failed in the running container"
say "image HEALTHCHECK passes"

# ------------------------------------------------------------------ 5. smoke from the host
say "boto3 smoke from the host ($PYTHON docker/smoke.py)"
"$PYTHON" "$ROOT/docker/smoke.py" --endpoint "http://127.0.0.1:$PORT" || die "smoke failed"

# No pull at run time: no pull/download line in the logs, models folder unchanged.
check_logs_no_pull
AFTER=$(models_fingerprint "$CID") || die "cannot list the models folder in the container"
[ "$AFTER" = "$BASELINE" ] || die "the models folder changed while the container ran"
say "no pull at run time: logs clean, models folder unchanged (and not writable by the service user)"

"${PODMAN[@]}" stop -t 10 "$CID" >/dev/null || die "the container did not stop"
"${PODMAN[@]}" rm -f -v "$CID" >/dev/null 2>&1 || true
CID=""

# ------------------------------------------------------------------ 6. again, with no network at all
# Host networking above is what CI users get; here the container has no network interface but
# its own loopback, and the host's Python reaches it by entering that network namespace.
OFFLINE_NOTE="skipped (no nsenter)"
if command -v nsenter >/dev/null 2>&1; then
  say "starting the image again with --network=none (loopback only)"
  t0=$(now)
  CID=$("${PODMAN[@]}" run -d --name "$NAME-offline" --network=none --log-driver=k8s-file \
    --read-only --read-only-tmpfs "$IMAGE" 2>"$RUN_ERR") || { cat "$RUN_ERR" >&2; die "podman run --network=none failed"; }
  grep -v 'systemd connection' "$RUN_ERR" >&2 || true
  PID=$("${PODMAN[@]}" inspect --format '{{.State.Pid}}' "$CID")
  wait_healthy http://127.0.0.1:4590/_emulator/health nsenter -t "$PID" -n >/dev/null || exit 1
  OFFLINE_HEALTHY=$(elapsed "$t0" "$(now)")
  say "healthy ${OFFLINE_HEALTHY} s after podman run, with no network"
  nsenter -t "$PID" -n "$PYTHON" "$ROOT/docker/smoke.py" --endpoint http://127.0.0.1:4590 ||
    die "smoke failed in the container with no network"
  check_logs_no_pull
  "${PODMAN[@]}" stop -t 10 "$CID" >/dev/null || die "the container did not stop"
  OFFLINE_NOTE="passed (healthy in ${OFFLINE_HEALTHY} s)"
else
  say "nsenter not found: the --network=none run is skipped"
fi

say "PASSED  build ${BUILD_SECONDS} s | image ${IMAGE_MB} MB | run-to-healthy ${HEALTHY_SECONDS} s | no-network run ${OFFLINE_NOTE}"
