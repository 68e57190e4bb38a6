"""A phonetic key for French surnames and given names: what sounds alike at the desk gets one key."""
from __future__ import annotations

import re
from functools import lru_cache

# Applied in order on upper-case A-Z text. The aim is blocking and a "même prononciation"
# level, not linguistics: each rule folds a spelling desks confuse (MARTIN/MARTYN,
# DUBOIS/DUBOIT, PHILIPPE/FILIPE, KATHERINE/CATHERINE) into one form.
_RULES = [
    (re.compile(r"[^A-Z]"), ""),
    (re.compile(r"(EAUX|EAU|AUX|AU)"), "O"),
    (re.compile(r"PH"), "F"),
    (re.compile(r"TH"), "T"),
    (re.compile(r"GN"), "N"),
    (re.compile(r"(SCH|SH|CH)"), "#"),
    (re.compile(r"GU(?=[EIY])"), "G"),
    (re.compile(r"G(?=[EIY])"), "J"),
    (re.compile(r"C(?=[EIY])"), "S"),
    (re.compile(r"(QU|CK|Q|C|K)"), "K"),
    (re.compile(r"Y"), "I"),
    (re.compile(r"W"), "V"),
    (re.compile(r"Z"), "S"),
    (re.compile(r"H"), ""),
    (re.compile(r"OU"), "U"),
    (re.compile(r"(AI|EI|AY|EY)"), "E"),
    (re.compile(r"(AIN|EIN|IM|UN|UM)(?=[^AEIOU]|$)"), "IN"),
    (re.compile(r"(AN|AM|EN|EM)(?=[^AEIOU]|$)"), "A"),
    (re.compile(r"(ER|EZ|ET)$"), "E"),
    (re.compile(r"(.)\1+"), r"\1"),
]
_SILENT_END = re.compile(r"(?<=..)[ESTDX]$")


@lru_cache(maxsize=50_000)
def phonetic(value: str) -> str:
    """The key of a name already in search-key form (upper case, no accents)."""
    text = value
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    # Final silent letters, at most two (DUBOIS, RENAUDS), never below two letters.
    for _ in range(2):
        text = _SILENT_END.sub("", text)
    return text
