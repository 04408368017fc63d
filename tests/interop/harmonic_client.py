"""A small client of the Harmonic wire protocol, version 1.

Written from ../shared/PROTOCOL.md alone (not from the Rust implementation), so
that running it against the server proves the spec is enough to write a
client. Python 3.11, standard library plus the `cryptography` package.

Layers, bottom up:
- frames: u32 big-endian length | body, 1 <= length <= 1 MiB;
- handshake: ClientHello / ServerHello (plaintext frames), signature check,
  ECDH + HKDF key schedule;
- FrameCipher: ChaCha20-Poly1305 with counter nonces and the length prefix as
  associated data;
- messages: u32 header_len | JSON header | payload;
- Client: requests with ids, answers matched by id, pushes kept aside.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

VERSION = 1
MAX_FRAME = 1_048_576  # the largest `length` of a frame (body bytes)
TAG_LEN = 16
MAX_PLAINTEXT = MAX_FRAME - TAG_LEN
CLIENT_MAGIC = b"HRMC"
SERVER_MAGIC = b"HRMS"
REFUSAL_MAGIC = b"HRMX"
CLIENT_HELLO_LEN = 70
SERVER_HELLO_LEN = 199
POINT_LEN = 65
SIGNATURE_LEN = 64
SIGNATURE_CONTEXT = b"harmonic/1 server signature"
INFO_C2S = b"harmonic/1 client->server"
INFO_S2C = b"harmonic/1 server->client"
CURVE = ec.SECP256R1()


class ProtocolError(Exception):
    """The peer broke the protocol (bad frame, bad hello, bad signature...)."""


class VersionRefused(ProtocolError):
    """The server answered HRMX: it does not speak our version."""

    def __init__(self, highest: int, reason: str):
        super().__init__(f"server refused version {VERSION}: highest {highest}, {reason!r}")
        self.highest = highest
        self.reason = reason


class ConnectionEnded(ProtocolError):
    """The server closed the connection (after a `bye`, if `bye` is set)."""

    def __init__(self, message: str, bye: dict | None = None):
        super().__init__(message)
        self.bye = bye


@dataclass
class ServerError(Exception):
    """A final `error` answer to a request."""

    code: str
    message: str
    fields: dict

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# ---------------------------------------------------------------- frames


def frame(body: bytes) -> bytes:
    """A frame: u32 length | body."""
    if not 1 <= len(body) <= MAX_FRAME:
        raise ProtocolError(f"frame body of {len(body)} bytes is outside 1..{MAX_FRAME}")
    return struct.pack(">I", len(body)) + body


def read_exact(sock: socket.socket, n: int) -> bytes:
    """Reads exactly n bytes, or raises ConnectionEnded."""
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionEnded("the server closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket) -> tuple[bytes, bytes]:
    """Reads one frame; returns (4-byte length prefix, body)."""
    prefix = read_exact(sock, 4)
    (length,) = struct.unpack(">I", prefix)
    if not 1 <= length <= MAX_FRAME:
        raise ProtocolError(f"server sent a frame length of {length}")
    return prefix, read_exact(sock, length)


# ---------------------------------------------------------------- keys


def point_bytes(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """SEC1 uncompressed encoding (65 bytes, 0x04 || X || Y)."""
    return public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def load_point(data: bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from its uncompressed SEC1 encoding (checked on the curve)."""
    if len(data) != POINT_LEN or data[0] != 0x04:
        raise ProtocolError(f"not an uncompressed P-256 point: {data.hex()}")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(CURVE, data)
    except ValueError as err:
        raise ProtocolError(f"point not on P-256: {err}") from err


