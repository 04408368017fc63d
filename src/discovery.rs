//! LAN discovery: phones find a server without typing its address.
//!
//! A client broadcasts a small UDP probe to port 2525; every server that
//! hears it answers to the probe's source with its TCP port, its identity
//! fingerprint and a name. The server's address is the source address of
//! the answer. The byte layout is in `docs/DISCOVERY.md`:
//!
//! ```text
//! probe  = "HRMD" | u8 version (=1) | nonce (16 bytes)                                  21 bytes
//! answer = "HRMA" | u8 version (=1) | nonce (16) | u16 TCP port | SHA-256 of the
//!          identity key (32 raw bytes) | server name (UTF-8, at most 64 bytes)          55..119 bytes
//! ```
//!
//! The answer echoes the nonce so that a client keeps only answers to its own
//! probe. The fingerprint lets the client pin the server's key before it
//! connects (the handshake then checks it). The server ignores anything that
//! is not a well-formed version-1 probe, and answers at most
//! [`MAX_ANSWERS_PER_SECOND`] probes a second, so it is a poor reflector.
//!
//! This module is plain tokio: [`serve`] answers probes on a bound socket,
//! [`discover`] sends probes and collects answers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

/// The default UDP port (the same number as the TCP port).
pub const DISCOVERY_PORT: u16 = 2525;
/// Magic of a probe.
pub const PROBE_MAGIC: &[u8; 4] = b"HRMD";
/// Magic of an answer.
pub const ANSWER_MAGIC: &[u8; 4] = b"HRMA";
/// The version of the discovery messages.
pub const DISCOVERY_VERSION: u8 = 1;
/// Length of a probe.
pub const PROBE_LEN: usize = 4 + 1 + 16;
/// Length of an answer without its name.
pub const ANSWER_FIXED_LEN: usize = 4 + 1 + 16 + 2 + 32;
/// Longest server name sent, in bytes (longer names are cut at a character boundary).
pub const MAX_NAME_LEN: usize = 64;
/// Probes answered per second at most; the rest are ignored.
pub const MAX_ANSWERS_PER_SECOND: u32 = 64;

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The socket failed.
    #[error("discovery socket: {0}")]
    Io(#[from] std::io::Error),
}

/// What a server says about itself in an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAnnouncement {
    /// The TCP port of the protocol.
    pub tcp_port: u16,
    /// SHA-256 of the server's identity key (what clients pin).
    pub fingerprint: [u8; 32],
    /// A name for people (the host name by default).
    pub name: String,
}

/// A probe: 16 random bytes that its answers echo.
pub fn encode_probe(nonce: &[u8; 16]) -> [u8; PROBE_LEN] {
    let mut probe = [0u8; PROBE_LEN];
    probe[..4].copy_from_slice(PROBE_MAGIC);
    probe[4] = DISCOVERY_VERSION;
    probe[5..].copy_from_slice(nonce);
    probe
}

/// The nonce of a well-formed version-1 probe; `None` for anything else.
pub fn decode_probe(datagram: &[u8]) -> Option<[u8; 16]> {
    if datagram.len() != PROBE_LEN
        || &datagram[..4] != PROBE_MAGIC
        || datagram[4] != DISCOVERY_VERSION
    {
        return None;
    }
    datagram[5..].try_into().ok()
}

/// `name` cut to at most [`MAX_NAME_LEN`] bytes at a character boundary.
fn clip_name(name: &str) -> &str {
    if name.len() <= MAX_NAME_LEN {
        return name;
    }
    let mut end = MAX_NAME_LEN;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// The answer to a probe with `nonce`.
pub fn encode_answer(nonce: &[u8; 16], server: &ServerAnnouncement) -> Vec<u8> {
    let name = clip_name(&server.name);
    let mut answer = Vec::with_capacity(ANSWER_FIXED_LEN + name.len());
    answer.extend_from_slice(ANSWER_MAGIC);
    answer.push(DISCOVERY_VERSION);
    answer.extend_from_slice(nonce);
    answer.extend_from_slice(&server.tcp_port.to_be_bytes());
    answer.extend_from_slice(&server.fingerprint);
    answer.extend_from_slice(name.as_bytes());
    answer
}

/// Reads an answer to the probe with `nonce`; `None` if it is not one
/// (another nonce, another version, malformed). A name that is not valid
/// UTF-8 is read lossily.
pub fn decode_answer(datagram: &[u8], nonce: &[u8; 16]) -> Option<ServerAnnouncement> {
    if datagram.len() < ANSWER_FIXED_LEN
        || &datagram[..4] != ANSWER_MAGIC
        || datagram[4] != DISCOVERY_VERSION
        || &datagram[5..21] != nonce
    {
        return None;
    }
    let tcp_port = u16::from_be_bytes([datagram[21], datagram[22]]);
    let fingerprint: [u8; 32] = datagram[23..55].try_into().ok()?;
    let name = String::from_utf8_lossy(&datagram[55..]).into_owned();
    Some(ServerAnnouncement {
        tcp_port,
        fingerprint,
        name,
    })
}

/// The host's name, for the default server name: `/proc/sys/kernel/hostname`,
/// `/etc/hostname` or `HOSTNAME`, else `"harmonic"`.
pub fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "harmonic".to_owned())
}

