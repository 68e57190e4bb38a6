"""manage.py seed_demo: demo users (one per role) and a few dozen demo identities, created through the services."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from identities.core import matricule, reference_data, roles, selectors, services, traits, worklists
from identities.core.errors import ServiceError
from identities.core.models import Attribute, DocumentType, Identity, WorklistItem
from identities.matching import pairs
from insi.simulator import catalog


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    first_name: str
    last_name: str


DEMO_USERS = (
    DemoUser("demo.accueil", roles.FRONT_DESK, "Camille", "Accueil"),
    DemoUser("demo.civ", roles.CIV_MEMBER, "Dominique", "Vigilance"),
    DemoUser("demo.referent", roles.CIV_REFERENT, "Sacha", "Référent"),
    DemoUser("demo.direction", roles.MANAGER, "Morgan", "Direction"),
    DemoUser("demo.admin", roles.ADMINISTRATOR, "Alex", "Administration"),
)


@dataclass(frozen=True)
class Demo:
    """A person as the front desk types them, then what happens to their identity."""

    birth_name: str
    given_names: str
    sex: str
    birth_date: str
    birthplace: str = ""
    used_name: str = ""
    used_given_name: str = ""
    document: str = ""  # code of the identity document checked at the desk
    companion: str = ""  # the parent's document for a minor, a carte Vitale with photo...
    insi: bool = False  # INSi returns the person (code 00): the simulator's catalogue knows them (DEMO_PATIENTS)
    withdraw_document: bool = False
    attributes: tuple[str, ...] = ()
    homonym: bool = False  # one of a homonym pair the CIV confirms in its worklist (HOMA on both, linked)


DEMO_IDENTITIES = (
    # Provisional: typed at the desk, nothing checked yet.
    Demo("Dubois", "Léa", "F", "1992-04-11", "75112"),
    # The same person typed again at another desk, without her birthplace: a potential duplicate for the CIV.
    Demo("Dubois", "Léa", "F", "1992-04-11"),
    Demo("N'Diaye", "Aminata", "F", "1988-09-03", "99341"),
    Demo("Leroy", "Hugo", "M", "2001-07-30"),  # birthplace not known at entry
    Demo("Ouédraogo", "Issa", "M", "1970-00-00", "99331"),  # day and month unknown
    Demo("Dupont", "Marie-Christine", "F", "1955-05-05", "59350", used_name="Leclerc", used_given_name="Christine"),
    Demo("Blanc", "Nathalie", "F", "1966-02-14", "13208", document="permis-conduire"),  # does not validate
    # Validated: a high-trust document checked, no INSi result yet.
    Demo("Petit", "Camille", "F", "1985-06-21", "33063", document="passeport"),
    Demo("Garcia", "Antoine", "M", "1979-11-02", "13208", document="cni"),
    Demo("Faure", "Jules", "M", "2015-03-08", "31555", document="livret-famille", companion="cni"),  # a minor
    # Recovered: INSi returned the identity; no document checked.
    Demo("Rousseau", "Thomas", "M", "1990-01-15", "44109", insi=True),
    Demo("Haddad", "Karim", "M", "1983-05-05", "99352", insi=True),
    Demo("Bernard", "Sophie", "F", "1975-08-19", "59350", used_name="Girard", insi=True),
    # Qualified: both. The only status whose INS may leave the system.
    Demo("Lefèvre", "Hélène", "F", "1958-12-01", "67482", used_name="Mercier", document="cni",
         insi=True),
    Demo("Roux", "Pierre-Yves", "M", "1948-02-29", "35238", document="passeport", insi=True),
    # Born in Ajaccio before Corsica was split in two (1976): a former COG code.
    Demo("Santoni", "Marie-Ange", "F", "1972-10-10", "20004", used_name="Casanova", document="cni",
         insi=True),
    Demo("Albertini", "Paul", "M", "1985-07-07", "2B033", document="passeport", insi=True),
    Demo("Da Silva", "Ana", "F", "1969-04-25", "99139", used_name="Ferreira", document="titre-sejour",
         insi=True),
    Demo("Moreau", "Lucas", "M", "2019-02-14", "69383", document="extrait-naissance", companion="passeport",
         insi=True),
    Demo("Vincent", "Chloé", "F", "1999-09-09", "01340", document="appli-carte-vitale", insi=True),
    # Qualified, then its only document check withdrawn: back to recovered, INS kept but not shared.
    Demo("Giraud", "Emma", "F", "1994-03-03", "87085", document="cni", insi=True,
         withdraw_document=True),
    # Doubtful, fictitious.
    Demo("Durand", "Kévin", "M", "1995-12-24", "63113", attributes=(Attribute.DOUT,)),
    # Qualified, then doubtful: INS invalidated, forced back to provisional.
    Demo("Lambert", "Julie", "F", "1987-03-12", "75056", document="passeport", insi=True,
         attributes=(Attribute.DOUT,)),
    Demo("Exercice Plan Blanc", "Victime", "M", "1980-01-01", attributes=(Attribute.FICT,)),
    Demo("Anonyme", "Alpha", "F", "1990-06-15", attributes=(Attribute.FICT,)),
    # Homonyms: same birth name, first given name and birth date, two people.
    Demo("Martin", "Jean", "M", "1950-03-15", "63113", document="cni", insi=True,
         homonym=True),
    Demo("Martin", "Jean", "M", "1950-03-15", "87085", homonym=True),
    Demo("Nguyen", "Thi", "F", "1978-01-01", "99243", homonym=True),
    Demo("Nguyen", "Thi", "F", "1978-01-01", "75056", homonym=True, attributes=(Attribute.DOUT,)),
)

# The INSi test book (docs: /work/shared/design/insi.md), as a front-desk agent types the
# query: name, first given name, sex, date, and the place where the book gives one. They
# stay provisional, ready for recovery against the simulator.
INSI_TEST_IDENTITIES = (
    Demo("ADRTROIS", "DOMINIQUE", "F", "1997-02-26"),
    Demo("ADRTROIS", "TOUSSAINT", "M", "1960-01-01"),
    Demo("ADRUN", "ZOE", "F", "1975-12-31"),
    Demo("D'ARTAGNAN DE L'HERAULT", "PIERRE-ALAIN", "M", "2001-06-17"),
    Demo("D'ÆION", "CŒUR", "M", "1987-01-01", "2B020"),  # transliterated to D'AEION / COEUR
    Demo("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14"),
    Demo("PROVISOIRE", "MATRICULE", "M", "2009-07-01"),
    Demo("DE VINCI", "LEONARDO", "M", "2014-02-01", "63220"),  # 02 without the place, 00 with it
    Demo("TCHITCHI", "OLA", "F", "1936-06-21"),
    Demo("TCHITCHI", "CATARINA", "F", "1936-06-21"),
    Demo("HOUILLES", "PIERRE PAUL JACQUES", "M", "1993-01-27"),
    Demo("CORSE", "ANTHONY", "M", "1980-03-02"),
    Demo("HERMANN", "GATIEN", "M", "1981-03-24"),
    Demo("NESSI", "MICHELANGELO", "M", "2010-08-07"),
    Demo("NESSI", "NATHALIE", "F", "1977-07-14"),
)

class Command(BaseCommand):
    help = _(
        "Crée les comptes de démonstration (un par rôle, mots de passe affichés une seule fois) et une quarantaine "
        "d'identités de démonstration dans tous les statuts et attributs, dont les identités de test INSi, en passant "
        "par les services. Relançable : rien n'est créé deux fois."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset-passwords", action="store_true",
                            help=_("Donner un nouveau mot de passe aux comptes de démonstration et l'afficher"))

    def handle(self, *args, reset_passwords: bool, **options):
        if settings.INS_ENVIRONMENT == "production":
            raise CommandError(_("Refusé : pas de données de démonstration quand INS_ENVIRONMENT=production."))
        roles.ensure_roles()
        users = self._users(reset_passwords)
        added = reference_data.ensure_demo_places()
        if added:
            self.stdout.write(_("%(n)d codes COG de démonstration ajoutés (référentiel complet : manage.py load_birthplaces).")
                              % {"n": added})
        created = skipped = 0
        homonyms = set()
        for demo in DEMO_IDENTITIES + INSI_TEST_IDENTITIES:
            if self._exists(demo):
                skipped += 1
                continue
            try:
                with transaction.atomic():  # one demo person, all steps or none
                    identity = self._create(demo, front_desk=users["demo.accueil"], civ=users["demo.civ"])
            except ServiceError as error:
                raise CommandError(_("Identité de démonstration %(name)s refusée : %(message)s")
                                   % {"name": demo.birth_name, "message": error.message}) from error
            created += 1
            if demo.homonym:
                homonyms.add(identity.pk)
        self._confirm_homonyms(homonyms, civ=users["demo.civ"])
        # As the nightly pass would: the state queues and the pair sweep, so the demo's worklists are filled.
        filled = pairs.worklists_refresh(actor=users["demo.civ"])
        self.stdout.write(_("Files de travail : %(opened)d élément(s) ouvert(s), %(pairs)d paire(s) signalée(s).")
                          % {"opened": filled.opened, "pairs": filled.pairs})
        self.stdout.write(self.style.SUCCESS(
            _("Identités de démonstration : %(created)d créées, %(skipped)d déjà présentes.")
            % {"created": created, "skipped": skipped}
        ))

    # --- Users ---

    def _users(self, reset_passwords: bool) -> dict:
        user_model = get_user_model()
        users, new_passwords = {}, []
        for demo in DEMO_USERS:
            user, created = user_model.objects.get_or_create(
                username=demo.username,
                defaults={"first_name": demo.first_name, "last_name": demo.last_name, "is_staff": True},
            )
            user.groups.add(Group.objects.get(name=demo.role))
            if created or reset_passwords:
                password = secrets.token_urlsafe(12)
                user.set_password(password)
                user.save(update_fields=["password"])
                new_passwords.append((demo, password))
            users[demo.username] = user
        if new_passwords:
            self.stdout.write(_("Comptes de démonstration (mots de passe affichés cette fois seulement) :"))
            for demo, password in new_passwords:
                self.stdout.write(f"  {demo.username} ({demo.role}) : {password}")
        if len(new_passwords) < len(DEMO_USERS):
            kept = ", ".join(d.username for d in DEMO_USERS if d not in {demo for demo, _pw in new_passwords})
            self.stdout.write(_("Comptes déjà présents, mots de passe inchangés : %(users)s (--reset-passwords pour les "
                                "renouveler).") % {"users": kept})
        return users

    # --- Identities ---

    @staticmethod
    def _traits(demo: Demo) -> traits.StrictTraits:
        return traits.normalise_strict_traits(
            birth_name=demo.birth_name, birth_given_names=demo.given_names, birth_date=demo.birth_date,
            sex=demo.sex, birthplace_code=demo.birthplace,
        )

    def _exists(self, demo: Demo) -> bool:
        """The person is already there: same birth name, first given name, date, sex and place."""
        wanted = self._traits(demo)
        return any(
            (found.birth_name, found.first_birth_given_name, found.sex, found.birthplace_code)
            == (wanted.birth_name, wanted.first_birth_given_name, wanted.sex, wanted.birthplace_code)
            for found in selectors.anteriority_search(
                name=wanted.birth_name, given_name=wanted.first_birth_given_name, birth_date=wanted.birth_date
            )
            if found.birth_date == wanted.birth_date
        )

    def _create(self, demo: Demo, *, front_desk, civ) -> Identity:
        fields = {
            "birth_name": demo.birth_name, "birth_given_names": demo.given_names, "birth_date": demo.birth_date,
            "sex": demo.sex, "birthplace_code": demo.birthplace, "used_name": demo.used_name,
            "used_given_name": demo.used_given_name,
        }
        outcome = services.identity_create(actor=front_desk, **fields)
        if outcome.identity is None:
            # The agent looked at the anteriority candidates: other people (homonyms...).
            outcome = services.identity_create(
                actor=front_desk, acknowledged_candidates=[c.pk for c in outcome.candidates], **fields
            )
        identity = outcome.identity
        check = None
        if demo.document:
            check = services.identity_record_document_check(
                actor=front_desk, identity_id=identity.pk, document_type_id=self._document(demo.document).pk,
                companion_type_id=self._document(demo.companion).pk if demo.companion else None,
                expiry_date=self._expiry(demo.document),
            ).check
        if demo.insi:
            services.identity_apply_insi_result(
                actor=front_desk, identity_id=identity.pk, result=self._insi_result(identity, demo)
            )
        if demo.withdraw_document and check is not None:
            services.identity_withdraw_document_check(
                actor=civ, check_id=check.pk, reason="Démonstration : pièce enregistrée sur la mauvaise identité"
            )
        for attribute in demo.attributes:
            services.identity_set_attribute(
                actor=civ, identity_id=identity.pk, attribute=attribute, value=True,
                reason=f"Démonstration : {Attribute(attribute).label.lower()}",
            )
        return identity

    @staticmethod
    def _confirm_homonyms(identity_ids: set[int], *, civ) -> None:
        """As the CIV would: pair detection fills the worklists, then it confirms the demo homonym pairs."""
        if not identity_ids:
            return
        pairs.worklist_detect_pairs(actor=civ)
        homonyms = WorklistItem.objects.filter(kind=WorklistItem.Kind.HOMONYM, state=WorklistItem.State.OPEN,
                                               identity_id__in=identity_ids, other_id__in=identity_ids)
        for item in homonyms:
            worklists.worklist_decide(actor=civ, item_id=item.pk, decision=WorklistItem.Decision.CONFIRMED,
                                      note="Démonstration : deux personnes distinctes, lieux de naissance différents")

    @staticmethod
    def _document(code: str) -> DocumentType:
        try:
            return DocumentType.objects.get(code=code)
        except DocumentType.DoesNotExist:
            raise CommandError(_("Type de pièce « %(code)s » absent du paramétrage : la démonstration en a besoin.")
                               % {"code": code}) from None

    def _expiry(self, code: str):
        return timezone.localdate() + timedelta(days=3 * 365) if self._document(code).requires_expiry else None

    @staticmethod
    def _insi_result(identity: Identity, demo: Demo) -> services.InsiIdentity:
        """What INSi answers (code 00): the simulator's own record of the person, so that a later verification is OK."""
        known = catalog.demo_patient(identity.birth_name, identity.birth_date, identity.birthplace_code)
        if known is None:
            raise CommandError(_("Patient de démonstration %(name)s absent du catalogue du simulateur INSi (insi/simulator/catalog.py).")
                               % {"name": identity.birth_name})
        return services.InsiIdentity(
            active=services.InsiMatricule(matricule=known.matricule, oid=matricule.NIA_OID if known.nia else matricule.NIR_OID),
            birth_name=known.birth_name, birth_given_names=known.given_names, sex=known.sex,
            birth_date=known.birth_date, birthplace_code=known.birthplace,
        )
