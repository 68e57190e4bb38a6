"""The engine's Django side: identities as records, their stored key codes, the stored model, the thresholds."""
from __future__ import annotations

import hashlib
import random
from datetime import datetime, timezone
from functools import lru_cache
from typing import Iterable, Iterator

import numpy as np
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.expressions import RawSQL

from identities.core.models import Identity, InsMatricule
from identities.matching.blocking import blocking_keys, key_code, key_codes
from identities.matching.model import Model
from identities.matching.models import MatchingSettings, MatchKey, MatchModel
from identities.matching.records import Record, name_sound
from identities.matching.rules import Bands
from identities.matching.table import Table, encode, stable_hash

RECORD_FIELDS = ("id", "ipp", "birth_name", "birth_given_names", "first_birth_given_name", "birth_date", "sex",
                 "birthplace_code", "used_name", "used_given_name", "ins_matricule")
# The desk's own key, for a search typed with a name alone (no engine key holds one trait only):
# the sound of the name, salted apart from the engine's codes. The sweep never uses it.
_NAME_ONLY_SALT = np.uint64(stable_hash("desk:name-sound"))


def ids_in(field: str, ids: list[int]) -> Q:
    """``field IN ids``; for thousands of ids on PostgreSQL, one array parameter (a parameter per
    id, bound and parsed one by one, made reading back 86,000 records 3.4 s instead of 0.7). A
    few ids (the desk) keep the plain list: planned through the array, a check at 1M took twice as long."""
    if connection.vendor == "postgresql" and len(ids) > 1000:
        return Q(**{f"{field}__in": RawSQL("SELECT unnest(%s::bigint[])", [ids])})
    return Q(**{f"{field}__in": ids})


def record(values: dict | Identity, *, reported: tuple[str, ...] = ()) -> Record:
    get = values.get if isinstance(values, dict) else lambda name, default=None: getattr(values, name, default)
    own = get("ins_matricule") or None
    return Record(
        ins_reported=tuple(m for m in reported if m != own),
        id=get("id"), birth_name=get("birth_name") or "", birth_given_names=get("birth_given_names") or "",
        first_birth_given_name=get("first_birth_given_name") or "", birth_date=get("birth_date") or "",
        sex=get("sex") or "", birthplace_code=get("birthplace_code") or "", used_name=get("used_name") or "",
        used_given_name=get("used_given_name") or "", ins_matricule=get("ins_matricule") or None, ipp=str(get("ipp") or ""),
    )


def reported_matricules(ids: Iterable[int] | None = None) -> dict[int, tuple[str, ...]]:
    """identity id → the matricules the register holds for it, still valid (INSACTIF, INSHISTO):
    how the same INS shows on two stored identities, since no two identities hold one matricule
    (``Identity.ins_matricule`` is unique); ``record`` keeps those besides the identity's own.

    Invalidated rows are left out: a matricule withdrawn from an identity says nothing of its person.
    For the whole base (the sweep) only the rows other than the identity's own come back (a join,
    streamed); for a few hundred identities (the desk) one plain indexed query (the join's
    planning and a server-side cursor cost 7 ms a check at 1,000,000).
    """
    rows = InsMatricule.objects.filter(invalidated_at__isnull=True).order_by().values_list("identity_id", "matricule")
    if ids is None:
        rows = (rows.filter(identity__is_active=True).exclude(matricule=F("identity__ins_matricule"))
                .iterator(chunk_size=20_000))
    else:
        rows = rows.filter(ids_in("identity_id", list(ids)))
    found: dict[int, set[str]] = {}
    for identity_id, value in rows:
        found.setdefault(identity_id, set()).add(value)
    return {identity_id: tuple(sorted(values)) for identity_id, values in found.items()}


def identity_record(identity: Identity) -> Record:
    """One stored identity as the engine sees it, the matricules reported for it included."""
    return record(identity, reported=reported_matricules([identity.pk]).get(identity.pk, ()) if identity.pk else ())


