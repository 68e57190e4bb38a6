"""What the dashboard shows and exports: its tables (one definition for the screen, the CSV files and the PDF),
its SVG charts (drawn here, no script, nothing fetched), the CSV of one table and the PDF of the whole dashboard.

Every cell is a count, a rate or a duration: no name, no matricule, no identifier of a person.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from html import escape

from django.template.loader import render_to_string
from django.utils import formats
from django.utils.translation import gettext as _
from weasyprint import HTML, URLFetcher

from identities.portal.dashboard import Figures, Row

_NO_FETCH = URLFetcher(allowed_protocols=("data",))  # the PDF holds its charts inline: no file, no network


@dataclass(frozen=True)
class Table:
    slug: str  # the CSV file's name and the HTML table's id
    title: str
    columns: list[str]
    rows: list[list]  # raw values: int, float, None (no figure) or text

    @property
    def display_rows(self) -> list[list[str]]:
        return [[cell(value) for value in row] for row in self.rows]


def _compared_columns(figures: Figures, *, shares: bool = False) -> list[str]:
    period, previous = _period_label(figures.period), _period_label(figures.previous)
    columns = [_("Indicateur"), period, previous, _("Évolution")]
    if shares:
        columns += [_("Part (%s)") % period, _("Part (%s)") % previous]
    return columns


def _compared_cells(row: Row) -> list:
    first = row.values[0]
    cells = [row.label, first.current, first.previous, first.change]
    for extra in row.values[1:]:
        cells += [extra.current, extra.previous]
    return cells


def _period_label(period) -> str:
    return _("du %(start)s au %(end)s") % {
        "start": formats.date_format(period.start, "SHORT_DATE_FORMAT"), "end": formats.date_format(period.end, "SHORT_DATE_FORMAT"),
    }


def tables(figures: Figures) -> list[Table]:
    """The dashboard's tables, in the order the screen and the PDF show them."""
    compared = [
        ("statuts", _("Identités actives par statut (fin de période)"), figures.by_status, True),
        ("attributs", _("Identités actives par attribut (fin de période)"), figures.by_attribute, True),
        ("modalites", _("Identités actives par modalité de recueil (fin de période)"), figures.by_channel, True),
        ("creations", _("Créations et recherche d'antériorité"), figures.creations, False),
        ("insi", _("Appels au téléservice INSi (une ligne par tentative)"), figures.insi, False),
        ("insi-temps", _("Temps de réponse du téléservice INSi"), figures.insi_times, False),
        ("doublons", _("Doublons : détectés, confirmés, écartés, fusionnés"), figures.duplicates, False),
        ("collisions", _("Collisions"), figures.collisions, False),
        ("files", _("Files de travail : éléments à traiter en fin de période"), figures.backlog, False),
    ]
    result = [
        Table(slug, title, _compared_columns(figures, shares=shares), [_compared_cells(row) for row in rows])
        for slug, title, rows, shares in compared
    ]
    result.append(Table(
        "anciennete", _("Files de travail aujourd'hui : taille et ancienneté"),
        [_("File de travail"), _("À traiter"), _("moins de 7 jours"), _("7 à 30 jours"), _("plus de 30 jours"),
         _("plus ancien (jours)")],
        [[queue.label, queue.open, queue.under_a_week, queue.week_to_month, queue.over_a_month, queue.oldest_age_days]
         for queue in figures.queues],
    ))
    result.append(Table(
        "qualification", _("Taux de qualification en fin de mois") if figures.monthly_series else _("Taux de qualification en fin de journée"),
        [_("Date"), _("Identités actives"), _("Identités qualifiées"), _("Taux de qualification (%)")],
        [[formats.date_format(point.day, "SHORT_DATE_FORMAT"), point.active, point.qualified, point.rate] for point in figures.series],
    ))
    return result


def table(figures: Figures, slug: str) -> Table | None:
    return next((candidate for candidate in tables(figures) if candidate.slug == slug), None)


