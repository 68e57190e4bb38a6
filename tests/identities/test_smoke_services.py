from identities.models import Status
from tests import factories


def test_a_document_then_insi_makes_an_identity_qualified(front_desk, birthplaces):
    ident = factories.qualified(front_desk)
    assert ident.status == Status.QUAL
    assert ident.ins_matricule == "280056322012395"[:13] + ident.ins_matricule[13:]
