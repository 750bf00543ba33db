"""Codec benchmark: what AES-256-GCM encryption costs per ticket (plumbing/codec.py).

    python -m bench.codec [--rounds N]

Takes every payload of the recorded plaintext histories (tests/histories/*.json: real tickets,
from open to close, incl. continue-as-new) that the codec would seal (everything but search
attributes and the SDK's local-activity marker bookkeeping), and times sealing them all
(`encode`, what the API and the worker do when they send) and opening them all (`decode`, what
the worker and every replay do when they read). Per ticket = per history file. Figures are
medians over `--rounds` passes; the last line is a one-line summary for CI logs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory

from plumbing.codec import EncryptionCodec

ROOT = Path(__file__).resolve().parents[1]
HISTORIES = ROOT / "tests" / "histories"


def sealed_payloads(history: WorkflowHistory) -> list[Payload]:
    """The payloads of `history` that pass through the codec."""
    found: list[Payload] = []

    def walk(message: Message) -> None:
        if isinstance(message, Payload):
            if "type" not in message.metadata and not message.data.startswith(b'{"seq":'):
                found.append(message)
            return
        for field, value in message.ListFields():
            if field.type != field.TYPE_MESSAGE:
                continue
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                items = list(value.values())
            elif isinstance(value, Message):
                items = [value]
            else:
                items = list(value)
            for item in items:
                walk(item)

    for event in history.events:
        walk(event)
    return found


async def bench(rounds: int) -> dict[str, float]:
    codec = EncryptionCodec([("bench-2", os.urandom(32)), ("bench-1", os.urandom(32))])
    tickets: list[list[Payload]] = []
    for path in sorted(HISTORIES.glob("*.json")):
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        tickets.append(sealed_payloads(history))
    encode_us: list[float] = []
    decode_us: list[float] = []
    for payloads in tickets:  # warm-up, not counted
        await codec.decode(await codec.encode(payloads))
    for _ in range(rounds):
        for payloads in tickets:
            start = time.perf_counter()
            sealed = await codec.encode(payloads)
            middle = time.perf_counter()
            opened = await codec.decode(sealed)
            end = time.perf_counter()
            assert opened == payloads
            encode_us.append((middle - start) * 1e6)
            decode_us.append((end - middle) * 1e6)
    count = [len(p) for p in tickets]
    plain_bytes = [sum(p.ByteSize() for p in t) for t in tickets]
    sealed_bytes = [sum(codec.encrypt(p).ByteSize() for p in t) for t in tickets]
    return {
        "tickets": len(tickets),
        "payloads_per_ticket": statistics.median(count),
        "plain_kib_per_ticket": statistics.median(plain_bytes) / 1024,
        "overhead_bytes_per_payload": (sum(sealed_bytes) - sum(plain_bytes)) / sum(count),
        "encode_us_per_ticket": statistics.median(encode_us),
        "decode_us_per_ticket": statistics.median(decode_us),
        "encode_us_mean": statistics.fmean(encode_us),
        "decode_us_mean": statistics.fmean(decode_us),
        "us_per_payload": (sum(encode_us) + sum(decode_us)) / (rounds * sum(count)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    r = asyncio.run(bench(args.rounds))
    print(f"codec: {r['tickets']:.0f} recorded tickets, {args.rounds} rounds, AES-256-GCM")
    print(f"  payloads per ticket (median)    {r['payloads_per_ticket']:.0f}")
    print(f"  payload bytes per ticket        {r['plain_kib_per_ticket']:.1f} KiB")
    print(f"  size overhead per payload       {r['overhead_bytes_per_payload']:.0f} bytes")
    print(f"  encode, all of a ticket's       {r['encode_us_per_ticket']:.0f} us (median)")
    print(f"  decode, all of a ticket's       {r['decode_us_per_ticket']:.0f} us (median)")
    print(
        f"  mean per ticket                 encode {r['encode_us_mean']:.0f} us, "
        f"decode {r['decode_us_mean']:.0f} us"
    )
    print(
        f"codec summary: encode {r['encode_us_per_ticket']:.0f} us + decode "
        f"{r['decode_us_per_ticket']:.0f} us per ticket, {r['us_per_payload']:.1f} us per "
        f"payload (both ways), +{r['overhead_bytes_per_payload']:.0f} B per payload"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
