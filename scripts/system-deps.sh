#!/usr/bin/env bash
# Debian packages os1 needs: `system-deps.sh run` for running os1, `system-deps.sh run test`
# for the test suite too. Installs them with apt when run as root; otherwise names the command
# to run. Quiet and quick when everything is present.
set -euo pipefail
RUN=(
  espeak-ng     # phonemes for the Piper voice and the light espeak voices
  libportaudio2 # the microphone and speaker for `os1 talk` (sounddevice)
  fonts-inter   # the web app's one sans font, served by os1 itself
)
TEST=(
  postgresql  # the PostgreSQL engine the tests start on loopback (initdb/pg_ctl)
  chromium    # the web app's browser tests (driven by Playwright, never downloaded)
)
PACKAGES=()
for set in "${@:-run}"; do
  case "$set" in
    run) PACKAGES+=("${RUN[@]}") ;;
    test) PACKAGES+=("${TEST[@]}") ;;
    *) echo "system-deps.sh: unknown set '$set' (use run and/or test)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "os1: please install these system packages with your package manager: ${missing[*]}" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "os1: system packages missing: ${missing[*]}. Run: sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "==> installing system packages: ${missing[*]}"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