def cell(value) -> str:
    """A value as the French reader writes it: 12 345, 12,5; an absent figure is a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    return formats.number_format(value, decimal_pos=1 if isinstance(value, float) else None, use_l10n=True, force_grouping=True)


def table_csv(figures: Figures, slug: str) -> str | None:
    """One table as CSV for a spreadsheet in French: ';' between cells, decimal comma, empty cell for no figure."""
    found = table(figures, slug)
    if found is None:
        return None
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(found.columns)
    for row in found.rows:
        writer.writerow(["" if value is None else (formats.number_format(value, use_l10n=True) if isinstance(value, float) else value)
                         for value in row])
    return "\ufeff" + out.getvalue()  # the BOM: Excel then reads UTF-8


# --- Charts: SVG drawn on the server ---

_COLOURS = {"current": "#3e7dc0", "previous": "#b8c7d9", "rate": "#3ea862"}


def line_chart(figures: Figures, *, width: int = 720, height: int = 230, pad: int = 40) -> str:
    """The qualification rate at each point of the period, as an SVG element."""
    points = figures.series
    step = (width - 2 * pad) / max(len(points) - 1, 1)
    label_every = max(1, len(points) // 12)

    def y(rate: float) -> float:
        return round(height - pad - (height - 2 * pad) * rate / 100, 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="ins-line-chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(_("Taux de qualification"))}">']
    for level in (0, 25, 50, 75, 100):
        parts.append(f'<line x1="{pad}" x2="{width - pad}" y1="{y(level)}" y2="{y(level)}" stroke="#ddd" stroke-width="1"/>'
                     f'<text x="2" y="{y(level) + 3}" font-size="10" fill="#666">{level} %</text>')
    dots = [(round(pad + index * step, 1), y(point.rate or 0.0), point) for index, point in enumerate(points)]
    if len(dots) > 1:
        parts.append(f'<polyline fill="none" stroke="{_COLOURS["rate"]}" stroke-width="2.5" '
                     f'points="{" ".join(f"{x},{dot_y}" for x, dot_y, _point in dots)}"/>')
    date_format = "m/Y" if figures.monthly_series else "d/m"
    for index, (x, dot_y, point) in enumerate(dots):
        rate = cell(point.rate)
        parts.append(f'<circle cx="{x}" cy="{dot_y}" r="3" fill="{_COLOURS["rate"]}"><title>'
                     f'{escape(formats.date_format(point.day, "SHORT_DATE_FORMAT"))} : {escape(rate)} %</title></circle>')
        if index % label_every == 0 or index == len(dots) - 1:
            parts.append(f'<text x="{x}" y="{height - 12}" font-size="10" fill="#666" text-anchor="middle">'
                         f'{escape(formats.date_format(point.day, date_format))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(rows: list[Row], *, title: str, width: int = 460, bar: int = 10, label_width: int = 230) -> str:
    """Each row's figure over the period and the previous one, as paired horizontal bars (SVG)."""
    values = [(row.label, row.values[0]) for row in rows]
    top = max([value for _label, compared in values for value in (compared.current, compared.previous) if value] or [1])
    line = 2 * bar + 8
    height = line * len(values) + 26
    scale = (width - label_width - 70) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="ins-bar-chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}">']
    for index, (label, compared) in enumerate(values):
        y = index * line + 4
        parts.append(f'<text x="0" y="{y + bar + 3}" font-size="12" fill="#333">{escape(label)}</text>')
        for offset, key, value in ((0, "current", compared.current), (bar, "previous", compared.previous)):
            length = round((value or 0) * scale, 1)
            parts.append(f'<rect x="{label_width}" y="{y + offset}" width="{length}" height="{bar - 1}" fill="{_COLOURS[key]}"/>'
                         f'<text x="{label_width + length + 4}" y="{y + offset + bar - 1}" font-size="9" fill="#333">'
                         f'{escape(cell(value))}</text>')
    legend_y = height - 8
    parts.append(f'<rect x="{label_width}" y="{legend_y - 8}" width="10" height="8" fill="{_COLOURS["current"]}"/>'
                 f'<text x="{label_width + 14}" y="{legend_y}" font-size="10">{escape(_("période"))}</text>'
                 f'<rect x="{label_width + 80}" y="{legend_y - 8}" width="10" height="8" fill="{_COLOURS["previous"]}"/>'
                 f'<text x="{label_width + 94}" y="{legend_y}" font-size="10">{escape(_("période précédente"))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def charts(figures: Figures) -> dict[str, str]:
    return {
        "qualification": line_chart(figures),
        "statuts": bar_chart(figures.by_status, title=_("Identités actives par statut")),
        "insi": bar_chart(figures.insi, title=_("Appels au téléservice INSi")),
        "doublons": bar_chart(figures.duplicates, title=_("Doublons")),
    }


def kpis(figures: Figures) -> list[dict]:
    """The key figures, in the screen's order, written out (a rate with its %, its change in points)."""
    def shown(value, rate: bool, *, signed: bool = False) -> str:
        if value is None:
            return "—"
        text = ("+" if signed and value > 0 else "") + cell(value)
        return text + ((" pt" if signed else " %") if rate else "")  # a change of rate is in points

    entries = [
        ("active", _("Identités actives"), False),
        ("qualification_rate", _("Taux de qualification"), True),
        ("nia_share", _("Part de NIA parmi les INS"), True),
        ("created", _("Identités créées"), False),
        ("unreviewed_share", _("Créations sans identité proche examinée"), True),
        ("verification_ko_rate", _("Taux de vérifications INSi KO"), True),
        ("backlog", _("Éléments des files à traiter"), False),
    ]
    return [
        {"code": code, "label": label, "current": shown(figures.kpis[code].current, rate),
         "previous": shown(figures.kpis[code].previous, rate), "change": shown(figures.kpis[code].change, rate, signed=True)}
        for code, label, rate in entries
    ]


def dashboard_pdf(figures: Figures, *, establishment_name: str) -> bytes:
    """The whole dashboard as an A4 PDF (WeasyPrint): key figures, charts, every table."""
    context = {
        "figures": figures, "tables": tables(figures), "charts": charts(figures), "kpis": kpis(figures),
        "establishment_name": establishment_name,
        "period_label": _period_label(figures.period), "previous_label": _period_label(figures.previous),
    }
    return HTML(string=render_to_string("portal/dashboard_pdf.html", context), url_fetcher=_NO_FETCH).write_pdf()
