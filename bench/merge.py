"""Merging at scale: one heavy identity merged with its A40 delivered over loopback MLLP, and 1,000 proven pairs merged in a batch.

    DATABASE_URL=postgres://… python bench/merge.py [--pairs 1000] [--rounds 3]

Runs on a throwaway test database (created and dropped here). Measures, the fastest of
``--rounds`` kept for the first:

- heavy merge: the absorbed record holds 1,000 events, 50 document checks and 200 outbox
  messages; time of ``merge_request`` (one transaction, every carried row with its audit),
  then until its A40 is acknowledged by a loopback receiver (``outbox.deliver``);
- batch: ``merge_proven_pairs`` over ``--pairs`` proven duplicates (PROV/VALI), one
  transaction each, an active receiver so every merge also writes its outbox row.

Prints the figures with the load average; docs/benchmarks.md keeps them.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _acknowledger():
    from identities.interop.mllp import MllpServer

    def respond(raw: bytes) -> bytes:
        control_id = raw.split(b"|", 10)[9]
        return b"MSH|^~\\&|SIH|CHU|||20240101||ACK|1|P|2.5\rMSA|AA|" + control_id

    server = MllpServer(("127.0.0.1", 0), respond=respond)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _identity(n: int, **fields):
    from identities.core import establishments
    from identities.core.models import Identity

    fields.setdefault("establishment", establishments.default_establishment())
    identity = Identity(birth_name=f"BENCH{n:07d}".replace("0", "A").replace("1", "B")[:30], birth_given_names="JEANNE MARIE",
                        first_birth_given_name="JEANNE", birth_date="1980-05-17", sex="F", birthplace_code="63220", **fields)
    identity.refresh_search_keys()
    return identity


def _pairs(count: int, start: int, actor):
    """``count`` proven duplicate pairs written in bulk (the bench times the merges, not the setup)."""
    from identities.core import ipp
    from identities.core.models import Identity, IdentityLink

    rows = Identity.objects.bulk_create(ipp.assign([_identity(start + n, created_by=actor) for n in range(2 * count)]))
    pairs = [(rows[2 * n].pk, rows[2 * n + 1].pk) for n in range(count)]
    IdentityLink.objects.bulk_create(
        [IdentityLink(kind=IdentityLink.Kind.DOUA, identity_id=a, other_id=b, created_by=actor) for a, b in pairs]
    )
    return pairs


def heavy(actor, receiver, serial: int) -> tuple[float, float]:
    from django.utils import timezone

    from identities.core.models import DocumentCheck, DocumentType, IdentityEvent
    from identities.interop import outbox
    from identities.interop.models import OutboxMessage
    from identities.merge.services import merge_request

    (survivor_id, absorbed_id), = _pairs(1, serial, actor)
    passport = DocumentType.objects.get(code="passeport")
    IdentityEvent.objects.bulk_create([IdentityEvent(identity_id=absorbed_id, kind="TRAITS", actor=actor, actor_name="bench")
                                       for _ in range(1000)])
    first_event = IdentityEvent.objects.filter(identity_id=absorbed_id).first()
    DocumentCheck.objects.bulk_create([DocumentCheck(identity_id=absorbed_id, document_type=passport, checked_at=timezone.now(),
                                                     checked_by=actor, validates=False) for _ in range(50)])
    OutboxMessage.objects.bulk_create([OutboxMessage(receiver=receiver, identity_id=absorbed_id, event=first_event, trigger="A31",
                                                     state=OutboxMessage.State.SENT) for _ in range(200)])
    began = time.perf_counter()
    merge_request(actor=actor, first_id=survivor_id, second_id=absorbed_id)
    merged = time.perf_counter() - began
    outbox.sweep(now=timezone.now() + timedelta(minutes=2))  # the commit hook's release, without a worker
    outbox.deliver(receiver.pk)
    a40 = OutboxMessage.objects.get(identity_id=survivor_id, trigger="A40")
    assert a40.state == OutboxMessage.State.SENT, a40.last_error
    return merged, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test.utils import setup_databases, teardown_databases

    from identities.core import roles

    old_config = setup_databases(verbosity=0, interactive=False, serialized_aliases=[])
    server = _acknowledger()
    try:
        from identities.interop.models import Receiver
        from identities.merge.services import merge_proven_pairs

        actor = get_user_model().objects.create_user(username="bench.civ")
        actor.groups.add(Group.objects.get(name=roles.CIV_REFERENT))
        receiver = Receiver.objects.create(name="bench", host="127.0.0.1", port=server.server_address[1], timeout_seconds=5)
        runs = [heavy(actor, receiver, 10 * round_) for round_ in range(max(1, args.rounds))]
        merged, delivered = min(runs)
        pairs = _pairs(args.pairs, 100_000, actor)
        began = time.perf_counter()
        done, refused = merge_proven_pairs(actor=actor, pairs=pairs)
        batch = time.perf_counter() - began
        assert not refused, refused[:3]
    finally:
        server.shutdown()
        server.server_close()
        teardown_databases(old_config, verbosity=0)
    load = os.getloadavg()
    print(f"heavy merge (1,000 events, 50 checks, 200 outbox messages): {merged:.3f} s; with its A40 acknowledged over MLLP: {delivered:.3f} s")
    print(f"batch: {len(done)} merges in {batch:.1f} s ({len(done) / batch:.1f} merges/s)")
    print(f"load average (1, 5, 15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
