"""manage.py generate_identities: bulk-load realistic synthetic identities for volume tests and matching scores.

Per-row services are bypassed for speed: rows are written in batches (PostgreSQL COPY, or
bulk_create elsewhere) with their INS register row, document check and ground-truth label.
Every database constraint still applies, search keys come from ``refresh_search_keys`` and
no history rows or audit events are written: generated data has no past to audit.
"""
from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter
from itertools import islice

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg import sql

from identities.core import ipp as ipps
from identities.core import establishments, matricule, reference_data, roles
from identities.core.models import Birthplace, DocumentCheck, DocumentType, Identity, InsMatricule
from identities.matching import store, synthetic
from identities.matching.models import SyntheticLabel

# Below this size, dropping and rebuilding the secondary indexes costs more than it saves.
DEFER_INDEXES_FROM = 100_000


def _chunks(items, size: int):
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _Builder:
    """Builds instances positionally, Django's fast path (twice as fast as keywords), with the
    fields' own defaults for whatever is not given."""

    def __init__(self, model):
        self.model = model
        fields = model._meta.concrete_fields
        self.position = {field.attname: index for index, field in enumerate(fields)}
        per_row = [field.has_default() and callable(field.default) for field in fields]
        self.defaults = [None if fresh else field.get_default() for field, fresh in zip(fields, per_row, strict=True)]
        self.per_row = [(index, field.default) for index, (field, fresh) in enumerate(zip(fields, per_row, strict=True)) if fresh]

    def values(self, **given) -> list:
        """Every concrete field's value, in the model's field order."""
        args = list(self.defaults)
        for index, make in self.per_row:
            args[index] = make()
        for name, value in given.items():
            args[self.position[name]] = value
        return args

    def __call__(self, **given):
        return self.model(*self.values(**given))


class _Rows:
    """Model instances for one generated identity and what hangs from it."""

    def __init__(self, *, actor_id: int, document_ids: dict[str, int]):
        self.actor_id = actor_id
        self.establishment_id = establishments.default_establishment().pk
        self.document_ids = document_ids
        self.build = {model: _Builder(model) for model in (Identity, InsMatricule, DocumentCheck, SyntheticLabel)}

    def identity(self, record: synthetic.SyntheticIdentity, ipp: str = "", pk: int | None = None) -> Identity:
        identity = self.build[Identity](
            id=pk, ipp=ipp, birth_name=record.birth_name, birth_given_names=record.birth_given_names,
            first_birth_given_name=record.first_birth_given_name, birth_date=record.birth_date, sex=record.sex,
            birthplace_code=record.birthplace_code, used_name=record.used_name, used_given_name=record.used_given_name,
            status=record.status, doubtful=record.doubtful, fictitious=record.fictitious, homonym=record.homonym,
            ins_matricule=record.ins_matricule, ins_oid=record.ins_oid, channel=record.channel,
            last_insi_call_at=record.insi_at, last_verified_at=record.insi_at, validated_at=record.validated_at,
            created_at=record.created_at, updated_at=record.updated_at,
            created_by_id=self.actor_id, updated_by_id=self.actor_id, establishment_id=self.establishment_id,
        )
        identity.refresh_search_keys()  # bulk writes skip save(), which keeps them
        return identity

    def dependents(self, record: synthetic.SyntheticIdentity, identity_id: int):
        """(model, field values) of the INS register row, the document check and the label.

        Values rather than instances: COPY writes them as they are, which saves building
        hundreds of thousands of objects."""
        if record.ins_matricule:
            yield InsMatricule, self.build[InsMatricule].values(
                identity_id=identity_id, matricule=record.ins_matricule, oid=record.ins_oid,
                kind=InsMatricule.Kind.ACTIVE, source=InsMatricule.Source.INSI_RECOVERY,
                recorded_at=record.insi_at, recorded_by_id=self.actor_id,
            )
        if record.document:
            yield DocumentCheck, self.build[DocumentCheck].values(
                identity_id=identity_id, document_type_id=self.document_ids[record.document],
                expiry_date=record.document_expiry, validates=True, checked_at=record.validated_at,
                checked_by_id=self.actor_id,
            )
        if record.label:
            yield SyntheticLabel, self.build[SyntheticLabel].values(
                identity_id=identity_id, cluster=record.cluster, kind=record.label, detail=",".join(record.deviations)
            )


