//! The soak's clients: raw connections that speak the protocol frame by
//! frame, and the abusers' behaviours.

use super::*;

/// A TCP connection from `local` (a loopback source address).
pub(crate) async fn tcp_from(local: IpAddr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(server).await
}

/// The well-behaved client's connection: typed, from `local`.
pub(crate) async fn typed_client(local: IpAddr, server: SocketAddr) -> Result<Client, String> {
    let stream = tcp_from(local, server).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    Client::over_stream(stream, ConnectOptions::default())
        .await
        .map_err(|e| e.to_string())
}

/// An abuser's connection: raw frames, read only when it chooses to.
pub(crate) struct Raw {
    pub(crate) reader: FramedRead<OwnedReadHalf, DecryptingCodec>,
    pub(crate) writer: OwnedWriteHalf,
    pub(crate) sealer: FrameSealer,
    pub(crate) next_id: u32,
}

impl Raw {
    pub(crate) async fn connect(local: IpAddr, server: SocketAddr) -> Option<Raw> {
        let mut stream = tcp_from(local, server).await.ok()?;
        let accepted = client_handshake(&mut stream, HANDSHAKE_WAIT).await.ok()?;
        let (read, writer) = stream.into_split();
        let (sealer, _) = channel_pair(&accepted.keys, Side::Client);
        let (_, decrypt) = split_codecs(&accepted.keys, Side::Client);
        Some(Raw {
            reader: FramedRead::new(read, decrypt),
            writer,
            sealer,
            next_id: 1,
        })
    }

    /// Sends one request; false once the connection is gone.
    pub(crate) async fn send(&mut self, kind: &str, mut fields: Value, payload: &[u8]) -> bool {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        fields["type"] = json!(kind);
        fields["id"] = json!(id);
        let Ok(plain) = encode_message(&fields, payload) else {
            return false;
        };
        let Ok(frame) = self.sealer.seal(&plain) else {
            return false;
        };
        self.writer.write_all(&frame).await.is_ok()
    }

    /// The next message's header; `None` when the connection ended.
    pub(crate) async fn next(&mut self) -> Option<Value> {
        match self.reader.next().await? {
            Ok(harmonic::transport::Incoming::Message(raw)) => Some(Value::Object(raw.header)),
            Ok(harmonic::transport::Incoming::Unreadable(_)) => Some(Value::Null),
            Err(_) => None,
        }
    }

    /// Reads until the answer with `id` (or the end); its header. Only for
    /// one request at a time, or the last of a batch answered in order:
    /// other answers are read past.
    pub(crate) async fn answer(&mut self, id: u32) -> Option<Value> {
        loop {
            let message = self.next().await?;
            if message["id"] == json!(id) && message["type"] != "progress" {
                return Some(message);
            }
        }
    }

    pub(crate) async fn login(&mut self, username: &str) -> bool {
        let id = self.next_id;
        self.send(
            "login",
            json!({"username": username, "password": PASSWORD}),
            &[],
        )
        .await
            && self
                .answer(id)
                .await
                .is_some_and(|answer| answer["type"] == "ok")
    }
}

/// The source address of the `within`-th abuser of behaviour `slot`:
/// 127.(1 + slot).n.1, [`PER_ADDRESS`] abusers each.
pub(crate) fn abuser_address(slot: usize, within: usize) -> IpAddr {
    let k = u8::try_from(1 + slot).unwrap_or(u8::MAX);
    let n = u8::try_from(within / PER_ADDRESS).unwrap_or(u8::MAX);
    IpAddr::V4(Ipv4Addr::new(127, k, n, 1))
}

pub(crate) struct AbuserContext {
    pub(crate) server: SocketAddr,
    pub(crate) local: IpAddr,
    pub(crate) account: String,
    pub(crate) index: usize,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) tally: Arc<Tally>,
    pub(crate) big_sound: Bytes,
}

