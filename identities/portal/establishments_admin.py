"""Admin screens of the GHT's establishments: the administrator keeps the list and says which establishment each account works in."""
from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from identities.core.models import Establishment, StaffEstablishment

User = get_user_model()


class EstablishmentForm(forms.ModelForm):
    class Meta:
        model = Establishment
        fields = ("code", "name", "finess", "is_default")

    def _get_validation_exclusions(self):
        # "One default" is kept by save_model moving the mark, not refused to the administrator.
        return super()._get_validation_exclusions() | {"is_default"}

    def clean_is_default(self):
        value = self.cleaned_data["is_default"]
        if not value and self.instance.pk and Establishment.objects.filter(pk=self.instance.pk, is_default=True).exists():
            raise ValidationError(_("Désignez un autre établissement par défaut plutôt que de retirer la marque de celui-ci."))
        return value


@admin.register(Establishment)
class EstablishmentAdmin(SimpleHistoryAdmin):
    form = EstablishmentForm
    list_display = ("name", "code", "finess", "is_default")
    search_fields = ("name", "code", "finess")

    def has_delete_permission(self, request, obj=None):
        # Identities refer to their establishment (PROTECT): an establishment in use is kept; the default one always.
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_default)

    def save_model(self, request, obj, form, change):
        if obj.is_default:
            # One default at a time: choosing another one moves the mark, in the same transaction.
            Establishment.objects.exclude(pk=obj.pk).filter(is_default=True).update(is_default=False)
        super().save_model(request, obj, form, change)


class StaffEstablishmentInline(admin.StackedInline):
    model = StaffEstablishment
    can_delete = True
    max_num = 1
    verbose_name_plural = _("établissement de rattachement (les identités que ce compte crée lui appartiennent)")


admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, StaffEstablishmentInline]