def private_key_from_hex(hex_scalar: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from a hex scalar (for test vectors)."""
    return ec.derive_private_key(int(hex_scalar, 16), CURVE)


def fingerprint(identity_key: bytes) -> str:
    """hex(SHA-256(65-byte identity key))."""
    return hashlib.sha256(identity_key).hexdigest()


# ---------------------------------------------------------------- handshake


def client_hello(ephemeral: ec.EllipticCurvePrivateKey, version: int = VERSION) -> bytes:
    """ClientHello body: "HRMC" | version | client ephemeral key (70 bytes for v1)."""
    return CLIENT_MAGIC + bytes([version]) + point_bytes(ephemeral.public_key())


@dataclass
class ServerHello:
    """A parsed, signature-checked ServerHello."""

    body: bytes
    ephemeral: bytes
    identity: bytes
    signature: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.identity)


def signed_bytes(hello_c: bytes, server_ephemeral: bytes, server_identity: bytes) -> bytes:
    """What the server signs."""
    return SIGNATURE_CONTEXT + hello_c + server_ephemeral + server_identity


def parse_server_hello(body: bytes, hello_c: bytes) -> ServerHello:
    """Parses a ServerHello (or raises VersionRefused on HRMX) and verifies its signature."""
    if body[:4] == REFUSAL_MAGIC:
        highest = body[4] if len(body) > 4 else -1
        raise VersionRefused(highest, body[5:].decode("utf-8", "replace"))
    if len(body) != SERVER_HELLO_LEN or body[:4] != SERVER_MAGIC:
        raise ProtocolError(f"bad ServerHello ({len(body)} bytes): {body[:8].hex()}...")
    if body[4] != VERSION:
        raise ProtocolError(f"ServerHello has version {body[4]}")
    ephemeral = body[5:70]
    identity = body[70:135]
    signature = body[135:199]
    load_point(ephemeral)
    verify_signature(load_point(identity), signature, signed_bytes(hello_c, ephemeral, identity))
    return ServerHello(body, ephemeral, identity, signature)


def verify_signature(key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> None:
    """ECDSA P-256/SHA-256 check of a fixed 64-byte r||s signature."""
    if len(signature) != SIGNATURE_LEN:
        raise ProtocolError("signature is not 64 bytes")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    try:
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as err:
        raise ProtocolError("the server's signature does not verify") from err


def sign_fixed(key: ec.EllipticCurvePrivateKey, message: bytes, deterministic: bool) -> bytes:
    """ECDSA P-256/SHA-256 as 64-byte r||s (used only to check the vectors)."""
    der = key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=deterministic))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass
class Keys:
    """The handshake's results."""

    shared: bytes
    transcript_hash: bytes
    c2s: bytes
    s2c: bytes


def key_schedule(shared: bytes, hello_c: bytes, hello_s: bytes) -> Keys:
    """th = SHA-256(hellos); k = HKDF-SHA256(salt=th, ikm=shared, info=...)."""
    th = hashlib.sha256(hello_c + hello_s).digest()

    def derive(info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=th, info=info).derive(shared)

    return Keys(shared, th, derive(INFO_C2S), derive(INFO_S2C))


def ecdh(private: ec.EllipticCurvePrivateKey, peer: bytes) -> bytes:
    """The x-coordinate of the shared point (32 bytes)."""
    return private.exchange(ec.ECDH(), load_point(peer))


# ---------------------------------------------------------------- encrypted frames


class FrameCipher:
    """One direction of the encrypted channel: its key and frame counter."""

    def __init__(self, key: bytes):
        self.aead = ChaCha20Poly1305(key)
        self.counter = 0

    def _nonce(self) -> bytes:
        if self.counter >= 1 << 64:
            raise ProtocolError("frame counter would wrap")
        return b"\x00\x00\x00\x00" + self.counter.to_bytes(8, "big")

    def seal(self, plaintext: bytes) -> bytes:
        """Encrypts plaintext into a whole frame (prefix included)."""
        if len(plaintext) > MAX_PLAINTEXT:
            raise ProtocolError(f"plaintext of {len(plaintext)} bytes does not fit a frame")
        prefix = struct.pack(">I", len(plaintext) + TAG_LEN)
        body = self.aead.encrypt(self._nonce(), plaintext, prefix)
        self.counter += 1
        return prefix + body

    def open(self, prefix: bytes, body: bytes) -> bytes:
        """Decrypts a frame's body; the prefix is the associated data."""
        if len(body) < TAG_LEN:
            raise ProtocolError("encrypted frame shorter than its tag")
        try:
            plaintext = self.aead.decrypt(self._nonce(), body, prefix)
        except InvalidTag as err:
            raise ProtocolError(f"frame {self.counter} fails authentication") from err
        self.counter += 1
        return plaintext


# ---------------------------------------------------------------- messages


def encode_message(header: dict, payload: bytes = b"") -> bytes:
    """u32 header_len | compact JSON header | payload."""
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return struct.pack(">I", len(head)) + head + payload


def decode_message(plaintext: bytes) -> tuple[dict, bytes]:
    """Splits a message into its header (a JSON object) and payload."""
    if len(plaintext) < 4:
        raise ProtocolError("message shorter than its header length")
    (header_len,) = struct.unpack(">I", plaintext[:4])
    if header_len > len(plaintext) - 4:
        raise ProtocolError(f"header_len {header_len} exceeds the message")
    header = json.loads(plaintext[4 : 4 + header_len].decode("utf-8"))
    if not isinstance(header, dict) or "type" not in header:
        raise ProtocolError(f"header is not an object with a type: {header!r}")
    return header, plaintext[4 + header_len :]


# ---------------------------------------------------------------- client


@dataclass
class Answer:
    """An `ok` answer: its fields, payload and the pushes that carried its id."""

    fields: dict
    payload: bytes = b""
    pushes: list = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]


