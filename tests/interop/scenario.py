"""Interop scenario: a client written from PROTOCOL.md alone, against a real server.

    python3 tests/interop/scenario.py --server 127.0.0.1:2525 [--vectors ../shared/test-vectors.json]
                                      [--fingerprint HEX] [--vectors-only]

First (with --vectors) it reproduces the handshake test vectors, then it runs
the scenario: signup, login, save a sound, count a recording with the sound
planted 3 times, stream the same recording as raw PCM, ping, logout, and a few
errors. Every check prints one line; the last line is
`interop: N passed, M failed`. The exit status is 0 only when nothing failed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import random
import sys
import time
import traceback
import wave

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harmonic_client as hc  # noqa: E402

RATE = 16_000
PLANTED_AT = [1.0, 2.75, 4.4]  # seconds where the sound is planted in the recording
RECORDING_S = 6.0
COUNT_TOLERANCE_S = 0.1
STREAM_TOLERANCE_S = 0.001
PASSWORD = "correct horse battery"


class Checks:
    """Counts passed and failed checks and prints each one."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"ok    {name}")
        else:
            self.failed.append(name)
            print(f"FAIL  {name}: {detail}")
        return ok

    def equal(self, name: str, got, expected) -> bool:
        return self.check(name, got == expected, f"expected {expected!r}, got {got!r}")

    def run(self, name: str, step) -> object:
        """Runs a step; an exception is a failed check with its message."""
        try:
            return step()
        except Exception as err:  # noqa: BLE001 - every failure is reported, not raised
            self.failed.append(name)
            print(f"FAIL  {name}: {type(err).__name__}: {err}")
            traceback.print_exc(limit=3, file=sys.stdout)
            return None

    def expect_error(self, name: str, code: str, step) -> None:
        """Runs a request that must be answered with the error `code`."""
        try:
            answer = step()
        except hc.ServerError as err:
            self.equal(name, err.code, code)
            return
        except Exception as err:  # noqa: BLE001
            self.check(name, False, f"expected error {code}, got {type(err).__name__}: {err}")
            return
        self.check(name, False, f"expected error {code}, got ok {answer.fields}")


# ---------------------------------------------------------------- audio


def burst(rate: int, seconds: float = 0.25, seed: int = 7) -> list[float]:
    """A decaying noise burst: the sound to count."""
    rng = random.Random(seed)
    n = int(seconds * rate)
    return [rng.uniform(-1.0, 1.0) * 0.8 * math.exp(-i / (0.04 * rate)) for i in range(n)]


def recording(sound: list[float], rate: int, seconds: float, at: list[float]) -> list[float]:
    """Faint noise with `sound` added at each time of `at`."""
    rng = random.Random(11)
    signal = [rng.uniform(-1.0, 1.0) * 0.003 for _ in range(int(seconds * rate))]
    for t in at:
        start = int(t * rate)
        for i, s in enumerate(sound):
            if start + i < len(signal):
                signal[start + i] += s
    return signal


def pcm_s16le(samples: list[float]) -> bytes:
    """Samples as 16-bit little-endian signed PCM."""
    out = bytearray()
    for s in samples:
        out += max(-32768, min(32767, round(s * 32767))).to_bytes(2, "little", signed=True)
    return bytes(out)


def wav_bytes(samples: list[float], rate: int, width: int = 2) -> bytes:
    """A mono WAV file (16-bit, or 8-bit unsigned with width 1), written with the `wave` module."""
    if width == 1:
        frames = bytes(max(0, min(255, 128 + round(s * 127))) for s in samples)
    else:
        frames = pcm_s16le(samples)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return buffer.getvalue()


