#!/bin/sh
# Makes sure Debian's redis-server is installed for the shared-store tests (they start their own
# server on a free loopback port, see test/helpers/redis-server.ts). Idempotent: installs only
# when redis-server is missing, then prints the version.
set -eu

if ! command -v redis-server >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-redis: redis-server is missing and apt-get is not available; install Redis 7 (or Valkey) so that redis-server is on PATH" >&2
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO='sudo -n'
  else
    echo "ensure-redis: redis-server is missing and installing it needs root: run 'apt-get install -y redis-server' as root" >&2
    exit 1
  fi
  echo "ensure-redis: installing Debian redis-server"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "ensure-redis: apt-get installed redis-server but it is still not on PATH" >&2
    exit 1
  fi
fi
echo "ensure-redis: $(redis-server --version)"
