"""INS numbers as the teleservice sees them: authority OIDs per INS environment and the matricule key."""

NIA_OID = "1.2.250.1.213.1.4.9"
_NIR_OIDS = {"production": "1.2.250.1.213.1.4.8", "test": "1.2.250.1.213.1.4.10"}


def nir_oid(environment: str) -> str:
    """The NIR authority OID of an INS environment ('test' or 'production'); the two never mix."""
    try:
        return _NIR_OIDS[environment]
    except KeyError:
        raise ValueError(f"unknown INS environment {environment!r}") from None


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