def frame_limits(checks: Checks, client: hc.Client, host: str, port: int) -> None:
    """A frame of exactly 1 MiB is accepted; a longer length prefix is a protocol error."""
    rate = 22_050
    for name in ("limit", "limit1"):
        header = hc.encode_message({"type": "sound.save", "id": client.next_id, "name": name})
        samples = hc.MAX_PLAINTEXT - len(header) - 44  # 44: the WAV header of `wave`
        if samples % 2 == 0:
            break
    rng = random.Random(3)
    big = wav_bytes([rng.uniform(-0.5, 0.5) for _ in range(samples)], rate, width=1)
    request_id = client.send("sound.save", {"name": name}, big)
    checks.equal("the frame just sent is 1,048,576 bytes long", client.last_frame_len, hc.MAX_FRAME)
    saved = client.wait(request_id)["sound"]
    checks.check(
        "a frame of exactly 1 MiB is accepted (sound.save of an 8-bit WAV)",
        saved["size"] == len(big) and saved["sample_rate"] == rate,
        f"got {saved}",
    )
    client.call("sound.delete", {"name": name})

    with hc.Client(host, port, pin=client.fingerprint) as other:
        other.sock.sendall((hc.MAX_FRAME + 1).to_bytes(4, "big"))
        try:
            header, _ = other.receive()
        except hc.ConnectionEnded as err:
            header = {"closed": str(err)}
        checks.equal("a length prefix of 1,048,577 is answered by bye protocol_error", header, {"type": "bye", "reason": "protocol_error"})
    with hc.Client(host, port, pin=client.fingerprint) as other:
        tampered = bytearray(other.sender.seal(hc.encode_message({"type": "ping", "id": 1})))
        tampered[-1] ^= 1
        other.sock.sendall(bytes(tampered))
        try:
            header, _ = other.receive()
            checks.check("a frame that fails authentication ends the connection", False, f"got {header}")
        except hc.ConnectionEnded:
            checks.check("a frame that fails authentication ends the connection", True)


# ---------------------------------------------------------------- vectors


def self_check(checks: Checks, path: str) -> None:
    """Reproduces every value of test-vectors.json."""
    with open(path, encoding="utf-8") as f:
        v = json.load(f)
    x = bytes.fromhex
    client_private = hc.private_key_from_hex(v["client_ephemeral_private"])
    hello_c = hc.client_hello(client_private)
    checks.equal("vectors: client hello from the fixed key", hello_c.hex(), v["client_hello"])
    hello_s = x(v["server_hello"])

    server_ephemeral = hc.private_key_from_hex(v["server_ephemeral_private"])
    server_identity = hc.private_key_from_hex(v["server_identity_private"])
    checks.equal(
        "vectors: server keys in the server hello",
        (hello_s[5:70].hex(), hello_s[70:135].hex()),
        (
            hc.point_bytes(server_ephemeral.public_key()).hex(),
            hc.point_bytes(server_identity.public_key()).hex(),
        ),
    )
    parsed = checks.run(
        "vectors: server hello parses, signature verifies",
        lambda: hc.parse_server_hello(hello_s, x(v["client_hello"])),
    )
    if parsed is not None:
        checks.check("vectors: server hello parses, signature verifies", True)
        checks.equal("vectors: identity fingerprint", parsed.fingerprint, v["server_identity_fingerprint"])
    tampered = bytearray(hello_s)
    tampered[-1] ^= 1
    try:
        hc.parse_server_hello(bytes(tampered), x(v["client_hello"]))
        checks.check("vectors: a tampered signature is refused", False, "it verified")
    except hc.ProtocolError:
        checks.check("vectors: a tampered signature is refused", True)
    signed = hc.signed_bytes(x(v["client_hello"]), hello_s[5:70], hello_s[70:135])
    checks.equal(
        "vectors: RFC 6979 signature reproduced byte for byte",
        hc.sign_fixed(server_identity, signed, deterministic=True).hex(),
        hello_s[135:].hex(),
    )

    shared = hc.ecdh(client_private, hello_s[5:70])
    checks.equal("vectors: ECDH shared x", shared.hex(), v["ecdh_shared_x"])
    checks.equal(
        "vectors: ECDH from the server side",
        hc.ecdh(server_ephemeral, hello_c[5:]).hex(),
        v["ecdh_shared_x"],
    )
    keys = hc.key_schedule(shared, x(v["client_hello"]), hello_s)
    checks.equal("vectors: transcript hash", keys.transcript_hash.hex(), v["transcript_hash"])
    checks.equal("vectors: k_c2s", keys.c2s.hex(), v["k_c2s"])
    checks.equal("vectors: k_s2c", keys.s2c.hex(), v["k_s2c"])

    sealers = {"c2s": hc.FrameCipher(keys.c2s), "s2c": hc.FrameCipher(keys.s2c)}
    openers = {"c2s": hc.FrameCipher(keys.c2s), "s2c": hc.FrameCipher(keys.s2c)}
    for i, f in enumerate(v["frames"]):
        sealer, opener = sealers[f["direction"]], openers[f["direction"]]
        name = f"vectors: frame {i} ({f['direction']} #{f['counter']})"
        checks.equal(f"{name} counter", sealer.counter, f["counter"])
        plaintext = x(f["plaintext"])
        header, payload = hc.decode_message(plaintext)
        checks.equal(f"{name} message re-encodes", hc.encode_message(header, payload).hex(), f["plaintext"])
        checks.equal(f"{name} sealed", sealer.seal(plaintext).hex(), f["frame"])
        sealed = x(f["frame"])
        checks.equal(f"{name} opened", opener.open(sealed[:4], sealed[4:]).hex(), f["plaintext"])


