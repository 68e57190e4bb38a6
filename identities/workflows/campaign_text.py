"""Campaigns said in plain French for the CIV: the schedule (a crontab), the review cycle, the pace, what a run takes."""
from __future__ import annotations

from django.utils.formats import get_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

# Celery's crontab counts days of the week from Sunday (0) to Saturday (6); 7 is Sunday too.
_DAYS = [gettext_lazy("dimanche"), gettext_lazy("lundi"), gettext_lazy("mardi"), gettext_lazy("mercredi"),
         gettext_lazy("jeudi"), gettext_lazy("vendredi"), gettext_lazy("samedi"), gettext_lazy("dimanche")]
_MONTHS = ["", gettext_lazy("janvier"), gettext_lazy("février"), gettext_lazy("mars"), gettext_lazy("avril"),
           gettext_lazy("mai"), gettext_lazy("juin"), gettext_lazy("juillet"), gettext_lazy("août"),
           gettext_lazy("septembre"), gettext_lazy("octobre"), gettext_lazy("novembre"), gettext_lazy("décembre")]


def _numbers(field: str, top: int) -> list[int] | None:
    """The values of one crontab field (``*`` → None), or a ValueError for steps and names."""
    if field.strip() == "*":
        return None
    values: set[int] = set()
    for part in field.split(","):
        low, _sep, high = part.partition("-")
        start, end = int(low), int(high or low)
        if not 0 <= start <= end <= top:
            raise ValueError(field)
        values.update(range(start, end + 1))
    return sorted(values)


def _joined(words: list) -> str:
    words = [str(word) for word in words]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " " + _("et") + " " + words[-1]


def _days(values: list[int] | None) -> str:
    if values is None:
        return _("tous les jours")
    days = sorted({value % 7 for value in values}, key=lambda day: (day - 1) % 7)  # Monday first
    if days == [1, 2, 3, 4, 5]:
        return _("du lundi au vendredi")
    if days == [6, 0]:
        return _("le week-end")
    return _("le %(days)s") % {"days": _joined([_DAYS[day] for day in days])}


def crontab_in_french(schedule) -> str | None:
    """« du lundi au vendredi à 22:30 »; None when the crontab says more than plain words can (steps, names)."""
    try:
        minutes, hours = _numbers(schedule.minute, 59), _numbers(schedule.hour, 23)
        weekdays, monthdays = _numbers(schedule.day_of_week, 7), _numbers(schedule.day_of_month, 31)
        months = _numbers(schedule.month_of_year, 12)
    except ValueError:
        return None
    if minutes is None or hours is None or len(minutes) != 1:
        return None
    times = _joined([f"{hour:02d}:{minutes[0]:02d}" for hour in hours])
    if monthdays is not None:
        when = ngettext("le %(days)s du mois", "les %(days)s du mois", len(monthdays)) % {
            "days": _joined([str(day) for day in monthdays])}
        if weekdays is not None:
            return None  # cron's "day of month OR day of week": no plain sentence for it
    else:
        when = _days(weekdays)
    text = f"{when} " + (_("à %(times)s") % {"times": times})
    if months is not None:
        text += ", " + _("en %(months)s") % {"months": _joined([_MONTHS[month] for month in months])}
    return text


def cycle_in_french(days: int | None) -> str:
    """« tous les 3 ans », « tous les 6 mois »; the review cycle of a campaign."""
    if not days:
        return _("tout le périmètre à chaque exécution")
    if days % 365 == 0 or days % 1461 == 0 or days in (730, 1095, 1096, 1460, 1461, 1826, 1827):
        years = round(days / 365.25)
        return ngettext("tous les ans", "tous les %(n)d ans", years) % {"n": years}
    if days % 30 == 0 or days % 31 == 0:
        months = round(days / 30.4)
        return ngettext("tous les mois", "tous les %(n)d mois", months) % {"n": months}
    return ngettext("tous les %(n)d jour", "tous les %(n)d jours", days) % {"n": days}


def campaign_in_french(campaign, *, per_run: int | None = None) -> str:
    """The whole campaign in one paragraph: what it reviews, how often, when it runs, how fast, how many a day."""
    statuses = {"RECUP": _("récupérées"), "QUAL": _("qualifiées")}
    who = _joined([str(statuses.get(code, code)) for code in campaign.statuses]) or "—"
    parts = [_("Vérifie auprès d'INSi les identités %(who)s (%(nature)s) %(cycle)s") % {
        "who": who, "nature": campaign.get_nature_display(), "cycle": cycle_in_french(campaign.cycle_days)}]
    if campaign.not_verified_for_days is not None:
        parts.append(_("celles non vérifiées depuis %(days)d jours") % {"days": campaign.not_verified_for_days})
    if campaign.schedule_id:
        said = crontab_in_french(campaign.schedule)
        parts.append(_("lancée %(when)s") % {"when": said} if said else _("lancée selon une planification avancée (voir l'administrateur)"))
    else:
        parts.append(_("lancée à la main seulement"))
    parts.append(_("au plus %(pace)s appel(s) par seconde") % {"pace": f"{campaign.calls_per_second:g}".replace(".", get_format("DECIMAL_SEPARATOR"))})
    if per_run is not None:
        parts.append(ngettext("environ %(n)d identité par exécution", "environ %(n)d identités par exécution", per_run) % {"n": per_run})
    if not campaign.active:
        parts.append(_("suspendue (inactive)"))
    return " ; ".join(parts) + "."
