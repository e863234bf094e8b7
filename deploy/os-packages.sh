#!/usr/bin/env bash
# Installs the OS packages that `npm start` (start) or `npm test` (test) need, from the one list in
# deploy/os-packages.txt. Idempotent: when every command is already on PATH it only looks and
# exits 0 in a few milliseconds. As root it runs apt-get; as a user, `sudo -n apt-get` when sudo
# needs no password; otherwise it prints the exact install line and exits 1, installing nothing.
#   deploy/os-packages.sh start|test [--print]   (--print: list the packages and exit)
set -euo pipefail

profile=${1:-}
case "$profile" in start | test) ;; *) echo "usage: $0 start|test [--print]" >&2; exit 2 ;; esac
list="$(dirname "$0")/os-packages.txt"

needed=() missing=()
while read -r package command profiles; do
  case "$package" in "" | "#"*) continue ;; esac
  [[ " $profiles " == *" $profile "* ]] || continue
  needed+=("$package")
  # Debian puts some tools in /usr/sbin, which is not on every user's PATH.
  command -v "$command" >/dev/null 2>&1 || [ -x "/usr/sbin/$command" ] || missing+=("$package")
done <"$list"

if [ "${2:-}" = "--print" ]; then echo "${needed[*]}"; exit 0; fi
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
say() { printf 'linkfort setup: %s\n' "$*" >&2; }

if ! command -v apt-get >/dev/null 2>&1; then
  say "missing ${missing[*]}, and this is not a Debian/Ubuntu system: install them with your package manager, then run this again."
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  say "missing ${missing[*]}. Install them as root, then run this again:"
  printf '  sudo apt-get update && sudo %s\n' "$line" >&2
  exit 1
fi

say "installing ${missing[*]} (for npm $profile)"
# Package scripts would start redis, prometheus and the exporters with their defaults (the node
# exporter takes :9100, the supervisor's status port). The tests start their own copies, so hold
# the daemons back while installing, unless the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# linkfort deploy/os-packages.sh: no daemon starts during this install\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 0755 "$policy"
  own_policy=1
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get update -q >/dev/null; then
  say "apt-get update failed (see above); nothing was installed."
  exit 1
fi
# One apt-get transaction: it installs all of them or none.
if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
  say "apt-get install failed (see above); nothing was installed. The line was: $line"
  exit 1
fi
[ "$own_policy" = 1 ] && "${sudo[@]}" rm -f "$policy" && trap - EXIT
say "installed ${missing[*]}"