# ---------------------------------------------------------------- scenario


def events_close(a: list[dict], b: list[dict], tolerance: float) -> bool:
    return len(a) == len(b) and all(abs(x["start_s"] - y["start_s"]) <= tolerance for x, y in zip(a, b))


def times(events: list[dict]) -> list[float]:
    return [round(e["start_s"], 4) for e in events]


def check_count_answer(checks: Checks, name: str, answer: hc.Answer, request_id_pushes: list) -> list[dict]:
    """Checks a count answer against the planted times; returns its events."""
    events = answer["events"]
    checks.equal(f"{name}: count == {len(PLANTED_AT)}", answer["count"], len(PLANTED_AT))
    checks.check(
        f"{name}: start times within {COUNT_TOLERANCE_S} s of {PLANTED_AT}",
        events_close(events, [{"start_s": t} for t in PLANTED_AT], COUNT_TOLERANCE_S),
        f"got {times(events)}",
    )
    checks.check(
        f"{name}: events in time order with scores in 0..1",
        all(0 <= e["score"] <= 1 for e in events)
        and all(a["start_s"] <= b["start_s"] for a, b in zip(events, events[1:])),
        f"got {events}",
    )
    checks.check(
        f"{name}: duration_s",
        abs(answer["duration_s"] - RECORDING_S) < 0.01,
        f"got {answer['duration_s']}, expected {RECORDING_S}",
    )
    done = [p["done_s"] for p in request_id_pushes if p["type"] == "progress"]
    checks.check(
        f"{name}: progress pushes ({len(done)}) never go back",
        all(a <= b for a, b in zip(done, done[1:]))
        and all(abs(p["total_s"] - RECORDING_S) < 0.01 for p in request_id_pushes),
        f"got {request_id_pushes}",
    )
    return events


