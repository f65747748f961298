#!/bin/sh
# Makes sure a Valkey server is at hand for the shared-store tests, which run against Redis and
# Valkey alike (test/helpers/redis-server.ts starts each on a free loopback port). Idempotent.
#
# Prints the path of the server binary on its last line: `valkey-server` from PATH when installed,
# else Debian's valkey-tools package (Valkey 8, from bookworm-backports; the `valkey-server`
# package only adds the service around the same binary) downloaded with apt-get and unpacked into
# .tmp/valkey/ — no root needed, nothing installed system-wide. Its `valkey-check-rdb` is the
# server itself (the binary dispatches on its name), so a `valkey-server` link to it is made.
set -eu

if command -v valkey-server >/dev/null 2>&1; then
  command -v valkey-server
  exit 0
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOME_DIR="$ROOT/.tmp/valkey"
BIN="$HOME_DIR/root/usr/bin/valkey-server"
if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
  echo "ensure-valkey: valkey-server is missing and apt-get is not available; install Valkey 7.2 or later so that valkey-server is on PATH" >&2
  exit 1
fi

SUITE=bookworm-backports
mkdir -p "$HOME_DIR/lists/partial" "$HOME_DIR/cache/archives/partial"
cat >"$HOME_DIR/sources.list" <<SOURCES
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SUITE main
SOURCES
APT="-q -o Dir::Etc::sourcelist=$HOME_DIR/sources.list -o Dir::Etc::sourceparts=/dev/null -o Dir::State::Lists=$HOME_DIR/lists -o Dir::Cache=$HOME_DIR/cache -o Debug::NoLocking=1 -o APT::Sandbox::User=root"
echo "ensure-valkey: downloading Debian's valkey-tools from $SUITE" >&2
# shellcheck disable=SC2086 # APT is a list of options
apt-get $APT update >&2
cd "$HOME_DIR"
rm -f valkey-tools_*.deb
# shellcheck disable=SC2086
apt-get $APT download "valkey-tools/$SUITE" >&2
dpkg -x valkey-tools_*.deb root
ln -sf valkey-check-rdb root/usr/bin/valkey-server
# Its libraries (Debian's redis-server needs the same ones, so they are usually there).
LIBS="libatomic1 libjemalloc2 liblzf1 libssl3 libsystemd0"
if ! "$BIN" --version >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $LIBS >&2
fi
if ! "$BIN" --version >&2; then
  echo "ensure-valkey: the unpacked valkey-server does not run: apt-get install -y $LIBS" >&2
  exit 1
fi
echo "$BIN"
