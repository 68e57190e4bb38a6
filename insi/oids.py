"""INS numbers as the teleservice sees them: the authority OIDs INSi answers with and the matricule key."""

# INSi answers with these two in every environment, its qualification platform included
# (captures of the published test identities carry .4.8); .4.10/.4.11 are never an INSi answer.
NIR_OID = "1.2.250.1.213.1.4.8"
NIA_OID = "1.2.250.1.213.1.4.9"


def matricule_key(first13: str) -> str:
    """Key = 97 − (13 digits mod 97) on two digits, Corsica's 2A/2B counted as 19/18."""
    digits = first13.upper().replace("2A", "19").replace("2B", "18")
    return f"{97 - int(digits) % 97:02d}"


def key_checks(number: str, key: str) -> bool:
    """Whether ``key`` is right for the 13-character ``number`` (INSi values stay authoritative either way)."""
    try:
        return len(number) == 13 and matricule_key(number) == key
    except ValueError:
        return False