def scenario(checks: Checks, host: str, port: int, pin: str | None) -> None:
    highest, reason = hc.refused_version(host, port, 2)
    checks.equal(f"version 2 is refused with HRMX, highest version ({reason!r})", highest, 1)

    client = hc.Client(host, port, pin=pin)
    checks.check(f"handshake, server signature verified (fingerprint {client.fingerprint})", True)
    username = "interop_" + os.urandom(4).hex()

    checks.expect_error("request before login is unauthenticated", "unauthenticated", lambda: client.call("sound.list"))

    # An unreadable header: `bad_request` without an id, and the session goes on.
    client.send_plaintext(b"\x00\x00\x00\x05nope!")
    header, _ = client.receive()
    checks.check(
        "unreadable header: bad_request without id",
        header.get("type") == "error" and header.get("code") == "bad_request" and "id" not in header,
        f"got {header}",
    )

    checks.equal("signup", client.call("signup", {"username": username, "password": PASSWORD}).fields, {})
    checks.expect_error(
        "wrong password is invalid_credentials",
        "invalid_credentials",
        lambda: client.call("login", {"username": username, "password": PASSWORD + "!"}),
    )
    login = client.call("login", {"username": username.upper(), "password": PASSWORD})
    checks.check(
        "login (username in another case)",
        login["username"] == username
        and login["role"] == "user"
        and login["sounds"] == []
        and isinstance(login["resume_token"], str)
        and login["resume_ttl_s"] > 0,
        f"got {login.fields}",
    )

    before = time.time() * 1000
    pong = client.call("ping")
    checks.check(
        "ping: server_time_ms is now",
        isinstance(pong["server_time_ms"], int) and abs(pong["server_time_ms"] - before) < 60_000,
        f"got {pong.fields}, local {before:.0f}",
    )

    pipelined = [client.send("ping"), client.send("sound.list"), client.send("ping")]
    answers = [client.wait(request_id) for request_id in reversed(pipelined)]
    checks.check(
        "pipelined requests each get their own answer",
        "server_time_ms" in answers[0].fields and answers[1]["sounds"] == [] and "server_time_ms" in answers[2].fields,
        f"got {[a.fields for a in answers]}",
    )

    frame_limits(checks, client, host, port)

    sound = burst(RATE)
    sound_wav = wav_bytes(sound, RATE)
    saved = client.call("sound.save", {"name": "burst"}, sound_wav)["sound"]
    checks.check(
        "sound.save inline",
        saved["name"] == "burst"
        and saved["size"] == len(sound_wav)
        and saved["sha256"].lower() == hashlib.sha256(sound_wav).hexdigest()
        and saved["sample_rate"] == RATE
        and saved["channels"] == 1
        and abs(saved["duration_ms"] - 250) <= 1,
        f"got {saved}",
    )
    listed = client.call("sound.list")["sounds"]
    checks.equal("sound.list shows it", [s["name"] for s in listed], ["burst"])
    got = client.call("sound.get", {"name": "burst"})
    checks.check("sound.get gives the same bytes", got.payload == sound_wav, f"{len(got.payload)} bytes")

    samples = recording(sound, RATE, RECORDING_S, PLANTED_AT)
    recording_wav = wav_bytes(samples, RATE)
    counted = client.call("count", {"sound": "burst"}, recording_wav)
    events = check_count_answer(checks, "count inline", counted, counted.pushes)
    print(f"      count: {counted['count']} at {times(events)}, elapsed_ms {counted['elapsed_ms']}")

    # The same recording as a finished upload, in three chunks.
    begun = client.call("upload.begin", {"size": len(recording_wav), "sha256": hashlib.sha256(recording_wav).hexdigest()})
    upload_id = begun["upload_id"]
    offset = 0
    for size in (70_001, 100_000, len(recording_wav)):
        chunk = recording_wav[offset : offset + size]
        if not chunk:
            break
        received = client.call("upload.chunk", {"upload_id": upload_id, "offset": offset}, chunk)["received"]
        offset += len(chunk)
        checks.equal(f"upload.chunk received {offset}", received, offset)
    finished = client.call("upload.finish", {"upload_id": upload_id})
    checks.equal("upload.finish", (finished["upload_id"], finished["size"]), (upload_id, len(recording_wav)))
    by_upload = client.call("count", {"sound": "burst", "recording_upload": upload_id})
    checks.check(
        "count of the uploaded recording gives the same events",
        events_close(by_upload["events"], events, STREAM_TOLERANCE_S),
        f"got {times(by_upload['events'])}, inline {times(events)}",
    )
    checks.expect_error(
        "a consumed upload is not_found",
        "not_found",
        lambda: client.call("count", {"sound": "burst", "recording_upload": upload_id}),
    )

    # Live: the same samples as raw s16le PCM, in chunks, one ending mid-sample.
    pcm = pcm_s16le(samples)
    opened = client.call(
        "stream.open",
        {"sound": "burst", "format": {"encoding": "s16le", "sample_rate": RATE, "channels": 1}},
    )
    stream_id = opened["stream_id"]
    cuts = [0, 24_001, 64_000, 64_000 + 50_000, 150_000, len(pcm)]
    checks.check("a chunk ends mid-sample", cuts[1] % 2 == 1, str(cuts))
    live_events: list[dict] = []
    totals_ok = True
    processed = []
    for a, b in zip(cuts, cuts[1:]):
        data = client.call("stream.data", {"stream_id": stream_id}, pcm[a:b])
        live_events += data["new_events"]
        processed.append(data["processed_s"])
        totals_ok &= data["total"] == len(live_events)
    checks.check("stream.data: total counts every new event", totals_ok, f"events {times(live_events)}")
    checks.check(
        "stream.data: processed_s never goes back",
        all(a <= b for a, b in zip(processed, processed[1:])) and processed[-1] <= RECORDING_S + 1e-6,
        str(processed),
    )
    closed = client.call("stream.close", {"stream_id": stream_id})
    checks.check(
        "stream.close gives count's events (start_s within 1 ms)",
        closed["total"] == counted["count"] and events_close(closed["events"], events, STREAM_TOLERANCE_S),
        f"stream {closed['total']} {times(closed['events'])}, count {counted['count']} {times(events)}",
    )
    checks.check(
        "stream.close: the events reported on the way are the same",
        events_close(live_events, closed["events"], 1e-9),
        f"on the way {times(live_events)}, at close {times(closed['events'])}",
    )
    checks.check(
        "stream.close: duration_s",
        abs(closed["duration_s"] - RECORDING_S) < 0.01,
        f"got {closed['duration_s']}",
    )

    # Resume on a second connection, then a revoked and a spent token.
    token = login["resume_token"]
    with hc.Client(host, port, pin=client.fingerprint) as other:
        resumed = other.call("resume", {"token": token})
        checks.check(
            "resume on a new connection",
            resumed["username"] == username and resumed["sounds"] == ["burst"] and resumed["resume_token"] != token,
            f"got {resumed.fields}",
        )
        checks.equal("logout", other.call("logout").fields, {})
        checks.expect_error(
            "a revoked token is invalid_credentials",
            "invalid_credentials",
            lambda: other.call("resume", {"token": resumed["resume_token"]}),
        )
        checks.expect_error(
            "a spent token is invalid_credentials",
            "invalid_credentials",
            lambda: other.call("resume", {"token": token}),
        )

    checks.equal("logout", client.call("logout").fields, {})
    checks.expect_error("after logout: unauthenticated", "unauthenticated", lambda: client.call("sound.list"))
    checks.equal("no unexpected server messages", client.server_pushes, [])
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="HOST:PORT of a running server")
    parser.add_argument("--vectors", help="test-vectors.json to reproduce first")
    parser.add_argument("--fingerprint", help="the server's identity fingerprint to pin")
    parser.add_argument("--vectors-only", action="store_true", help="only the vector self-check")
    args = parser.parse_args()
    if not args.vectors_only and not args.server:
        parser.error("--server is required (or --vectors-only)")

    checks = Checks()
    started = time.monotonic()
    if args.vectors:
        checks.run("vector self-check", lambda: self_check(checks, args.vectors))
    else:
        print("skip  vector self-check (no --vectors given)")
    if checks.failed:
        print("interop: the vector self-check failed; not talking to the server")
    elif not args.vectors_only:
        host, _, port = args.server.rpartition(":")
        checks.run("scenario", lambda: scenario(checks, host, int(port), args.fingerprint))
    print(f"interop: {checks.passed} passed, {len(checks.failed)} failed ({time.monotonic() - started:.1f} s)")
    if checks.failed:
        print("interop: failed: " + "; ".join(checks.failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
