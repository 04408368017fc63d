//! Helpers for the server's end-to-end tests: a server on 127.0.0.1:0 with a
//! temporary data dir, a small test client over the real transport, and
//! synthetic audio with known occurrences.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use harmonic::actors::ServerThread;
use harmonic::audio::SampleLayout;
use harmonic::config::Settings;
use harmonic::crypto::{channel_pair, FrameSealer, Side};
use harmonic::protocol::encode_message;
use harmonic::protocol::response::ServerMessage;
use harmonic::protocol::Push;
use harmonic::synth;
use harmonic::transport::{client_handshake, split_codecs, DecryptingCodec, Incoming};
use serde_json::{json, Map, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

/// How long a test waits for any one message.
pub const WAIT: Duration = Duration::from_secs(10);

/// Settings for a test server in `dir`.
pub fn settings(dir: &Path) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_owned(),
        analysis_workers: 2,
        // Tests sign up more accounts from 127.0.0.1 than §5's 10 an hour;
        // the limit's own test sets it back.
        signups_per_address: 1000,
        // The machine's free space is no test's business: the disk
        // reserve is tested on its own (server_quotas).
        disk_reserve: 0,
        ..Settings::default()
    }
}

/// A server on its own thread.
pub fn start(settings: Settings) -> ServerThread {
    ServerThread::spawn(settings).expect("server starts")
}

/// An answer: `Ok(fields)` or `Err((code, message, fields))`.
pub type Answer = Result<Map<String, Value>, (String, String, Map<String, Value>)>;

/// A client of the protocol driven by hand.
pub struct TestClient {
    pub reader: FramedRead<OwnedReadHalf, DecryptingCodec>,
    pub writer: OwnedWriteHalf,
    sealer: FrameSealer,
    next_id: u32,
    /// Pushes received while waiting for answers, in order.
    pub pushes: Vec<Push>,
    /// Payload of the last `ok` answer.
    pub last_payload: bytes::Bytes,
    /// Answers that arrived while waiting for another id.
    stash: std::collections::HashMap<u32, Answer>,
}

impl TestClient {
    /// Connects and does the handshake.
    pub async fn connect(addr: std::net::SocketAddr) -> TestClient {
        TestClient::try_connect(addr)
            .await
            .expect("connected, handshake done")
    }

    /// Connects and does the handshake; `None` if the server closed the
    /// connection instead (a connection limit).
    pub async fn try_connect(addr: std::net::SocketAddr) -> Option<TestClient> {
        let stream = TcpStream::connect(addr).await.ok()?;
        TestClient::handshake(stream).await
    }

    /// Connects from the loopback address `source` (127.0.0.0/8: another
    /// client as the server's per-address limits see it) and does the
    /// handshake.
    pub async fn connect_from(addr: std::net::SocketAddr, source: std::net::IpAddr) -> TestClient {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(std::net::SocketAddr::new(source, 0)).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        TestClient::handshake(stream)
            .await
            .expect("connected, handshake done")
    }

    async fn handshake(mut stream: TcpStream) -> Option<TestClient> {
        let accepted = client_handshake(&mut stream, WAIT).await.ok()?;
        let (read, writer) = stream.into_split();
        let (sealer, _) = channel_pair(&accepted.keys, Side::Client);
        let (_, decrypt) = split_codecs(&accepted.keys, Side::Client);
        Some(TestClient {
            reader: FramedRead::new(read, decrypt),
            writer,
            sealer,
            next_id: 1,
            pushes: Vec::new(),
            last_payload: bytes::Bytes::new(),
            stash: Default::default(),
        })
    }

    /// Sends a header (any JSON object) and a payload.
    pub async fn send(&mut self, header: &Value, payload: &[u8]) {
        let plaintext = encode_message(header, payload).unwrap();
        self.send_plaintext(&plaintext).await;
    }

    /// Seals and sends any plaintext (e.g. an unreadable header).
    pub async fn send_plaintext(&mut self, plaintext: &[u8]) {
        let frame = self.sealer.seal(plaintext).unwrap();
        self.send_raw(&frame).await;
    }