class Client:
    """A blocking client: one request at a time, pushes kept aside."""

    def __init__(self, host: str, port: int, timeout: float = 30.0, pin: str | None = None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ephemeral = ec.generate_private_key(CURVE)
        hello_c = client_hello(ephemeral)
        self.sock.sendall(frame(hello_c))
        _, body = read_frame(self.sock)
        self.server_hello = parse_server_hello(body, hello_c)
        if pin is not None and self.server_hello.fingerprint != pin:
            self.sock.close()
            raise ProtocolError(
                f"server key changed: pinned {pin}, offered {self.server_hello.fingerprint}"
            )
        self.keys = key_schedule(ecdh(ephemeral, self.server_hello.ephemeral), hello_c, body)
        self.sender = FrameCipher(self.keys.c2s)
        self.receiver = FrameCipher(self.keys.s2c)
        self.next_id = 1
        self.last_frame_len = 0  # body length of the last frame sent
        self.pending: dict[int, list] = {}  # pushes carrying an outstanding id
        self.answers: dict[int, tuple[dict, bytes]] = {}  # answers waiting to be collected
        self.server_pushes: list[dict] = []  # notice / shutdown / bye / id-less errors

    @property
    def fingerprint(self) -> str:
        return self.server_hello.fingerprint

    def close(self) -> None:
        self.sock.close()

    def send_plaintext(self, plaintext: bytes) -> None:
        sealed = self.sender.seal(plaintext)
        self.last_frame_len = len(sealed) - 4
        self.sock.sendall(sealed)

    def send(self, kind: str, fields: dict | None = None, payload: bytes = b"") -> int:
        """Sends a request; returns its id."""
        request_id = self.next_id
        self.next_id += 1
        header = {"type": kind, "id": request_id}
        header.update(fields or {})
        self.pending[request_id] = []
        self.send_plaintext(encode_message(header, payload))
        return request_id

    def receive(self) -> tuple[dict, bytes]:
        """The next message from the server."""
        prefix, body = read_frame(self.sock)
        return decode_message(self.receiver.open(prefix, body))

    def _dispatch(self, header: dict, payload: bytes) -> None:
        kind = header["type"]
        request_id = header.get("id")
        if kind in ("ok", "error") and request_id in self.pending:
            self.answers[request_id] = (header, payload)
        elif kind in ("progress", "log") and request_id in self.pending:
            self.pending[request_id].append(header)
        elif request_id is None:
            self.server_pushes.append(header)
            if kind == "bye":
                raise ConnectionEnded(f"server said bye: {header.get('reason')}", header)
        else:
            raise ProtocolError(f"message for no outstanding request: {header}")

    def wait(self, request_id: int) -> Answer:
        """Waits for the final answer to `request_id`; raises ServerError on `error`."""
        while request_id not in self.answers:
            self._dispatch(*self.receive())
        header, payload = self.answers.pop(request_id)
        pushes = self.pending.pop(request_id)
        if header["type"] == "error":
            fields = {k: v for k, v in header.items() if k not in ("type", "id", "code", "message")}
            raise ServerError(header.get("code", "?"), header.get("message", ""), fields)
        fields = {k: v for k, v in header.items() if k not in ("type", "id")}
        return Answer(fields, payload, pushes)

    def call(self, kind: str, fields: dict | None = None, payload: bytes = b"") -> Answer:
        """Sends a request and waits for its answer."""
        return self.wait(self.send(kind, fields, payload))

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def refused_version(host: str, port: int, version: int, timeout: float = 10.0) -> tuple[int, str]:
    """Offers another version; returns the server's HRMX (highest version, reason)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(frame(client_hello(ec.generate_private_key(CURVE), version)))
        _, body = read_frame(sock)
        if body[:4] != REFUSAL_MAGIC or len(body) < 5:
            raise ProtocolError(f"expected HRMX, got {body[:8].hex()}")
        return body[4], body[5:].decode("utf-8")
