"""Admin for label formats and profiles, and the "print labels" action for identity selections."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from identities.core.errors import ServiceError
from identities.documents.models import LabelFormat, LabelProfile
from identities.documents import labels as label_services
from identities.documents import views as document_views


@admin.action(description=_("Imprimer des étiquettes pour la sélection"))
def print_labels(modeladmin, request, queryset):
    """For IdentityAdmin.actions: the label options page for the selected identities."""
    if not request.user.has_perm("identities.print_identity"):
        messages.error(request, _("Refusé : vous n'avez pas le droit d'imprimer des étiquettes."))
        return None
    return document_views.labels_form_page(request, list(queryset.values_list("pk", flat=True)))


@admin.register(LabelFormat)
class LabelFormatAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "columns", "rows", "label_width_mm", "label_height_mm", "active")
    list_filter = ("active",)
    search_fields = ("name", "code")

    def _can_manage(self, request) -> bool:
        return request.user.has_perm("identities.manage_label_settings")

    def has_add_permission(self, request):
        return self._can_manage(request)

    def has_change_permission(self, request, obj=None):
        return self._can_manage(request)


_EXTRA_FIELDS = tuple(label_services.EXTRA_TRAITS.values())


class LabelProfileForm(forms.ModelForm):
    shared = forms.BooleanField(label=_("profil partagé du site"), required=False,
                                help_text=_("Sinon, le profil est personnel."))

    class Meta:
        model = LabelProfile
        fields = ("name", "site", "label_format", *_EXTRA_FIELDS)

    def __init__(self, *args, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["shared"].initial = bool(self.instance.pk and self.instance.owner_id is None)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            label_services.label_profile_check(
                actor=self.actor, name=data["name"], site=data.get("site", ""), label_format_id=data["label_format"].pk,
                extra_traits=[code for code, attribute in label_services.EXTRA_TRAITS.items() if data.get(attribute)],
                shared=data.get("shared", False), profile_id=self.instance.pk,
            )
        except ServiceError as error:
            raise forms.ValidationError(error.message) from error
        return data


@admin.register(LabelProfile)
class LabelProfileAdmin(admin.ModelAdmin):
    form = LabelProfileForm
    list_display = ("name", "site", "owner", "label_format", *_EXTRA_FIELDS)
    list_filter = ("site", "label_format")
    search_fields = ("name", "site")
    fieldsets = (
        (None, {"fields": ("name", "site", "shared", "label_format")}),
        (_("Traits ajoutés au minimum (nom et premier prénom de naissance, date de naissance, sexe, statut : toujours imprimés)"),
         {"fields": _EXTRA_FIELDS}),
    )

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("owner", "label_format")
        if request.user.has_perm("identities.manage_label_settings"):
            return qs
        return qs.filter(owner=request.user) | qs.filter(owner__isnull=True)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class ActorForm(form_class):
            def __init__(self, *args, **inner):
                super().__init__(*args, actor=request.user, **inner)

        return ActorForm

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = label_services.label_profile_save(
            actor=request.user, profile_id=obj.pk if change else None, name=data["name"], site=data.get("site", ""),
            label_format_id=data["label_format"].pk, shared=data.get("shared", False),
            extra_traits=[code for code, attribute in label_services.EXTRA_TRAITS.items() if data.get(attribute)],
        )
        obj.pk = saved.pk