class _OrmWriter:
    """bulk_create: any database (auto_now fields are stamped with the load time)."""

    def __init__(self, rows: _Rows):
        self.rows = rows

    def write(self, records) -> None:
        with transaction.atomic():
            identities = Identity.objects.bulk_create(ipps.assign([self.rows.identity(record) for record in records]))
            by_model: dict[type, list] = {}
            for record, identity in zip(records, identities, strict=True):
                for model, values in self.rows.dependents(record, identity.pk):
                    by_model.setdefault(model, []).append(model(*values))
            for model, objects in by_model.items():
                model.objects.bulk_create(objects)

    def finish(self) -> None:
        pass


class _CopyWriter:
    """PostgreSQL COPY, ids reserved from the sequence so dependent rows can point at them.

    Two cores, two workers: this thread builds the rows of a batch while a writer thread,
    on its own connection, streams the previous batch to the server and commits it
    (waiting on the server releases the GIL). Each batch is one transaction.

    With ``defer_indexes``, the secondary (non-unique) indexes of the tables written are
    dropped first and rebuilt at the end, as PostgreSQL's guide to populating a database
    advises: maintaining some twenty indexes row by row is what makes a large load slow.
    Unique indexes stay, so every constraint is checked as rows arrive.
    """

    _MODELS = (Identity, InsMatricule, DocumentCheck, SyntheticLabel)

    def __init__(self, rows: _Rows, *, defer_indexes: bool):
        self.rows = rows
        self.columns = {model: self._columns(model) for model in self._MODELS}
        # Where each written column sits among the model's concrete fields.
        self.picks = {
            model: [model._meta.concrete_fields.index(field) for field in self.columns[model]] for model in self._MODELS
        }
        self.identity_fields = [field.attname for field in Identity._meta.concrete_fields]
        self.dropped: list[tuple[str, str]] = []
        if defer_indexes:
            self._drop_secondary_indexes()
        self.batches: queue.Queue = queue.Queue(maxsize=2)  # bounds memory to a few batches
        self.failure: BaseException | None = None
        self.writer = threading.Thread(target=self._drain, name="generate-identities-copy", daemon=True)
        self.writer.start()

    def _tables(self) -> list[str]:
        return [model._meta.db_table for model in self._MODELS]

    def _drop_secondary_indexes(self) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisunique AND NOT i.indisprimary ORDER BY c.relname",
                [self._tables()],
            )
            self.dropped = cursor.fetchall()
            for name, _definition in self.dropped:
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")

    @staticmethod
    def _columns(model) -> list[models.Field]:
        # Auto ids of dependent rows come from their sequence; Identity's are reserved.
        return [field for field in model._meta.concrete_fields
                if not (field.primary_key and isinstance(field, models.AutoField) and model is not Identity) and not field.generated]

    def write(self, records) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Identity._meta.db_table, len(records)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        batch: dict[type, list] = {model: [] for model in self._MODELS}
        for record, pk, number in zip(records, ids, ipps.allocate(len(records)), strict=True):
            identity = self.rows.identity(record, number, pk)
            batch[Identity].append([getattr(identity, name) for name in self.identity_fields])
            for model, values in self.rows.dependents(record, pk):
                batch[model].append(values)
        while True:
            if self.failure is not None:
                raise CommandError(_("Écriture interrompue : %(error)s") % {"error": self.failure}) from self.failure
            try:
                self.batches.put(batch, timeout=1)
                return
            except queue.Full:
                continue

    def _drain(self) -> None:
        """The writer thread: one transaction per batch, until the None that closes the queue."""
        try:
            while (batch := self.batches.get()) is not None:
                if self.failure is None:
                    try:
                        self._store(batch)
                    except Exception as error:  # reported by the next write() or by finish()
                        self.failure = error
        finally:
            connection.close()  # this thread's own connection

    def _store(self, batch: dict[type, list]) -> None:
        with transaction.atomic(), connection.cursor() as wrapper:
            cursor = wrapper.cursor  # psycopg's own cursor, for COPY
            for model, rows in batch.items():
                if rows:
                    self._copy(cursor, model, rows)

    def _copy(self, cursor, model, rows) -> None:
        """Stream rows of field values (in concrete-field order) into the model's table."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(model._meta.db_table),
            sql.SQL(", ").join(sql.Identifier(field.column) for field in self.columns[model]),
        )
        picks = self.picks[model]
        with cursor.copy(statement) as copy:
            for values in rows:
                copy.write_row([values[index] for index in picks])

    def finish(self) -> None:
        """Wait for the writer, rebuild what was dropped (also after a failure), refresh statistics."""
        self.batches.put(None)
        self.writer.join()
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '256MB'")
            while self.dropped:
                _name, definition = self.dropped[0]
                cursor.execute(definition)
                self.dropped.pop(0)
            cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(table) for table in self._tables()))
        if self.failure is not None:
            raise CommandError(_("Écriture interrompue : %(error)s") % {"error": self.failure}) from self.failure


class Command(BaseCommand):
    help = _(
        "Génère N identités synthétiques réalistes (noms et prénoms selon les fréquences INSEE, statuts, "
        "matricules INS de test, doublons avec erreurs de saisie et homonymes étiquetés dans SyntheticLabel). "
        "Chargement en masse, sans passer par les services : réservé aux bases de test et de démonstration."
    )

    def add_arguments(self, parser):
        parser.add_argument("count", type=int, help=_("Nombre d'identités à créer"))
        parser.add_argument("--seed", type=int, help=_("Graine du tirage (reproductible à base égale)"))
        parser.add_argument("--batch", type=int, default=5000, help=_("Identités par transaction (défaut 5000)"))
        parser.add_argument(
            "--writer", choices=["auto", "copy", "orm"], default="auto",
            help=_("copy : COPY PostgreSQL ; orm : bulk_create ; auto : copy sur PostgreSQL (défaut)"),
        )
        parser.add_argument(
            "--indexes", choices=["auto", "keep", "rebuild"], default="auto",
            help=_("Avec COPY, index secondaires supprimés pendant le chargement puis reconstruits (rebuild) ou "
                   "maintenus (keep) ; auto : rebuild dès %(n)d identités si la table au moins double")
            % {"n": DEFER_INDEXES_FROM},
        )

    def handle(self, *args, count: int, seed: int | None, batch: int, writer: str, indexes: str, **options):
        if count < 1 or batch < 1:
            raise CommandError(_("Le nombre d'identités et la taille des lots doivent être positifs."))
        if settings.INS_ENVIRONMENT == "production":
            raise CommandError(_("Refusé : identités synthétiques interdites quand INS_ENVIRONMENT=production."))
        use_copy = writer == "copy" or (writer == "auto" and connection.vendor == "postgresql")
        if use_copy and connection.vendor != "postgresql":
            raise CommandError(_("--writer copy exige PostgreSQL."))
        seed = seed if seed is not None else random.SystemRandom().randrange(2**31)

        generator = self._generator(seed)
        actor = roles.system_user()
        document_ids = dict(DocumentType.objects.filter(code__in=[code for code, _expiry in self._documents()])
                            .values_list("code", "pk"))
        rows = _Rows(actor_id=actor.pk, document_ids=document_ids)
        started = time.monotonic()
        defer_indexes = use_copy and (indexes == "rebuild" or (indexes == "auto" and self._large_load(count)))
        sink = _CopyWriter(rows, defer_indexes=defer_indexes) if use_copy else _OrmWriter(rows)
        self.stdout.write(_("Génération de %(count)d identités (graine %(seed)d, écriture %(how)s)…")
                          % {"count": count, "seed": seed, "how": "COPY" if use_copy else "bulk_create"})
        if defer_indexes:
            self.stdout.write(_("  index secondaires supprimés pendant le chargement, reconstruits à la fin"))
        try:
            tally = self._load(generator, sink, count=count, batch=batch, started=started)
        finally:
            sink.finish()
        self._summary(tally, count, time.monotonic() - started)
        keyed = time.monotonic()
        written = store.keys_rebuild(only_missing=True)  # the desk finds the generated identities through their keys
        self.stdout.write(_("  %(n)d clés de rapprochement en %(s).1f s") % {"n": written, "s": time.monotonic() - keyed})

    def _load(self, generator, sink, *, count: int, batch: int, started: float) -> Counter:
        tally, done = Counter(), 0
        report_every = max(batch, count // 10)
        for chunk in _chunks(generator.generate(count), batch):
            sink.write(chunk)
            for record in chunk:
                tally.update(key for key, counted in (
                    (record.status, True), (record.label, bool(record.label)), ("NIA", record.ins_oid == matricule.NIA_OID),
                    ("HOMA", record.homonym), ("DOUT", record.doubtful), ("FICT", record.fictitious),
                    ("used_name", bool(record.used_name)),
                ) if counted)
            done, before = done + len(chunk), done
            if done // report_every != before // report_every or done == count:
                elapsed = time.monotonic() - started
                self.stdout.write(f"  {done} / {count} ({done / elapsed:.0f} identités/s)")
        return tally

    @staticmethod
    def _large_load(count: int) -> bool:
        """Big enough, and at least doubling the table, for a rebuild of its indexes to pay off."""
        if count < DEFER_INDEXES_FROM:
            return False
        with connection.cursor() as cursor:  # the planner's estimate: no COUNT(*) over a big table
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [Identity._meta.db_table])
            estimate = cursor.fetchone()[0]
        return count >= estimate

    def _documents(self) -> list[tuple[str, bool]]:
        high_trust = DocumentType.objects.filter(trust=DocumentType.Trust.HIGH, active=True)
        return list(high_trust.values_list("code", "requires_expiry"))

    def _generator(self, seed: int) -> synthetic.IdentityGenerator:
        if not Birthplace.objects.exclude(kind=Birthplace.Kind.COUNTRY).exists():
            added = reference_data.ensure_demo_places()
            self.stdout.write(_("Référentiel COG vide : %(n)d codes de démonstration ajoutés "
                                "(chargez le référentiel complet avec load_birthplaces).") % {"n": added})
        places = list(Birthplace.objects.values_list("code", "kind"))
        documents = self._documents()
        if not documents:
            raise CommandError(_("Aucun type de pièce d'identité à haut niveau de confiance n'est actif."))
        taken = set(Identity.objects.filter(ins_matricule__isnull=False).values_list("ins_matricule", flat=True)
                    .iterator(chunk_size=50_000))
        last_cluster = SyntheticLabel.objects.aggregate(last=Max("cluster"))["last"] or 0
        return synthetic.IdentityGenerator(
            seed=seed,
            communes=[code for code, kind in places if kind != Birthplace.Kind.COUNTRY],
            # 99100 is France itself: never a birthplace abroad.
            countries=[code for code, kind in places if kind == Birthplace.Kind.COUNTRY and code != reference_data.FRANCE_CODE],
            documents=documents,
            nir_oid=matricule.NIR_OID,
            nia_oid=matricule.NIA_OID,
            taken=taken,
            now=timezone.now(),
            first_cluster=last_cluster + 1,
        )

    def _summary(self, tally: Counter, count: int, elapsed: float) -> None:
        self.stdout.write(self.style.SUCCESS(
            _("%(count)d identités créées en %(seconds).1f s.") % {"count": count, "seconds": elapsed}
        ))
        self.stdout.write("  " + ", ".join(f"{status} {tally[status]}" for status in ("PROV", "RECUP", "VALI", "QUAL")))
        self.stdout.write("  " + _(
            "matricules NIA %(nia)d ; homonymes (HOMA) %(homa)d ; douteuses %(dout)d ; fictives %(fict)d ; noms d'usage %(used)d"
        ) % {"nia": tally["NIA"], "homa": tally["HOMA"], "dout": tally["DOUT"], "fict": tally["FICT"],
             "used": tally["used_name"]})
        self.stdout.write("  " + _("étiquettes : %(orig)d fiches d'origine, %(dup)d doublons, %(hom)d homonymes") % {
            "orig": tally[synthetic.ORIGINAL], "dup": tally[synthetic.DUPLICATE], "hom": tally[synthetic.HOMONYM]})