def active_records(*, chunk_size: int = 20_000) -> Iterator[Record]:
    """Every active identity, streamed (a 1M-row base is read once, never held as model instances)."""
    reported = reported_matricules()
    rows = Identity.objects.filter(is_active=True).order_by("pk").values(*RECORD_FIELDS)
    for row in rows.iterator(chunk_size=chunk_size):
        yield record(row, reported=reported.get(row["id"], ()))


def active_table() -> Table:
    """The whole active base as the sweep's table: records streamed into columns, none kept
    (the explanations read back the few records of the proposed pairs: ``records_by_id``)."""
    return encode(active_records(), keep_records=False)


def records_by_id(ids: Iterable[int]) -> list[Record]:
    ids = list(ids)
    found = []
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        reported = reported_matricules(chunk)
        found += [record(row, reported=reported.get(row["id"], ()))
                  for row in Identity.objects.filter(ids_in("pk", chunk), is_active=True).values(*RECORD_FIELDS)]
    return found


# --- Stored key codes ---

def _name_only_code(sound: str) -> int:
    return int((np.uint64(stable_hash(sound)) ^ _NAME_ONLY_SALT).astype(np.int64)) if sound else 0


def record_codes(value: Record) -> set[int]:
    """The codes stored for one identity (and looked up for a desk search): the engine's keys, and the name sounds."""
    codes = {key_code(key) for key in blocking_keys(value)}
    codes |= {_name_only_code(name_sound(name)) for name in (value.birth_name, value.used_name) if name}
    return codes - {0}


def lookup_codes(value: Record) -> set[int]:
    """The codes to look up for one identity: the engine's keys; the name sounds only when it gives none (a name typed alone).

    A sound alone is a whole surname's group (MARTIN): looked up only when nothing better exists.
    """
    return {key_code(key) for key in blocking_keys(value)} or record_codes(value)


def table_codes(table: Table) -> tuple[np.ndarray, np.ndarray]:
    """(codes, identity ids) of many records at once: the same numbers ``record_codes`` gives, vectorised."""
    codes, rows = key_codes(table)
    sounds = [(table.hashes[table.bsound], table.bcore > 0), (table.hashes[table.usound], table.ucore > 0)]
    all_codes, all_rows = [codes], [rows]
    for hashes, present in sounds:
        present &= hashes != 0
        all_codes.append((hashes[present] ^ _NAME_ONLY_SALT).astype(np.int64))
        all_rows.append(np.flatnonzero(present))
    codes, rows = np.concatenate(all_codes), np.concatenate(all_rows)
    pairs = np.unique(np.stack([table.ids[rows].astype(np.int64), codes], axis=1), axis=0)
    return pairs[:, 1], pairs[:, 0]


def keys_refresh(identity: Identity) -> None:
    """Replace one identity's stored codes (inside the caller's transaction: they commit with its change)."""
    MatchKey.objects.filter(identity_id=identity.pk).delete()
    if identity.is_active:
        MatchKey.objects.bulk_create([MatchKey(identity_id=identity.pk, code=code) for code in record_codes(identity_record(identity))])


def keys_rebuild(*, only_missing: bool = False, batch: int = 100_000) -> int:
    """Compute the codes of every active identity (or of those that have none) in bulk; returns rows written.

    After a bulk load (``generate_identities``, ``import_identities_csv --bulk``), which bypass
    the services and so the events that keep the codes up to date.
    """
    written = 0
    with transaction.atomic():
        if not only_missing:
            MatchKey.objects.all().delete()
        ids = Identity.objects.filter(is_active=True)
        if only_missing:
            ids = ids.exclude(pk__in=MatchKey.objects.values("identity_id"))
        ids = list(ids.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=50_000))
        for start in range(0, len(ids), batch):
            table = encode(records_by_id(ids[start:start + batch]), keep_records=False)
            codes, owners = table_codes(table)
            written += _write_codes(codes, owners)
    if connection.vendor == "postgresql":
        # Fresh statistics: never analysed after a 22-million-row load, the planner took each
        # desk lookup for 1.3 million rows and ran it as a parallel heap scan (1.5 s a check at 1M).
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {MatchKey._meta.db_table}")
    return written