impl AbuserContext {
    pub(crate) fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    pub(crate) async fn connect(&self) -> Option<Raw> {
        let raw = Raw::connect(self.local, self.server).await;
        if raw.is_some() {
            self.tally.connections.fetch_add(1, Ordering::Relaxed);
        } else {
            // Refused (a limit) or failed: try again a little later.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        raw
    }

    pub(crate) fn sent(&self, n: u64) {
        self.tally.sent.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) {
        self.tally.read.fetch_add(1, Ordering::Relaxed);
    }
}

pub(crate) async fn abuse(kind: Abuse, ctx: AbuserContext) {
    while ctx.running() {
        match kind {
            Abuse::Silent => silent(&ctx).await,
            Abuse::Garbage => garbage(&ctx).await,
            Abuse::WrongPasswords => wrong_passwords(&ctx).await,
            Abuse::Signups => signups(&ctx).await,
            Abuse::NeverReads => never_reads(&ctx).await,
            Abuse::Pipeliner => pipeliner(&ctx).await,
            Abuse::Uploader => uploader(&ctx).await,
        }
    }
}

/// Connects and says nothing until the server closes the connection.
pub(crate) async fn silent(ctx: &AbuserContext) {
    let Some(mut raw) = ctx.connect().await else {
        return;
    };
    while raw.next().await.is_some() {
        ctx.read();
    }
}

/// Garbage in three shapes, in turn.
pub(crate) async fn garbage(ctx: &AbuserContext) {
    let mut junk = vec![0u8; 4096];
    rand::rng().fill(&mut junk[..]);
    match ctx.tally.connections.load(Ordering::Relaxed) % 3 {
        0 => {
            // Garbage instead of a ClientHello.
            if let Ok(mut stream) = tcp_from(ctx.local, ctx.server).await {
                ctx.tally.connections.fetch_add(1, Ordering::Relaxed);
                let _ = stream.write_all(&junk).await;
                ctx.sent(1);
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    let mut buf = [0u8; 256];
                    let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await;
                })
                .await;
            }
        }
        1 => {
            // Frames that fail authentication.
            let Some(mut raw) = ctx.connect().await else {
                return;
            };
            let mut frame = (junk.len() as u32 - 4).to_be_bytes().to_vec();
            frame.extend_from_slice(&junk[4..]);
            let _ = raw.writer.write_all(&frame).await;
            ctx.sent(1);
            while raw.next().await.is_some() {
                ctx.read();
            }
        }
        _ => {
            // A length prefix past the frame limit, then unreadable headers.
            let Some(mut raw) = ctx.connect().await else {
                return;
            };
            for _ in 0..16 {
                let plain = [0xffu8, 0xff, 0xff, 0xff, b'x'];
                if let Ok(frame) = raw.sealer.seal(&plain) {
                    let _ = raw.writer.write_all(&frame).await;
                    ctx.sent(1);
                }
            }
            let _ = raw.writer.write_all(&(2_000_000u32).to_be_bytes()).await;
            ctx.sent(1);
            while raw.next().await.is_some() {
                ctx.read();
            }
        }
    }
}

/// Wrong passwords, 32 at a time, for usernames of no account (so that the
/// logged-in abusers' accounts are not locked).
pub(crate) async fn wrong_passwords(ctx: &AbuserContext) {
    let Some(mut raw) = ctx.connect().await else {
        return;
    };
    while ctx.running() {
        let first = raw.next_id;
        for k in 0..32 {
            let username = format!("nobody{}", (ctx.index + k) % 64);
            let login = json!({"username": username, "password": "wrong horse battery"});
            if !raw.send("login", login, &[]).await {
                return;
            }
        }
        ctx.sent(32);
        if raw.answer(first + 31).await.is_none() {
            return;
        }
        ctx.read();
    }
}

/// Signups, 32 at a time (10 an hour per address get through).
pub(crate) async fn signups(ctx: &AbuserContext) {
    let Some(mut raw) = ctx.connect().await else {
        return;
    };
    let mut n = 0u64;
    while ctx.running() {
        let first = raw.next_id;
        for _ in 0..32 {
            n += 1;
            let signup = json!({"username": format!("s{}x{n}", ctx.index), "password": PASSWORD});
            if !raw.send("signup", signup, &[]).await {
                return;
            }
        }
        ctx.sent(32);
        if raw.answer(first + 31).await.is_none() {
            return;
        }
        ctx.read();
    }
}

