#!/usr/bin/env bash
# Installs the Debian packages rpc-chains needs to run and test, only those missing.
# Usage: scripts/ensure-system-deps.sh            (as root, or as a user with password-less sudo)
# Safe to run again: with everything present it changes nothing and needs no network.
set -euo pipefail

# command it provides : Debian package : why
deps=(
  "redis-server:redis-server"       # the embedded Redis (no REDIS_URL) and integration tests
  "mosquitto_pub:mosquitto-clients" # MQTT end-to-end tests and sending commands by hand
  "mosquitto:mosquitto"             # an external broker for the MQTT node's tests
  "chromium:chromium"               # dashboard browser tests (playwright-core drives it)
  "python3:python3"                 # node-gyp, when isolated-vm has no prebuilt binary
  "make:make"                       # "
  "g++:g++"                         # "
)

missing=()
for dep in "${deps[@]}"; do
  cmd=${dep%%:*}
  pkg=${dep#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages missing: ${missing[*]}"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "no apt-get here: install ${missing[*]} (or their equivalents) with your package manager" >&2
  exit 1
fi

# Root runs apt-get itself; anyone else needs sudo that does not ask (no stdin in CI).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n env DEBIAN_FRONTEND=noninteractive "$@"
  else
    echo "not root: run  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}

# Update once, only because something is missing (a fresh image has no package lists).
as_root apt-get update -q
as_root apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
echo "system packages installed: ${missing[*]}"
