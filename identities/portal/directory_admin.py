"""Admin screens of the directory sign-in: the administrator maps directory groups to roles and sees the directory accounts."""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from identities.core.screens import ReadOnlyAdmin
from identities.portal.models import DirectoryAccount, DirectoryGroup


@admin.register(DirectoryGroup)
class DirectoryGroupAdmin(SimpleHistoryAdmin):
    list_display = ("name", "source", "role")
    list_filter = ("source", "role")
    search_fields = ("name",)
    list_select_related = ("role",)


@admin.register(DirectoryAccount)
class DirectoryAccountAdmin(ReadOnlyAdmin):
    list_display = ("user", "source", "subject", "last_sign_in_at")
    list_filter = ("source",)
    search_fields = ("user__username", "subject")
    list_select_related = ("user",)
