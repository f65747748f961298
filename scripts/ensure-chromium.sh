#!/bin/sh
# Makes sure Debian's Chromium is installed for `npm run test:browser` (vitest browser mode
# launches /usr/bin/chromium through Playwright, which never downloads a browser of its own).
# Idempotent: installs only when /usr/bin/chromium is missing, then prints the version.
set -eu

CHROMIUM=/usr/bin/chromium

if [ ! -x "$CHROMIUM" ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available (Debian/Ubuntu only)" >&2
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=
  elif command -v sudo >/dev/null 2>&1; then
    SUDO='sudo -n'
  else
    echo "ensure-chromium: $CHROMIUM is missing and installing it needs root (or sudo)" >&2
    exit 1
  fi
  echo "ensure-chromium: installing Debian chromium"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  if [ ! -x "$CHROMIUM" ]; then
    echo "ensure-chromium: apt-get installed chromium but $CHROMIUM is still missing" >&2
    exit 1
  fi
fi

# The Debian launcher sources /etc/chromium.d/*, whose shared-memory check can print a harmless
# shell warning on stderr; stderr is shown only if the browser does not run.
if ! version=$("$CHROMIUM" --version 2>/dev/null); then
  echo "ensure-chromium: $CHROMIUM is installed but does not run:" >&2
  "$CHROMIUM" --version >&2 || true
  exit 1
fi
echo "ensure-chromium: $version ($CHROMIUM)"
