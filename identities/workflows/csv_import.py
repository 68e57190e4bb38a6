"""Import of identities received from another domain as a CSV file: each row created, matched or rejected, never half-written."""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identities.core import services, traits
from identities.core.errors import RuleViolation, ServiceError, require_permission
from identities.core.models import Identity
from identities.workflows import insi_adapter as insi
from identities.workflows.ins_integration import Reception, received_ins, reception_verify_ins

logger = logging.getLogger(__name__)

# Column → (required, what it holds). docs/workflows.md documents the same table.
COLUMNS = {
    "nom_naissance": (True, gettext_lazy("nom de naissance")),
    "prenoms_naissance": (True, gettext_lazy("prénoms de naissance, séparés par une espace, dans l'ordre de l'état civil")),
    "date_naissance": (True, gettext_lazy("JJ/MM/AAAA ou AAAA-MM-JJ (00 admis)")),
    "sexe": (True, gettext_lazy("M, F ou I")),
    "lieu_naissance": (False, gettext_lazy("code INSEE (COG) de la commune, ou 99 + pays")),
    "nom_utilise": (False, gettext_lazy("nom utilisé s'il diffère")),
    "prenom_utilise": (False, gettext_lazy("prénom utilisé s'il diffère")),
    "matricule_ins": (False, gettext_lazy("matricule INS sur 15 caractères (avec la clé)")),
    "oid": (False, gettext_lazy("OID de l'autorité du matricule (obligatoire avec le matricule)")),
    "identifiant_externe": (False, gettext_lazy("identifiant chez l'émetteur, repris dans le compte rendu")),
}
MAX_ROWS = 10_000
_FIELD_LABELS = {**traits.FIELD_LABELS, "matricule": "Matricule INS", "matricule_ins": "Matricule INS", "oid": "OID"}

CREATED, MATCHED, REJECTED = "created", "matched", "rejected"
RESULT_LABELS = {CREATED: gettext_lazy("créée"), MATCHED: gettext_lazy("rapprochée"), REJECTED: gettext_lazy("rejetée")}
INS_LABELS = {
    "": gettext_lazy("sans INS"),
    Reception.INTEGRATED: gettext_lazy("INS vérifié par INSi et intégré"),
    Reception.TRAITS_ONLY: gettext_lazy("INS non confirmé par INSi : traits seuls, alerte CIV"),
    Reception.ALREADY_QUALIFIED: gettext_lazy("identité déjà qualifiée ici : INS reçu non réintégré"),
    Reception.SAME_INS: gettext_lazy("INS déjà enregistré"),
    Reception.COLLISION: gettext_lazy("INS vérifié mais déjà porté par une autre identité : collision signalée"),
}


@dataclass
class RowReport:
    line: int
    result: str
    external_id: str = ""
    identity_id: int | None = None
    ins: str = ""
    reason: str = ""

    @property
    def result_label(self) -> str:
        return str(RESULT_LABELS[self.result])

    @property
    def ins_label(self) -> str:
        return str(INS_LABELS.get(self.ins, self.ins))


@dataclass
class ImportReport:
    rows: list[RowReport] = field(default_factory=list)

    def count(self, result: str) -> int:
        return sum(row.result == result for row in self.rows)


def _decode(content: bytes | str) -> str:
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RuleViolation(_("le fichier doit être encodé en UTF-8 (enregistrez-le en « CSV UTF-8 »)"), field="file") from None


class _Semicolons(csv.excel):
    """What spreadsheets write in French locales when the sniffer cannot tell."""

    delimiter = ";"


def _reader(text: str) -> csv.DictReader:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=";,\t")
    except csv.Error:
        dialect = _Semicolons
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name, (required, _what) in COLUMNS.items() if required and name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(_("colonnes obligatoires absentes : %(names)s") % {"names": ", ".join(missing)})
        if unknown:
            parts.append(_("colonnes inconnues : %(names)s") % {"names": ", ".join(unknown)})
        raise RuleViolation(" ; ".join(parts) + _(" (voir docs/workflows.md)"), field="file")
    reader.fieldnames = header
    return reader