    /// Writes bytes on the socket, bypassing the encryption.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        // The server may have closed already; the test reads what it said.
        let _ = self.writer.write_all(bytes).await;
    }

    /// Seals a message without sending it (to tamper with it).
    pub fn seal(&mut self, header: &Value) -> Vec<u8> {
        self.sealer
            .seal(&encode_message(header, &[]).unwrap())
            .unwrap()
    }

    /// The next message; `None` when the connection ended.
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        match tokio::time::timeout(WAIT, self.reader.next()).await {
            Err(_) => panic!("no message within {WAIT:?}"),
            Ok(None) | Ok(Some(Err(_))) => None,
            Ok(Some(Ok(Incoming::Message(raw)))) => Some(ServerMessage::parse(raw).unwrap()),
            Ok(Some(Ok(Incoming::Unreadable(err)))) => panic!("server sent unreadable: {err}"),
        }
    }

    /// A fresh request id.
    pub fn id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sends a request of `kind` with `fields` and waits for its answer,
    /// keeping pushes aside.
    pub async fn call(&mut self, kind: &str, fields: Value, payload: &[u8]) -> Answer {
        let id = self.id();
        self.send(&request(kind, id, fields), payload).await;
        self.answer(id).await
    }

    /// Waits for the answer to `id`.
    pub async fn answer(&mut self, id: u32) -> Answer {
        if let Some(answer) = self.stash.remove(&id) {
            return answer;
        }
        loop {
            match self.recv().await.expect("connection open") {
                ServerMessage::Ok {
                    id: got,
                    fields,
                    payload,
                } if got == id => {
                    self.last_payload = payload;
                    return Ok(fields);
                }
                ServerMessage::Error {
                    id: Some(got),
                    code,
                    message,
                    fields,
                } if got == id => {
                    return Err((code.as_str().to_owned(), message, fields));
                }
                ServerMessage::Ok {
                    id: got, fields, ..
                } => {
                    self.stash.insert(got, Ok(fields));
                }
                ServerMessage::Error {
                    id: Some(got),
                    code,
                    message,
                    fields,
                } => {
                    self.stash
                        .insert(got, Err((code.as_str().to_owned(), message, fields)));
                }
                ServerMessage::Push(push) => self.pushes.push(push),
                other => panic!("unexpected message while waiting for {id}: {other:?}"),
            }
        }
    }

    /// Calls and expects `ok`.
    pub async fn ok(&mut self, kind: &str, fields: Value, payload: &[u8]) -> Map<String, Value> {
        match self.call(kind, fields, payload).await {
            Ok(fields) => fields,
            Err(err) => panic!("{kind} failed: {err:?}"),
        }
    }

    /// Calls and expects an error; returns its code and extra fields.
    pub async fn err(
        &mut self,
        kind: &str,
        fields: Value,
        payload: &[u8],
    ) -> (String, Map<String, Value>) {
        match self.call(kind, fields, payload).await {
            Ok(fields) => panic!("{kind} succeeded: {fields:?}"),
            Err((code, _, fields)) => (code, fields),
        }
    }

    /// Signs up and logs in; returns the login answer.
    pub async fn signup_login(&mut self, username: &str) -> Map<String, Value> {
        self.ok(
            "signup",
            json!({"username": username, "password": "correct horse"}),
            &[],
        )
        .await;
        self.ok(
            "login",
            json!({"username": username, "password": "correct horse"}),
            &[],
        )
        .await
    }

    /// Reads until the connection ends; returns the `bye` reason seen, if any.
    pub async fn until_closed(&mut self) -> Option<String> {
        let mut bye = None;
        while let Some(message) = self.recv().await {
            if let ServerMessage::Push(Push::Bye { reason }) = message {
                bye = Some(reason.as_str().to_owned());
            }
        }
        bye
    }

    /// Uploads `bytes` in chunks; returns the upload id.
    pub async fn upload(&mut self, bytes: &[u8]) -> String {
        let sha = hex_sha(bytes);
        let begun = self
            .ok(
                "upload.begin",
                json!({"size": bytes.len(), "sha256": sha}),
                &[],
            )
            .await;
        let upload_id = begun["upload_id"].as_str().unwrap().to_owned();
        let mut offset = 0;
        for chunk in bytes.chunks(256 * 1024) {
            self.ok(
                "upload.chunk",
                json!({"upload_id": upload_id, "offset": offset}),
                chunk,
            )
            .await;
            offset += chunk.len();
        }
        self.ok("upload.finish", json!({"upload_id": upload_id}), &[])
            .await;
        upload_id
    }
}

/// A request header.
pub fn request(kind: &str, id: u32, fields: Value) -> Value {
    let mut header = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    header.insert("type".into(), json!(kind));
    header.insert("id".into(), json!(id));
    Value::Object(header)
}

/// Lower-case hex SHA-256.
pub fn hex_sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A template sound at `rate`.
pub fn template(rate: u32) -> Vec<f32> {
    synth::sound(synth::SoundKind::KeyClick, rate, &mut synth::rng(7))
}

/// A recording of `seconds` of faint noise with `template` at each of `at`.
pub use harmonic::synth::planted_recording as recording;

/// Samples as WAV bytes (16-bit mono).
pub fn wav(samples: &[f32], rate: u32) -> Vec<u8> {
    synth::wav_bytes(samples, rate, 1, SampleLayout::S16)
}

/// A typed client, signed up and logged in as `username`.
pub async fn typed_client(addr: std::net::SocketAddr, username: &str) -> harmonic::client::Client {
    let client = harmonic::client::Client::connect(addr, Default::default())
        .await
        .unwrap();
    client.signup(username, "correct horse").await.unwrap();
    client.login(username, "correct horse").await.unwrap();
    client
}

/// The wire code of a failed typed call (panics on success or on a
/// failure that is not an `error` answer).
pub fn code_of<T: std::fmt::Debug>(result: Result<T, harmonic::client::ClientError>) -> String {
    match result {
        Ok(value) => panic!("succeeded: {value:?}"),
        Err(harmonic::client::ClientError::Server { code, .. }) => code.as_str().to_owned(),
        Err(other) => panic!("not an error answer: {other}"),
    }
}

/// The password of the admin account [`create_admin`] makes.
pub const ADMIN_PASSWORD: &str = "correct horse";

/// Creates the admin account `root` in `dir` (as `harmonic user add --admin` does).
pub fn create_admin(dir: &Path) {
    let mut store = harmonic::store::Store::open(dir).unwrap();
    let hash = harmonic::crypto::hash_password(ADMIN_PASSWORD).unwrap();
    store
        .create_user("root", &hash, harmonic::store::Role::Admin)
        .unwrap();
}

/// Routes this process's log records (every test server in it) to the tail
/// hub through the server's logger, writing nothing to stderr.
pub fn install_tail_logger() {
    let _ = harmonic::logging::ServerLogger::install(&harmonic::logging::LogSetup {
        default_filter: "off".into(),
        rust_log: None,
        log_file: None,
    });
}

/// Runs the calling test in a process of its own (for what is one per
/// process: the log hub, the count of threads): true in that process, where
/// the test goes on; false in this one, once the other has passed. `test`
/// is the test's path in this binary (`module::name`).
pub fn in_own_process(test: &str) -> bool {
    const CHILD: &str = "HARMONIC_TEST_OWN_PROCESS";
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let output = std::process::Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} in its own process:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    false
}