/// Logs in, saves a 0.9 MB sound, then pipelines `sound.get` of it and
/// never reads an answer.
pub(crate) async fn never_reads(ctx: &AbuserContext) {
    let Some(mut raw) = ctx.connect().await else {
        return;
    };
    if !raw.login(&ctx.account).await {
        tokio::time::sleep(Duration::from_millis(500)).await;
        return;
    }
    let name = format!("big{}", ctx.index);
    let id = raw.next_id;
    let save = json!({"name": name, "overwrite": true});
    if !raw.send("sound.save", save, &ctx.big_sound).await {
        return;
    }
    match raw.answer(id).await {
        Some(answer) if answer["type"] == "ok" => {}
        Some(answer) => {
            eprintln!("never-reader {}: sound.save refused: {answer}", ctx.index);
            tokio::time::sleep(Duration::from_secs(5)).await;
            return;
        }
        None => return,
    }
    while ctx.running() {
        let get = json!({"name": name});
        match tokio::time::timeout(Duration::from_secs(5), raw.send("sound.get", get, &[])).await {
            Ok(true) => ctx.sent(1),
            Ok(false) => return,
            // The server stopped reading: hold the connection as it is.
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

/// Logs in and sends 40 requests at a time (past the 32 outstanding),
/// then reads every answer.
pub(crate) async fn pipeliner(ctx: &AbuserContext) {
    let Some(mut raw) = ctx.connect().await else {
        return;
    };
    if !raw.login(&ctx.account).await {
        tokio::time::sleep(Duration::from_millis(500)).await;
        return;
    }
    while ctx.running() {
        for k in 0..40 {
            let kind = if k % 2 == 0 { "sound.list" } else { "ping" };
            if !raw.send(kind, json!({}), &[]).await {
                return;
            }
        }
        ctx.sent(40);
        // Answers come in any order (§4): read 40 of them, whatever their id.
        let mut answered = 0;
        while answered < 40 {
            let Some(message) = raw.next().await else {
                return;
            };
            if message["type"] == "ok" || message["type"] == "error" {
                answered += 1;
                ctx.read();
            }
        }
    }
}

/// Logs in and begins uploads of 64 MiB, sending 1 MB chunks to each (up
/// to 8 MB: the machine's disk is shared) and never finishing them.
pub(crate) async fn uploader(ctx: &AbuserContext) {
    let Some(mut raw) = ctx.connect().await else {
        return;
    };
    if !raw.login(&ctx.account).await {
        tokio::time::sleep(Duration::from_millis(500)).await;
        return;
    }
    // A 1 MB chunk: with its header, within one 1 MiB frame.
    let chunk = vec![0x55u8; 1_000_000];
    for _ in 0..4 {
        let id = raw.next_id;
        let begin = json!({"size": 64u64 << 20, "sha256": "00".repeat(32)});
        if !raw.send("upload.begin", begin, &[]).await {
            return;
        }
        ctx.sent(1);
        let Some(answer) = raw.answer(id).await else {
            return;
        };
        ctx.read();
        let Some(upload_id) = answer["upload_id"].as_str().map(str::to_owned) else {
            // quota_exceeded (or another refusal): try again later.
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        for k in 0..8u64 {
            if !ctx.running() {
                return;
            }
            let id = raw.next_id;
            let fields = json!({"upload_id": upload_id, "offset": k * 1_000_000});
            if !raw.send("upload.chunk", fields, &chunk).await {
                return;
            }
            ctx.sent(1);
            match raw.answer(id).await {
                Some(answer) if answer["type"] == "ok" => ctx.read(),
                Some(_) => break,
                None => return,
            }
        }
    }
    // Holds its unfinished uploads until the end.
    while ctx.running() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
