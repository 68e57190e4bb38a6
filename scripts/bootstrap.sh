#!/usr/bin/env bash
# Install what insportal needs on a fresh Debian machine: system packages, then a virtualenv.
# Idempotent; used by scripts/demo.sh, scripts/test.sh and CI.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${INSPORTAL_VENV:-.venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

# System packages: Pango for WeasyPrint, fonts for identical PDFs, poppler to rasterise PDFs in
# tests, gettext for translations, Chromium + its driver for the browser tests, npm for the
# official COG package, OpenLDAP (see below). Only what is missing is installed.
APT_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils gettext)
# OpenLDAP: headers to build python-ldap (django-auth-ldap), the server and tools the sign-in tests start.
APT_PACKAGES+=(gcc python3-dev libldap2-dev libsasl2-dev slapd ldap-utils)
if [ "${INSPORTAL_WITH_BROWSER:-1}" = "1" ]; then APT_PACKAGES+=(chromium chromium-driver); fi
command -v npm >/dev/null || APT_PACKAGES+=(npm)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  echo "Installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  # slapd asks no question and configures no directory of its own: the tests bring theirs.
  echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[test]"
