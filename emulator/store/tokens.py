"""Opaque, tamper-evident pagination tokens.

A token is base64url(cursor as 8 bytes || HMAC-SHA256 truncated to 16 bytes). The MAC
covers the cursor *and* what the token is for (operation, account, region, collection,
filters), none of which travel in the token: a token edited by hand, minted by another
data directory, or replayed against another collection or filter fails the check and the
caller gets InvalidPaginationTokenException. The secret lives in the data directory so
tokens survive a restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import threading
from pathlib import Path

from rekognition_emulator.emulator.server import errors, ids

_MAC_BYTES = 16


def load_secret(path: Path) -> bytes:
    """The data directory's token secret, created (mode 600) on first use.

    The face store and the job engine both read it: whoever comes first creates it, with a
    link that fails when the file exists, so both always end up with the same secret.
    """
    while True:
        try:
            secret = path.read_bytes()
            if len(secret) >= 32:
                return secret
            path.unlink()  # torn by a crash before the link existed: cannot be in use
        except FileNotFoundError:
            pass
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, ids.new_bytes("pagination-key", 32))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another thread made it first: read theirs
        finally:
            tmp.unlink(missing_ok=True)


class PageTokens:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, purpose: str, cursor: bytes) -> bytes:
        return hmac.new(self._secret, purpose.encode() + b"\0" + cursor, hashlib.sha256).digest()[
            :_MAC_BYTES
        ]

    def issue(self, purpose: str, cursor: int) -> str:
        raw = struct.pack(">q", cursor)
        return base64.urlsafe_b64encode(raw + self._mac(purpose, raw)).decode().rstrip("=")

    def read(self, purpose: str, token: str) -> int:
        """The cursor a token carries, or InvalidPaginationTokenException."""
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            blob = b""
        if len(blob) == 8 + _MAC_BYTES:
            raw, mac = blob[:8], blob[8:]
            if hmac.compare_digest(mac, self._mac(purpose, raw)):
                return struct.unpack(">q", raw)[0]
        raise errors.InvalidPaginationTokenException(
            "Invalid pagination token: the NextToken was not issued by this emulator for this "
            "request (it was altered, or belongs to another collection, filter or operation)."
        )
