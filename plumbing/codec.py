"""Customer data encrypted before it reaches Temporal: an AES-256-GCM `PayloadCodec`.

Every payload the API, the worker and the replayer send (workflow input, Update arguments and
results, activity inputs and results, memo, static summary and details, query results) is
serialised by the pydantic converter, then encrypted here with the **current** key (the first of
`TICKETCLOCK_CODEC_KEYS`). The encrypted payload says which key sealed it in its metadata
(`encryption-key-id`), so it decodes with any key still listed: rotation is putting a new key in
front, and a retired key stays listed until no history needs it.

Encrypted payload layout: metadata `encoding=binary/encrypted`, `encryption-key-id=<id>`; data
`nonce (12 bytes) || AES-GCM(serialised original Payload, aad=b"ticketclock/" + key id)`. The key
id is authenticated, so a payload relabelled to another key fails like a tampered one.

Payloads that are not encrypted (written before any key was set) decode as they are. A payload
that claims encryption but cannot be opened (unknown key id, tampered bytes, truncated data) is
never passed through: `CodecError` is raised and `ticketclock_codec_failures` counted (label
`reason`: `unknown_key`, `tampered`, `malformed`), on the SDK runtime's meter when one is given.

Search attributes are not payloads the codec touches: they stay readable in visibility, so they
carry policy, tier, severity, state and deadlines only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.common import MetricMeter
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32
AAD_PREFIX = b"ticketclock/"

FAILURES = "ticketclock_codec_failures"
FAILURES_DESCRIPTION = "Payloads the codec refused to decode (unknown key id, tampered, malformed)"
UNKNOWN_KEY = "unknown_key"
TAMPERED = "tampered"
MALFORMED = "malformed"


class CodecError(ValueError):
    """A payload claims encryption but cannot be opened. Never decoded silently."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM with a key ring: encode with `keys[0]`, decode with whichever sealed it.

    `keys` is `((id, 32-byte key), ...)`, current first. `meter` (a Temporal runtime's
    `metric_meter`) receives `ticketclock_codec_failures`; `failures` counts them in-process too.
    """

    def __init__(
        self, keys: Sequence[tuple[str, bytes]], *, meter: MetricMeter | None = None
    ) -> None:
        if not keys:
            raise ValueError("EncryptionCodec needs at least one key")
        ring: dict[str, AESGCM] = {}
        for key_id, key in keys:
            if len(key) != KEY_BYTES:
                raise ValueError(f"codec key {key_id!r}: {len(key)} bytes, expected {KEY_BYTES}")
            if key_id in ring:
                raise ValueError(f"codec key {key_id!r} listed twice")
            ring[key_id] = AESGCM(key)
        self.key_ids = tuple(ring)
        self.current = self.key_ids[0]
        self._ring = ring
        self._current_id = self.current.encode()
        self._current_aad = AAD_PREFIX + self._current_id
        self._counter = meter.create_counter(FAILURES, FAILURES_DESCRIPTION) if meter else None
        self.failures: dict[str, int] = {}

    # -- PayloadCodec ------------------------------------------------------------------------------
    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    # -- synchronous halves (the codec server and the benchmark call them directly) ----------------
    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ring[self.current].encrypt(
            nonce, payload.SerializeToString(), self._current_aad
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: self._current_id},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was switched on: readable as it is
        raw_id = payload.metadata.get(KEY_ID_METADATA)
        key_id = raw_id.decode("utf-8", "replace") if raw_id is not None else None
        aead = self._ring.get(key_id) if key_id is not None else None
        if key_id is None or aead is None:
            self._fail(
                UNKNOWN_KEY,
                f"payload encrypted with key id {key_id!r}, which is not in "
                f"TICKETCLOCK_CODEC_KEYS (known: {', '.join(self.key_ids)})",
            )
        if len(payload.data) < NONCE_BYTES + 16:
            self._fail(MALFORMED, f"encrypted payload (key id {key_id!r}) is truncated")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = aead.decrypt(nonce, sealed, AAD_PREFIX + key_id.encode())
        except InvalidTag:
            self._fail(
                TAMPERED, f"encrypted payload (key id {key_id!r}) failed authentication: tampered"
            )
        decoded = Payload()
        try:
            decoded.ParseFromString(plain)
        except Exception:  # authenticated but not a Payload: written by something else
            self._fail(MALFORMED, f"encrypted payload (key id {key_id!r}) is not a Payload")
        return decoded

    def _fail(self, reason: str, message: str) -> NoReturn:
        self.failures[reason] = self.failures.get(reason, 0) + 1
        if self._counter is not None:
            self._counter.add(1, {"reason": reason})
        raise CodecError(reason, message)


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING
