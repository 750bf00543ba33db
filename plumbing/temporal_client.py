"""How ticketclock connects to Temporal: the worker, the API and the tools all call `connect`.

Same data converter (pydantic, encrypted by `plumbing.codec` when TICKETCLOCK_CODEC_KEYS is set),
namespace and TLS / API-key handling everywhere, so the API, the worker and the replayer can never
disagree on how a payload is encoded or which cluster they talk to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import temporalio.runtime
from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from plumbing.codec import EncryptionCodec
from plumbing.settings import Settings, SettingsError
from plumbing.telemetry import with_tracing


class TemporalConnectError(RuntimeError):
    """Temporal could not be reached; the message says where we tried and which settings apply."""


def _read(name: str, path: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise SettingsError(f"{name}: cannot read {path!r} ({exc.strerror or exc})") from None


def tls_config(settings: Settings) -> bool | TLSConfig | None:
    """What `Client.connect(tls=...)` gets.

    Certificate files give a `TLSConfig` (mTLS with a client cert/key, a private CA, or both);
    TICKETCLOCK_TEMPORAL_TLS alone means TLS against the system roots; an API key alone also means
    TLS (Temporal Cloud). `None` lets the SDK decide, which is plaintext without an API key.
    """
    cert, key, ca = settings.temporal_tls_cert, settings.temporal_tls_key, settings.temporal_tls_ca
    if bool(cert) != bool(key):
        missing = "TICKETCLOCK_TEMPORAL_TLS_KEY" if cert else "TICKETCLOCK_TEMPORAL_TLS_CERT"
        raise SettingsError(
            f"{missing}: required with "
            f"{'TICKETCLOCK_TEMPORAL_TLS_CERT' if cert else 'TICKETCLOCK_TEMPORAL_TLS_KEY'} "
            "(mTLS needs both the client certificate and its private key)"
        )
    if cert or key or ca:
        return TLSConfig(
            client_cert=_read("TICKETCLOCK_TEMPORAL_TLS_CERT", cert) if cert else None,
            client_private_key=_read("TICKETCLOCK_TEMPORAL_TLS_KEY", key) if key else None,
            server_root_ca_cert=_read("TICKETCLOCK_TEMPORAL_TLS_CA", ca) if ca else None,
        )
    if settings.temporal_tls or settings.temporal_api_key:
        return True
    return None


def codec(
    settings: Settings, runtime: temporalio.runtime.Runtime | None = None
) -> EncryptionCodec | None:
    """The payload codec for TICKETCLOCK_CODEC_KEYS (None when unset: payloads in plain JSON).

    Failures are counted on `runtime`'s meter (the worker's Prometheus runtime), else the default
    runtime's."""
    if not settings.codec_keys:
        return None
    meter = (runtime or temporalio.runtime.Runtime.default()).metric_meter
    return EncryptionCodec(settings.codec_keys, meter=meter)


def data_converter(
    settings: Settings, runtime: temporalio.runtime.Runtime | None = None
) -> DataConverter:
    """The pydantic converter, with the payload codec when keys are set (clients, replayers)."""
    payload_codec = codec(settings, runtime)
    if payload_codec is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=payload_codec)


def describe(settings: Settings) -> str:
    """Where we connect, for logs and error messages (never the API key)."""
    tls = tls_config(settings)
    how = "plaintext" if tls is None else "TLS"
    if settings.temporal_tls_cert:
        how = "mTLS"
    if settings.temporal_api_key:
        how += " + API key"
    return f"{settings.temporal_address} (namespace {settings.temporal_namespace}, {how})"


async def connect(
    settings: Settings,
    *,
    interceptors: Sequence[Interceptor] = (),
    runtime: temporalio.runtime.Runtime | None = None,
) -> Client:
    """Connect to the configured Temporal frontend with the pydantic data converter (and the
    payload codec when TICKETCLOCK_CODEC_KEYS is set).

    Raises `SettingsError` for unreadable or half-given TLS settings and `TemporalConnectError`
    (naming the address, namespace and the variables to check) when the server cannot be reached.
    """
    tls = tls_config(settings)
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            api_key=settings.temporal_api_key,
            tls=tls,
            data_converter=data_converter(settings, runtime),
            interceptors=with_tracing(interceptors),
            connect_timeout=timedelta(seconds=10),
            runtime=runtime,
        )
    except RuntimeError as exc:
        hint = "is the server running? Check TICKETCLOCK_TEMPORAL_ADDRESS"
        if tls is not None:
            hint += ", the TICKETCLOCK_TEMPORAL_TLS* files"
        if settings.temporal_api_key:
            hint += " and TICKETCLOCK_TEMPORAL_API_KEY"
        raise TemporalConnectError(
            f"cannot connect to Temporal at {describe(settings)}: {exc} ({hint})"
        ) from exc
