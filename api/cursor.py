"""List cursors: Temporal's page token, sealed to the query it pages, as a URL-safe string.

A cursor is `version | digest(query, token) | token`, base64url without padding. Checking the
digest lets the API refuse, before anything reaches Temporal, a cursor it did not hand out or
one handed out for other filters: the server answers UNKNOWN for a token it cannot decode, and
the SDK retries UNKNOWN for about ten seconds before giving up. The digest is not a secret (a
forged cursor only pages a query its bearer may run anyway); it is a well-formedness check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from api.temporal_gateway import InvalidPageToken

VERSION = b"\x01"
DIGEST_BYTES = 8


def _digest(query: str, token: bytes) -> bytes:
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES, person=b"ticketclock-cur")
    encoded = query.encode()
    digest.update(len(encoded).to_bytes(4, "big"))  # length-prefixed: no query/token ambiguity
    digest.update(encoded)
    digest.update(token)
    return digest.digest()


def encode_cursor(token: bytes | None, query: str) -> str | None:
    """The cursor for the page after this one (None: this was the last page)."""
    if not token:
        return None
    sealed = VERSION + _digest(query, token) + token
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def decode_cursor(cursor: str | None, query: str) -> bytes | None:
    """The page token inside `cursor`; `InvalidPageToken` unless this API sealed it for `query`."""
    if not cursor:
        return None
    try:
        sealed = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidPageToken(cursor) from None
    header = len(VERSION) + DIGEST_BYTES
    version, digest, token = sealed[:1], sealed[1:header], sealed[header:]
    if version != VERSION or not token or digest != _digest(query, token):
        raise InvalidPageToken(cursor)
    return token