def identities_import_csv(*, actor, content: bytes | str) -> ImportReport:
    """Import every row in its own transaction; a rejected row leaves nothing behind and says why."""
    require_permission(actor, "identities.import_identities_csv", _("Refusé : vous n'avez pas le droit d'importer des identités."))
    require_permission(actor, "identities.add_identity", _("Refusé : vous n'avez pas le droit de créer une identité."))
    reader = _reader(_decode(content))
    rows = []
    for row in reader:
        if len(rows) == MAX_ROWS:
            raise RuleViolation(_("fichier trop long : %(max)d lignes au plus par import") % {"max": MAX_ROWS}, field="file")
        rows.append((reader.line_num, {name: (value or "").strip() for name, value in row.items() if name}))
    report = ImportReport()
    for line_number, values in rows:
        line = RowReport(line=line_number, result=REJECTED, external_id=values.get("identifiant_externe", ""))
        try:
            with transaction.atomic():
                _import_row(actor, values, line)
        except ServiceError as error:
            line.result, line.identity_id, line.ins = REJECTED, None, ""
            label = _FIELD_LABELS.get(error.field or "")
            line.reason = f"{label} : {error.message}" if label else error.message
        report.rows.append(line)
    logger.info("CSV import by user=%s: created=%s matched=%s rejected=%s", actor.pk,
                report.count(CREATED), report.count(MATCHED), report.count(REJECTED))
    return report


def _strict(values: dict) -> traits.StrictTraits:
    try:
        return traits.normalise_strict_traits(
            birth_name=values.get("nom_naissance", ""), birth_given_names=values.get("prenoms_naissance", ""),
            birth_date=values.get("date_naissance", ""), sex=values.get("sexe", ""), birthplace_code=values.get("lieu_naissance", ""),
        )
    except traits.TraitError as error:
        raise RuleViolation(error.message, field=error.field) from error


def _same_person(strict: traits.StrictTraits) -> list[Identity]:
    """Active identities with exactly these birth name, first given name, birth date and sex."""
    candidates = Identity.objects.filter(
        is_active=True, birth_name_key=traits.search_key(strict.birth_name), birth_date=strict.birth_date, sex=strict.sex
    )
    first = traits.search_key(strict.first_birth_given_name)
    return [c for c in candidates if traits.search_key(c.first_birth_given_name) == first]


def _import_row(actor, values: dict, line: RowReport) -> None:
    strict = _strict(values)
    ins_value, oid = values.get("matricule_ins", ""), values.get("oid", "")
    if bool(ins_value) != bool(oid):
        raise RuleViolation(_("matricule INS et OID vont ensemble : renseignez les deux ou aucun"), field="matricule_ins")
    ins = received_ins(ins_value, oid) if ins_value else ""
    same = _same_person(strict)
    if len(same) > 1:
        raise RuleViolation(_("plusieurs identités connues ont ces traits (n° %(ids)s) : rapprochement à faire par la CIV") % {
            "ids": ", ".join(str(c.pk) for c in same)})
    if same:
        identity, line.result = same[0], MATCHED
    else:
        outcome = services.identity_create(
            actor=actor, birth_name=strict.birth_name, birth_given_names=strict.birth_given_names, birth_date=strict.birth_date,
            sex=strict.sex, birthplace_code=strict.birthplace_code, used_name=values.get("nom_utilise", ""),
            used_given_name=values.get("prenom_utilise", ""),
        )
        if outcome.identity is None:
            raise RuleViolation(_("identité(s) proche(s) déjà connue(s) (n° %(ids)s) : rapprochement à faire par la CIV") % {
                "ids": ", ".join(str(c.pk) for c in outcome.candidates)})
        identity, line.result = outcome.identity, CREATED
    line.identity_id = identity.pk
    if ins:
        reception = reception_verify_ins(actor=actor, identity_id=identity.pk, matricule_value=ins, oid=oid,
                                         context=insi.manual(actor, identity.pk))
        line.ins, line.reason = reception.outcome, reception.message