/// Answers probes on `socket` until the task is dropped.
pub async fn serve(socket: UdpSocket, server: ServerAnnouncement) {
    let mut buf = [0u8; 512];
    let mut window = Instant::now();
    let mut answered = 0u32;
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(err) => {
                // ICMP errors of earlier answers surface here on some systems.
                log::debug!(target: "connection", "discovery: receive failed: {err}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(nonce) = decode_probe(&buf[..len]) else {
            log::debug!(target: "connection", "discovery: ignored {len} byte(s) from {peer}");
            continue;
        };
        if window.elapsed() >= Duration::from_secs(1) {
            window = Instant::now();
            answered = 0;
        }
        if answered >= MAX_ANSWERS_PER_SECOND {
            continue;
        }
        answered += 1;
        log::debug!(target: "connection", "discovery: probe from {peer}");
        if let Err(err) = socket.send_to(&encode_answer(&nonce, &server), peer).await {
            log::debug!(target: "connection", "discovery: cannot answer {peer}: {err}");
        }
    }
}

/// A server that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredServer {
    /// Where the protocol listens: the answer's source address with its TCP port.
    pub address: SocketAddr,
    /// What it said.
    pub announcement: ServerAnnouncement,
}

impl DiscoveredServer {
    /// The fingerprint as clients pin it (lower-case hex).
    pub fn fingerprint_hex(&self) -> String {
        hex::encode(self.announcement.fingerprint)
    }
}

/// Sends one probe to each of `targets` (broadcast addresses included) and
/// collects the answers that come within `timeout`, one per server address,
/// sorted by address. Targets that cannot be reached are skipped.
pub async fn discover(
    targets: &[SocketAddr],
    timeout: Duration,
) -> Result<Vec<DiscoveredServer>, DiscoveryError> {
    let socket = UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0))).await?;
    socket.set_broadcast(true)?;
    let mut nonce = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let probe = encode_probe(&nonce);
    for target in targets {
        if let Err(err) = socket.send_to(&probe, target).await {
            log::debug!(target: "connection", "discovery: cannot probe {target}: {err}");
        }
    }
    let mut found = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = [0u8; 512];
    loop {
        let received = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await;
        let (len, from) = match received {
            Err(_) => break,
            Ok(Ok(received)) => received,
            // e.g. "connection refused" from a probed port nobody listens on.
            Ok(Err(_)) => continue,
        };
        if let Some(announcement) = decode_answer(&buf[..len], &nonce) {
            let address = SocketAddr::new(from.ip(), announcement.tcp_port);
            found.insert(
                address,
                DiscoveredServer {
                    address,
                    announcement,
                },
            );
        }
    }
    Ok(found.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement(name: &str) -> ServerAnnouncement {
        ServerAnnouncement {
            tcp_port: 2525,
            fingerprint: [0xab; 32],
            name: name.into(),
        }
    }

    #[test]
    fn probes_and_answers_round_trip_and_bad_ones_are_ignored() {
        let nonce = [7u8; 16];
        let probe = encode_probe(&nonce);
        assert_eq!(&probe[..5], b"HRMD\x01");
        assert_eq!(decode_probe(&probe), Some(nonce));
        assert_eq!(decode_probe(&probe[..20]), None);
        let mut v2 = probe;
        v2[4] = 2;
        assert_eq!(decode_probe(&v2), None);
        assert_eq!(decode_probe(b"HRMC\x01aaaaaaaaaaaaaaaa"), None);

        let server = announcement("studio");
        let answer = encode_answer(&nonce, &server);
        assert_eq!(answer.len(), ANSWER_FIXED_LEN + 6);
        assert_eq!(&answer[..5], b"HRMA\x01");
        assert_eq!(&answer[21..23], &[0x09, 0xdd], "port 2525, big-endian");
        assert_eq!(decode_answer(&answer, &nonce), Some(server));
        assert_eq!(decode_answer(&answer, &[8u8; 16]), None, "another probe's");
        assert_eq!(decode_answer(&answer[..54], &nonce), None);
    }

    #[test]
    fn long_names_are_cut_at_a_character_boundary() {
        let name = "é".repeat(40); // 80 bytes
        let answer = encode_answer(&[0; 16], &announcement(&name));
        let decoded = decode_answer(&answer, &[0; 16]).unwrap();
        assert_eq!(decoded.name, "é".repeat(32));
        assert!(answer.len() <= ANSWER_FIXED_LEN + MAX_NAME_LEN);
        assert!(!host_name().is_empty());
    }

    #[tokio::test]
    async fn discovery_on_loopback() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let server = tokio::spawn(serve(socket, announcement("loop")));
        // A datagram that is not a probe gets no answer and does not stop it.
        let junk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        junk.send_to(b"hello", addr).await.unwrap();
        let found = discover(&[addr], Duration::from_millis(500)).await.unwrap();
        server.abort();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].address, SocketAddr::from(([127, 0, 0, 1], 2525)));
        assert_eq!(found[0].announcement.name, "loop");
        assert_eq!(found[0].fingerprint_hex(), "ab".repeat(32));
    }
}