def _write_codes(codes: np.ndarray, owners: np.ndarray) -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as wrapper:
            cursor = wrapper.cursor  # psycopg's own, for COPY
            with cursor.copy(f"COPY {MatchKey._meta.db_table} (identity_id, code) FROM STDIN") as copy:
                for owner, code in zip(owners.tolist(), codes.tolist()):
                    copy.write_row((owner, code))
    else:
        MatchKey.objects.bulk_create(
            (MatchKey(identity_id=owner, code=code) for owner, code in zip(owners.tolist(), codes.tolist())), batch_size=5000
        )
    return len(codes)


def candidate_ids(codes: Iterable[int], *, exclude_id: int | None = None, limit: int = 5000) -> list[int]:
    """Active identities holding any of these codes (the indexed ``code IN``), at most ``limit``."""
    qs = MatchKey.objects.filter(code__in=list(codes))
    if exclude_id is not None:
        qs = qs.exclude(identity_id=exclude_id)
    return list(qs.values_list("identity_id", flat=True).distinct()[:limit])


# --- The model and the thresholds ---

def bands() -> Bands:
    row = MatchingSettings.objects.order_by("pk").first()
    return Bands(probable=row.probable, possible=row.possible) if row else Bands()


def model_save(model: Model, *, identities: int, source: str = MatchModel.Source.SWEEP) -> MatchModel:
    return MatchModel.objects.create(data=model.to_json(), identities=identities, source=source)


def current_model() -> Model:
    """The newest stored model; before any sweep, one estimated on generated identities (stored, so once per base)."""
    pk = MatchModel.objects.values_list("pk", flat=True).first()
    if pk is not None:
        return stored_model(pk)
    model = generated_model()
    model_save(model, identities=0, source=MatchModel.Source.GENERATED)
    return model


@lru_cache(maxsize=4)
def stored_model(pk: int) -> Model:
    """A stored model, read and parsed once per process (its frequency table is megabytes at 1M identities)."""
    return Model.from_json(MatchModel.objects.values_list("data", flat=True).get(pk=pk))


def generator(seed: int):
    """Generated French identities without a database: commune-like COG codes in every department, a few countries."""
    from identities.matching import synthetic

    rng = random.Random(seed)
    departments = [f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B"]
    communes = sorted({f"{dep}{rng.randint(1, 700):03d}" for dep in departments for _ in range(60)})
    return synthetic.IdentityGenerator(
        seed=seed, communes=communes, countries=["99134", "99350", "99352", "99109"], documents=[("cni", True)],
        nir_oid="1.2.250.1.213.1.4.8", nia_oid="1.2.250.1.213.1.4.9", taken=set(), now=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )


@lru_cache(maxsize=1)
def generated_model(size: int = 20_000, seed: int = 1) -> Model:
    """m/u, prior and name frequencies learnt by EM on labelled-free generated French identities (a few seconds)."""
    from identities.matching import sweep

    records = [Record(id=i, birth_name=p.birth_name, used_name=p.used_name, birth_given_names=p.birth_given_names,
                      first_birth_given_name=p.first_birth_given_name, birth_date=p.birth_date, sex=p.sex,
                      birthplace_code=p.birthplace_code, ins_matricule=p.ins_matricule)
               for i, p in enumerate(generator(seed).generate(size))]
    return sweep.sweep(records).model


# --- Fingerprints ---

def fingerprint(a: Record, b: Record) -> str:
    """Of both identities' traits: a dismissed pair is brought back only when one of them changes."""
    # A matricule INSi reported for one of them counts too (it may make the pair the same INS);
    # added only when there is one, so the fingerprints of pairs without any stay as they were.
    text = "|".join(
        "\x1f".join([str(getattr(r, name) or "") for name in RECORD_FIELDS if name not in ("id", "ipp")]
                     + ([",".join(r.ins_reported)] if r.ins_reported else []))
        for r in sorted((a, b), key=lambda r: r.id)
    )
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
