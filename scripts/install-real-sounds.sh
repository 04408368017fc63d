#!/usr/bin/env bash
# Installs the real recordings the real-sound bench (`cargo bench --bench
# real`) and the real-sound regression tests are built from, and lays them
# out as mono 16-bit WAV files, one folder per family of similar sounds:
#
#   $HARMONIC_REAL_SOUNDS (default /var/cache/harmonic/real-sounds)/
#     sounds/<family>/<name>.wav    short sounds: templates and distractors
#     music/<name>.wav              backgrounds
#     voice/<name>.wav              words mixed into babble backgrounds
#
# Run as root on Debian 12 (apt-get install). Idempotent: run it again to
# refresh. Everything comes from Debian packages (licences in
# /usr/share/doc/<package>/copyright). Sources RESERVED for independent
# evaluation are never installed or used here: the freedesktop sound theme
# (sound-theme-freedesktop), ALSA's test sounds (alsa-utils), pygame's
# examples and espeak-ng.
set -euo pipefail

OUT="${HARMONIC_REAL_SOUNDS:-/var/cache/harmonic/real-sounds}"
PACKAGES=(
  bucklespring-data          # key presses of a real keyboard (IBM model M)
  asterisk-core-sounds-en-wav  # a real voice: digits, letters, phonetic words
  oxygen-sounds              # KDE's UI chimes: log in / log out, message in / out...
  lomiri-sounds              # phone notification chimes
  sound-icons                # short instrument and UI sounds (speech-dispatcher)
  lbreakout2-data            # game effects: clicks, bounces, explosions
  frozen-bubble-data         # game effects, and music
  pingus-data                # game effects: plops, ticks, splashes
  chromium-bsu-data          # game effects: explosions, and music
  asterisk-moh-opsound-wav   # music on hold: backgrounds
  sox libsox-fmt-all         # conversion of Ogg Vorbis to WAV
)

if [ "$(id -u)" -ne 0 ]; then
  echo "run as root (it installs Debian packages)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${PACKAGES[@]}"

rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"/{sounds,music,voice}

# convert SRC DEST [MAX_SECONDS]: mono, 16-bit, original rate; short sounds
# are cut at MAX_SECONDS. `-R` seeds SoX's dither: without it every install
# dithers differently, and the corpus (so every bench figure) would differ
# from one machine to the next.
convert() {
  local src="$1" dest="$2" max="${3:-}"
  mkdir -p "$(dirname "$dest")"
  if [ -n "$max" ]; then
    sox -R -V1 -q "$src" -c 1 -b 16 "$dest" trim 0 "$max"
  else
    sox -R -V1 -q "$src" -c 1 -b 16 "$dest"
  fi
}
# family NAME FILES...: short sounds (at most 3 s) of one family.
family() {
  local name="$1"; shift
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    local base
    base="$(basename "$f")"
    convert "$f" "$OUT.tmp/sounds/$name/${base%.*}.wav" 3
  done
}

ASTERISK=/usr/share/asterisk/sounds/en_US_f_Allison
family keys /usr/share/buckle/wav/*-0.wav
family digits "$ASTERISK"/digits/{?,1?,[2-9]0}.wav
family phonetic "$ASTERISK"/phonetic/*.wav
family oxygen /usr/share/sounds/Oxygen-*.ogg
family lomiri /usr/share/sounds/lomiri/notifications/*.ogg /usr/share/sounds/lomiri/camera/*/*.ogg
family sound-icons /usr/share/sounds/sound-icons/*.wav
family lbreakout2 /usr/share/games/lbreakout2/sounds/*.wav
family frozen-bubble $(ls /usr/share/games/frozen-bubble/snd/*.ogg | grep -v -e zik -e applause -e snore)
family pingus /usr/share/games/pingus/data/sounds/*.wav
family chromium-bsu $(ls /usr/share/games/chromium-bsu/wav/*.wav | grep -v music_)

for f in /usr/share/asterisk/moh/*.wav /usr/share/games/frozen-bubble/snd/*zik*.ogg \
         /usr/share/games/chromium-bsu/wav/music_*.wav; do
  base="$(basename "$f")"
  convert "$f" "$OUT.tmp/music/${base%.*}.wav"
done
# Babble: the recorded voice's words (not the digits and phonetic words
# counted above).
for f in "$ASTERISK"/*.wav; do
  base="$(basename "$f")"
  convert "$f" "$OUT.tmp/voice/${base%.*}.wav" 3
done

rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "real sounds in $OUT: $(find "$OUT/sounds" -name '*.wav' | wc -l) short sounds in $(ls "$OUT/sounds" | wc -l) families, $(ls "$OUT/music" | wc -l) music beds, $(ls "$OUT/voice" | wc -l) voice clips"
