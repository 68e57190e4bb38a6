"""HL7 messages built and delivered per second to a loopback MLLP receiver: the outbox's whole path (read the identity, diffusion gate, hl7apy build and validation, send, ACK, state row).

    DATABASE_URL=postgres://… python bench/interop_mllp.py [--messages 500] [--rounds 2]

Runs on a throwaway test database (created and dropped here), filled by
``generate_identities`` (every status, some with a shared INS). One PENDING A31 per
identity for one receiver: a thread on 127.0.0.1 answering a fixed AA (no parsing, so
the sender is what is timed). Two measures, the fastest of ``--rounds`` kept:

- build only: ``outbox.build`` per message (database read + hl7apy), messages/s and latency;
- delivery: ``outbox.deliver`` draining the queue over one connection, messages/s.

Writes its section of docs/benchmarks-interop.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interop_report import ROOT, machine, percentiles, write_section  # noqa: E402

MAX_MESSAGES = 5000  # a bench, not a load test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500, help=f"messages per round (max {MAX_MESSAGES})")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per measure, the fastest is kept (max 5)")
    args = parser.parse_args()
    count = max(50, min(args.messages, MAX_MESSAGES))
    rounds = max(1, min(args.rounds, 5))

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_databases, teardown_databases

    old_config = setup_databases(verbosity=0, interactive=False, serialized_aliases=[])
    try:
        call_command("generate_identities", str(count), "--seed", "20261128", stdout=open(os.devnull, "w"))
        results = run(count, rounds)
    finally:
        teardown_databases(old_config, verbosity=0)
    text = render(results, count=count, rounds=rounds)
    print(text)
    write_section("mllp", text)


def _acknowledger():
    """A receiving system that answers AA at once; returns (port, stop)."""
    from identities.interop.mllp import MllpServer

    def respond(raw: bytes) -> bytes:
        control_id = raw.split(b"|", 10)[9]  # MSH-10
        return b"MSH|^~\\&|SIH|CHU|||20240101||ACK|1|P|2.5\rMSA|AA|" + control_id

    server = MllpServer(("127.0.0.1", 0), respond=respond)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop():
        server.shutdown()
        server.server_close()

    return server.server_address[1], stop


def run(count: int, rounds: int) -> dict:
    from identities.core.diffusion import shareable_ins
    from identities.core.models import Identity
    from identities.interop import outbox
    from identities.interop.models import OutboxMessage, Receiver

    port, stop = _acknowledger()
    try:
        receiver = Receiver.objects.create(name="bench", host="127.0.0.1", port=port, timeout_seconds=5)
        identities = list(Identity.objects.order_by("pk")[:count])
        OutboxMessage.objects.bulk_create(
            OutboxMessage(receiver=receiver, identity=identity, trigger="A31", state=OutboxMessage.State.PENDING)
            for identity in identities
        )
        shared = sum(shareable_ins(identity) is not None for identity in identities)
        messages = list(OutboxMessage.objects.select_related("receiver").order_by("pk"))
        builds, deliveries = [], []
        for _ in range(rounds):
            timings = []
            started = time.perf_counter()
            for message in messages:
                begin = time.perf_counter()
                outbox.build(message)
                timings.append((time.perf_counter() - begin) * 1000)
            builds.append((count / (time.perf_counter() - started), timings))
            OutboxMessage.objects.update(state=OutboxMessage.State.PENDING, attempts=0)
            started = time.perf_counter()
            report = outbox.deliver(receiver.pk)
            elapsed = time.perf_counter() - started
            assert report.sent == count, report
            deliveries.append(count / elapsed)
    finally:
        stop()
    rate, timings = max(builds, key=lambda item: item[0])
    return {"build_rate": rate, "build_ms": percentiles(timings), "deliver_rate": max(deliveries), "shared": shared}


def render(results: dict, *, count: int, rounds: int) -> str:
    p50, p95, worst = results["build_ms"]
    return "\n".join([
        "## HL7 v2 over MLLP (bench/interop_mllp.py)",
        "",
        f"Measured {machine()}, PostgreSQL (a throwaway test database); {count} A31 messages for",
        f"{count} generated identities ({results['shared']} of them qualified, so sent with their INS),",
        f"the fastest of {rounds} rounds; the receiving system is a thread on 127.0.0.1 answering AA at once.",
        "",
        "| Measure | Messages/s | p50 (ms) | p95 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|",
        f"| Build only (`outbox.build`: identity + evidence read, gate, hl7apy build and validation) | {results['build_rate']:.0f} | {p50:.1f} | {p95:.1f} | {worst:.1f} |",
        f"| Delivered and acknowledged (`outbox.deliver`: build, send, ACK, state row) | {results['deliver_rate']:.0f} | | | |",
        "",
        "Reading: the sender is CPU-bound on hl7apy. A profile of `hl7v2.build_message` puts about",
        "three quarters of a message in hl7apy parsing the field values into its object model and",
        "a quarter in its structure validation; the database reads, the network and the ACK are a",
        "few milliseconds. A facility records identity events at a few per minute (thousands a day),",
        "so one sender per receiver keeps up with a wide margin; replaying a receiver's whole history",
        "(say 100,000 messages) takes about an hour. If that ever matters, the builder can write",
        "ER7 directly and leave hl7apy's validation to the tests, which already build every event for",
        "every status. The machine is shared with other work: read the figures as orders of magnitude.",
        "",
        f"Run again: `DATABASE_URL=postgres://… python bench/interop_mllp.py --messages {count} --rounds {rounds}`.",
    ])


if __name__ == "__main__":
    main()
