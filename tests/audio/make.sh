#!/usr/bin/env bash
# Remakes the files of this folder (see README.md): the sources are written
# by the project's own synthesiser (tests/formats.rs, write_fixture_sources),
# then encoded by ffmpeg as a phone (AAC in M4A, 44.1 kHz stereo) and a PC
# (MP3 at 44.1 kHz, FLAC, Ogg Vorbis) would record them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
(cd "$here/../.." && HARMONIC_FIXTURE_OUT="$src" cargo test --test tests -- --ignored write_fixture_sources)
ff() { ffmpeg -nostdin -v error -y -bitexact "$@"; }
for name in template recording; do
    ff -i "$src/$name.wav" -c:a flac -compression_level 12 "$here/$name.flac"
    ff -i "$src/$name.wav" -ar 44100 -c:a libmp3lame -b:a 48k "$here/$name.mp3"
    ff -i "$src/$name.wav" -ar 44100 -ac 2 -c:a aac -b:a 64k -movflags +faststart "$here/$name.m4a"
    ff -i "$src/$name.wav" -c:a libvorbis -q:a 0 "$here/$name.ogg"
done
# A codec Harmonic does not decode (Opus, in Ogg) and an MP4 with no audio.
ff -f lavfi -i "sine=frequency=440:duration=0.2:sample_rate=48000" -c:a libopus -b:a 16k "$here/tone.opus"
ff -f lavfi -i "color=c=black:s=16x16:d=0.2:r=5" -c:v mpeg4 "$here/no-audio.mp4"
ls -l "$here"
