"""Building blocks shared by the portal's ModelAdmins: a capped paginator and a read-only admin."""
from django.contrib import admin
from django.contrib.admin.options import ShowFacets
from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: a full COUNT(*) over a million identities on every page is what makes lists slow.

    Past the cap the list says "more than 10 000" and asks for a narrower search.
    """

    CAP = 10_000

    @cached_property
    def exact_or_capped(self) -> tuple[int, bool]:
        found = self.object_list.order_by()[: self.CAP + 1].count()
        return min(found, self.CAP), found > self.CAP

    @cached_property
    def count(self) -> int:
        return self.exact_or_capped[0]

    @property
    def is_capped(self) -> bool:
        return self.exact_or_capped[1]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the services only, shown for the record; lists never count the whole table."""

    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    paginator = CappedCountPaginator

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
