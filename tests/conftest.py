"""Shared fixtures: the personas of the portal, one per role, the birthplaces tests use, a Celery queue per test."""
import uuid

import pytest
from django.contrib.auth.models import Group

from identities.core import roles


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Production hashing is slow on purpose; tests create many accounts."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _persona(django_user_model, username: str, group: str | None):
    user = django_user_model.objects.create_user(username=username, password="not-a-real-password-1")
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def front_desk(db, django_user_model):
    """Camille, a front-desk agent: creates, searches, checks documents, recovers INS."""
    return _persona(django_user_model, "camille.accueil", roles.FRONT_DESK)


@pytest.fixture
def civ_member(db, django_user_model):
    """Dominique, a member of the identity-vigilance cell."""
    return _persona(django_user_model, "dominique.civ", roles.CIV_MEMBER)


@pytest.fixture
def civ_referent(db, django_user_model):
    """Sacha, the CIV referent: holds the habilitation to modify locked traits."""
    return _persona(django_user_model, "sacha.referent", roles.CIV_REFERENT)


@pytest.fixture
def manager(db, django_user_model):
    """Morgan, a manager: reads identities and indicators, changes nothing."""
    return _persona(django_user_model, "morgan.direction", roles.MANAGER)


@pytest.fixture
def administrator(db, django_user_model):
    return _persona(django_user_model, "alex.admin", roles.ADMINISTRATOR)


@pytest.fixture
def outsider(db, django_user_model):
    """An account with no role at all."""
    return _persona(django_user_model, "intrus", None)


@pytest.fixture
def birthplaces(db):
    """The COG codes the tests use (the full table is loaded by ``load_birthplaces``)."""
    from tests.factories import make_birthplaces

    return make_birthplaces()


@pytest.fixture
def celery_queue(settings):
    """A queue of this test's own: parallel test runs on one Redis never take each other's tasks."""
    from insportal.celery import app

    queue = f"insportal-test-{uuid.uuid4().hex[:12]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    app.conf.task_default_queue = queue
    app.conf.broker_url = settings.CELERY_BROKER_URL
    yield queue
    app.conf.task_default_queue = "celery"
    with app.connection_for_write() as connection:
        connection.default_channel.queue_delete(queue)
