"""The outbox remembers the INS each receiver holds (for PAM France's A47 withdrawal) and the erased used names."""
import re

from django.db import migrations, models

# An INS in PID-3 of a message the old builder sent: `matricule^^^NAMESPACE&OID&ISO^INS`.
_SENT_INS = re.compile(r"\|(?:[^|~]*~)*([0-9AB]{15})\^\^\^[^&|]*&([0-9.]+)&ISO\^INS")


def held_from_payloads(apps, schema_editor):
    """Acknowledged messages sent before this migration: the INS each one carried is what its receiver holds."""
    OutboxMessage = apps.get_model("identities", "OutboxMessage")
    sent = OutboxMessage.objects.filter(state="SENT", payload__contains="^INS").only("pk", "payload")
    changed = []
    for message in sent.iterator(chunk_size=2000):
        pid = next((line for line in message.payload.split("\r") if line.startswith("PID|")), "")
        found = _SENT_INS.search(pid)
        if found:
            message.ins_matricule, message.ins_oid = found.group(1), found.group(2)
            changed.append(message)
        if len(changed) >= 2000:
            OutboxMessage.objects.bulk_update(changed, ["ins_matricule", "ins_oid"])
            changed = []
    OutboxMessage.objects.bulk_update(changed, ["ins_matricule", "ins_oid"])


class Migration(migrations.Migration):
    dependencies = [("identities", "0013_merge_identities")]

    operations = [
        migrations.AddField("outboxmessage", "ins_matricule", models.CharField(
            blank=True, editable=False, max_length=15, verbose_name="INS détenu par le destinataire")),
        migrations.AddField("outboxmessage", "ins_oid", models.CharField(
            blank=True, editable=False, max_length=64, verbose_name="OID de l'INS détenu")),
        migrations.AddField("outboxmessage", "used_name_erased", models.BooleanField(
            default=False, editable=False, verbose_name="nom utilisé effacé")),
        migrations.AddField("outboxmessage", "used_given_name_erased", models.BooleanField(
            default=False, editable=False, verbose_name="prénom utilisé effacé")),
        migrations.RunPython(held_from_payloads, migrations.RunPython.noop),
    ]
