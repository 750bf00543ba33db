"""The payload codec on its own, and the codec server over real HTTP.

Keys, rotation (a new key in front), a retired key still listed, failures that must never decode
(unknown key id, tampered, truncated, relabelled) and their counter on the SDK runtime's meter;
then `/codec/decode` and `/codec/encode` as the Temporal UI and CLI call them.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.api.common.v1 import Payload
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig

from api.app import create_app
from api.auth import SESSION_COOKIE, issue_session
from plumbing.codec import (
    ENCODING,
    FAILURES,
    KEY_ID_METADATA,
    CodecError,
    EncryptionCodec,
)
from plumbing.settings import ApiToken, Settings, SettingsError, load_settings
from plumbing.temporal_client import codec as settings_codec
from plumbing.temporal_client import data_converter
from tests.support.api import ALL, READER, Served, api_settings, non_loopback_address
from ticketclock.devstack import DevStack

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
KEY_C = os.urandom(32)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def env_keys(*pairs: tuple[str, bytes]) -> str:
    return ",".join(f"{key_id}:{b64(key)}" for key_id, key in pairs)


def plain(data: bytes, encoding: bytes = b"json/plain") -> Payload:
    return Payload(metadata={"encoding": encoding}, data=data)


SECRET = b'{"subject":"Our VPN password is hunter2","customer":{"name":"Acme Corp"}}'


# -- settings ----------------------------------------------------------------------------------
def test_keys_from_the_environment_first_is_current() -> None:
    s = load_settings({"TICKETCLOCK_CODEC_KEYS": f" 2026-11:{b64(KEY_B)} , 2026-01:{b64(KEY_A)}"})
    assert s.codec_keys == (("2026-11", KEY_B), ("2026-01", KEY_A))
    assert b64(KEY_A) not in repr(s) and "2026-11" not in repr(s)  # keys are never printed
    codec = settings_codec(s)
    assert codec is not None and codec.current == "2026-11"
    assert settings_codec(load_settings({})) is None  # no key: no encryption


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (f"a{b64(KEY_A)}", "expected id:key"),
        (f":{b64(KEY_A)}", "expected id:key"),
        ("a:not base64!", "not standard base64"),
        (f"a:{b64(KEY_A[:16])}", "16 bytes, AES-256 needs 32"),
        (f"a:{base64.urlsafe_b64encode(bytes([251] * 32)).decode()}", "not standard base64"),
        (f"a:{b64(KEY_A)},a:{b64(KEY_B)}", "listed twice"),
        (f"a:{b64(KEY_A)},", "expected id:key"),
    ],
)
def test_bad_keys_name_the_variable_never_the_key(raw: str, says: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"TICKETCLOCK_CODEC_KEYS": raw})
    assert "TICKETCLOCK_CODEC_KEYS" in str(err.value) and says in str(err.value)
    assert b64(KEY_A) not in str(err.value) and b64(KEY_B) not in str(err.value)


# -- the codec ---------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(min_size=16, max_size=4096),
    extra=st.dictionaries(
        st.text("abcdefgh-", min_size=1, max_size=8), st.binary(max_size=32), max_size=3
    ),
)
def test_every_payload_round_trips_and_leaves_nothing_readable(
    data: bytes, extra: dict[str, bytes]
) -> None:
    codec = EncryptionCodec([("a", KEY_A)])
    original = Payload(metadata={"encoding": b"json/plain", **extra}, data=data)
    sealed = codec.encrypt(original)
    assert dict(sealed.metadata) == {"encoding": ENCODING, KEY_ID_METADATA: b"a"}
    assert data not in sealed.data
    assert codec.decrypt(sealed) == original
    assert codec.encrypt(original).data != sealed.data  # a fresh nonce every time


async def test_rotation_new_key_in_front_old_payloads_still_decode() -> None:
    before = EncryptionCodec([("a", KEY_A)])
    after = EncryptionCodec([("b", KEY_B), ("a", KEY_A)])
    [old] = await before.encode([plain(SECRET)])
    [new] = await after.encode([plain(SECRET)])
    assert old.metadata[KEY_ID_METADATA] == b"a" and new.metadata[KEY_ID_METADATA] == b"b"
    assert await after.decode([old, new]) == [plain(SECRET), plain(SECRET)]
    # Retired (no longer current, still listed) keeps decoding; unlisted refuses.
    retired = EncryptionCodec([("c", KEY_C), ("b", KEY_B), ("a", KEY_A)])
    assert await retired.decode([old, new]) == [plain(SECRET), plain(SECRET)]
    with pytest.raises(CodecError, match="key id 'b'.*not in TICKETCLOCK_CODEC_KEYS") as err:
        await before.decode([new])
    assert err.value.reason == "unknown_key"
    # Payloads written before any key was set are read as they are.
    assert await after.decode([plain(b'"x"')]) == [plain(b'"x"')]


def _tampered(sealed: Payload, index: int) -> Payload:
    data = bytearray(sealed.data)
    data[index] ^= 0x01
    return Payload(metadata=dict(sealed.metadata), data=bytes(data))


@settings(max_examples=100, deadline=None)
@given(data=st.binary(min_size=1, max_size=256), where=st.integers(min_value=0))
def test_any_flipped_bit_fails_loudly(data: bytes, where: int) -> None:
    codec = EncryptionCodec([("a", KEY_A)])
    sealed = codec.encrypt(plain(data))
    with pytest.raises(CodecError) as err:
        codec.decrypt(_tampered(sealed, where % len(sealed.data)))
    assert err.value.reason == "tampered"


def test_relabelled_truncated_and_unlabelled_payloads_fail() -> None:
    codec = EncryptionCodec([("b", KEY_B), ("a", KEY_A)])
    sealed = codec.encrypt(plain(SECRET))
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID_METADATA: b"a"}, data=sealed.data)
    truncated = Payload(metadata=dict(sealed.metadata), data=sealed.data[:20])
    unlabelled = Payload(metadata={"encoding": ENCODING}, data=sealed.data)
    reasons = []
    for bad in (relabelled, truncated, unlabelled):
        with pytest.raises(CodecError) as err:
            codec.decrypt(bad)
        reasons.append(err.value.reason)
    assert reasons == ["tampered", "malformed", "unknown_key"]
    assert codec.failures == {"tampered": 1, "malformed": 1, "unknown_key": 1}


async def test_failures_are_counted_on_the_sdk_runtime_meter() -> None:
    buffer = MetricBuffer(1000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    s = load_settings({"TICKETCLOCK_CODEC_KEYS": env_keys(("a", KEY_A))})
    converter = data_converter(s, runtime)
    assert isinstance(converter.payload_codec, EncryptionCodec)
    other = EncryptionCodec([("b", KEY_B)])
    sealed = converter.payload_codec.encrypt(plain(SECRET))
    for bad in (other.encrypt(plain(SECRET)), _tampered(sealed, 30), _tampered(sealed, 31)):
        with pytest.raises(CodecError):
            await converter.decode([bad])
    counted: dict[str, int] = {}
    for update in buffer.retrieve_updates():
        if update.metric.name == FAILURES:
            reason = str(update.attributes["reason"])
            counted[reason] = counted.get(reason, 0) + int(update.value)
    assert counted == {"unknown_key": 1, "tampered": 2}


# -- the codec server --------------------------------------------------------------------------
def _body(*payloads: Payload) -> dict[str, object]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


def _read(answer: httpx.Response) -> list[Payload]:
    return [
        Payload(
            metadata={k: base64.b64decode(v) for k, v in item.get("metadata", {}).items()},
            data=base64.b64decode(item.get("data", "")),
        )
        for item in answer.json()["payloads"]
    ]


UI_PORT = 18233
UI_ORIGIN = f"http://127.0.0.1:{UI_PORT}"


@pytest.fixture
async def codec_api() -> AsyncIterator[httpx.AsyncClient]:
    s = api_settings("codec-server", ui_port=UI_PORT)
    s = dataclasses.replace(s, codec_keys=(("b", KEY_B), ("a", KEY_A)))
    async with Served(create_app(s)) as served, httpx.AsyncClient(base_url=served.url) as http:
        yield http


async def test_the_ui_decodes_from_loopback_without_a_token(codec_api: httpx.AsyncClient) -> None:
    old = EncryptionCodec([("a", KEY_A)]).encrypt(plain(SECRET))
    headers = {"Origin": UI_ORIGIN, "X-Namespace": "default"}
    preflight = await codec_api.options(
        "/codec/decode",
        headers={
            **headers,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "x-namespace" in preflight.headers["access-control-allow-headers"].lower()
    assert "POST" in preflight.headers["access-control-allow-methods"]

    answer = await codec_api.post("/codec/decode", json=_body(old, plain(b"1")), headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == UI_ORIGIN
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert _read(answer) == [plain(SECRET), plain(b"1")]

    encoded = await codec_api.post("/codec/encode", json=_body(plain(SECRET)))  # the CLI: no Origin
    assert encoded.status_code == 200
    [sealed] = _read(encoded)
    assert sealed.metadata[KEY_ID_METADATA] == b"b" and b"hunter2" not in sealed.data
    back = await codec_api.post("/codec/decode", json=_body(sealed))
    assert _read(back) == [plain(SECRET)]


async def test_the_server_refuses_what_it_cannot_open(codec_api: httpx.AsyncClient) -> None:
    foreign = EncryptionCodec([("z", KEY_C)]).encrypt(plain(SECRET))
    answer = await codec_api.post("/codec/decode", json=_body(plain(b"1"), foreign))
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "CodecError"
    assert "'z'" in answer.json()["error"]["message"] and "hunter2" not in answer.text
    sealed = EncryptionCodec([("a", KEY_A)]).encrypt(plain(SECRET))
    answer = await codec_api.post("/codec/decode", json=_body(_tampered(sealed, 40)))
    assert answer.status_code == 400 and "tampered" in answer.json()["error"]["message"]
    answer = await codec_api.post("/codec/decode", content=b"not json")
    assert answer.status_code == 422


async def test_another_browser_origin_on_loopback_needs_a_token(
    codec_api: httpx.AsyncClient,
) -> None:
    sealed = EncryptionCodec([("a", KEY_A)]).encrypt(plain(SECRET))
    evil = {"Origin": "http://127.0.0.1:9999"}
    refused = await codec_api.post("/codec/decode", json=_body(sealed), headers=evil)
    assert refused.status_code == 401 and "hunter2" not in refused.text
    reader = await codec_api.post(
        "/codec/decode", json=_body(sealed), headers={**evil, "Authorization": f"Bearer {READER}"}
    )
    assert reader.status_code == 200 and _read(reader) == [plain(SECRET)]


async def test_a_remote_caller_needs_a_token_with_tickets_read() -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to call from")
    s = dataclasses.replace(
        api_settings("codec-remote"),
        api_host="0.0.0.0",  # noqa: S104
        codec_keys=(("a", KEY_A),),
        api_tokens=(
            *api_settings("x").api_tokens,
            ApiToken("creator", "creator-only-token-0123456789", frozenset({"tickets:create"})),
        ),
    )
    served = Served(create_app(s))
    served.server.config.host = "0.0.0.0"  # noqa: S104
    sealed = EncryptionCodec([("a", KEY_A)]).encrypt(plain(SECRET))
    async with served, httpx.AsyncClient(base_url=f"http://{address}:{served.port}") as http:
        statuses = []
        for token in (None, "wrong-token-0123456789", "creator-only-token-0123456789", ALL):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            answer = await http.post("/codec/decode", json=_body(sealed), headers=headers)
            statuses.append(answer.status_code)
            assert "hunter2" not in answer.text or answer.status_code == 200
        assert statuses == [401, 401, 403, 200]
        assert _read(answer) == [plain(SECRET)]


async def test_a_remote_browser_signed_in_to_the_board_decodes_with_its_session_cookie() -> None:
    """Issue 18: 'elsewhere it needs a token or the board's session cookie'. The cookie from
    /signin (read scope) opens /codec/decode from a non-loopback caller with no bearer header;
    a tampered, foreign or absent cookie is 401 and reveals nothing (fails on the code before:
    the cookie was ignored, 401)."""
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to call from")
    s = dataclasses.replace(
        api_settings("codec-cookie"),
        api_host="0.0.0.0",  # noqa: S104
        codec_keys=(("a", KEY_A),),
    )
    served = Served(create_app(s))
    served.server.config.host = "0.0.0.0"  # noqa: S104
    sealed = EncryptionCodec([("a", KEY_A)]).encrypt(plain(SECRET))
    origin = {"Origin": f"http://{address}:8233"}  # a Temporal UI on another port of this host
    async with served, httpx.AsyncClient(base_url=f"http://{address}:{served.port}") as http:
        signed_in = await http.post("/signin", data={"token": READER, "next": "/board"})
        assert signed_in.status_code == 303, signed_in.text
        cookie = signed_in.cookies[SESSION_COOKIE]
        http.cookies.clear()

        async def decode(value: str | None) -> httpx.Response:
            headers = {**origin, "Cookie": f"{SESSION_COOKIE}={value}"} if value else origin
            return await http.post("/codec/decode", json=_body(sealed), headers=headers)

        answer = await decode(cookie)
        assert answer.status_code == 200, answer.text
        assert _read(answer) == [plain(SECRET)]
        assert answer.headers["access-control-allow-credentials"] == "true"
        assert answer.headers["access-control-allow-origin"] == origin["Origin"]

        payload, mac = cookie.split(".")
        flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
        foreign = issue_session(ApiToken("e2e-reader", "another-secret-0123456789", frozenset()))
        for bad in (None, f"{payload}.{flipped}", f"{payload}x.{mac}", foreign):
            refused = await decode(bad)
            assert refused.status_code == 401, (bad, refused.text)
            assert "hunter2" not in refused.text
        # A bearer header is judged on its own: a wrong token beside a good cookie is refused.
        wrong = await http.post(
            "/codec/decode",
            json=_body(sealed),
            headers={
                **origin,
                "Cookie": f"{SESSION_COOKIE}={cookie}",
                "Authorization": "Bearer wrong-token-0123456789",
            },
        )
        assert wrong.status_code == 401


async def test_without_keys_encrypted_payloads_are_refused_plain_ones_echoed() -> None:
    async with (
        Served(create_app(api_settings("codec-off"))) as served,
        httpx.AsyncClient(base_url=served.url) as http,
    ):
        sealed = EncryptionCodec([("a", KEY_A)]).encrypt(plain(SECRET))
        assert (await http.post("/codec/decode", json=_body(sealed))).status_code == 400
        echoed = await http.post("/codec/decode", json=_body(plain(SECRET)))
        assert _read(echoed) == [plain(SECRET)]


# -- make run ----------------------------------------------------------------------------------
def test_make_run_points_the_ui_at_the_codec_server_only_with_keys(tmp_path: Path) -> None:
    base = Settings(data_dir=str(tmp_path), api_port=8123, ui_port=8234)
    with_keys = dataclasses.replace(base, codec_keys=(("a", KEY_A),))
    argv = DevStack(with_keys)._temporal_child().argv
    assert argv[argv.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:8123/codec"
    assert "--ui-codec-endpoint" not in DevStack(base)._temporal_child().argv
