"""Template tags of the INSi workflow screens: the INSi panel of the identity page."""
from django import template

from identities.workflows.views import panel_context

register = template.Library()


@register.inclusion_tag("workflows/panel.html", takes_context=True)
def insi_panel(context, identity):
    """``{% insi_panel original %}`` in the identity's change form."""
    return {**panel_context(identity, context["request"].user), "csrf_token": context.get("csrf_token")}
