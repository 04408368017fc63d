use super::*;

const ALICE: i64 = 1;
const BOB: i64 = 2;

fn spool() -> (tempfile::TempDir, UploadSpool) {
    let dir = tempfile::tempdir().unwrap();
    let spool = UploadSpool::open(&dir.path().join("uploads"), MAX_UPLOAD_SIZE).unwrap();
    (dir, spool)
}

fn sha(bytes: &[u8]) -> String {
    super::super::files::hex_sha256(bytes)
}

#[test]
fn chunks_in_order_then_finish_and_take_once() {
    let (_dir, mut spool) = spool();
    let now = Instant::now();
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let id = spool
        .begin(ALICE, 10_000, &sha(&data).to_uppercase(), now)
        .unwrap();
    assert_eq!(id.len(), 32);
    assert_eq!(
        spool.chunk(ALICE, &id, 0, &data[..4000], now).unwrap(),
        4000
    );
    assert_eq!(
        spool.chunk(ALICE, &id, 4000, &data[4000..], now).unwrap(),
        10_000
    );
    let (path, size) = spool.finish(ALICE, &id).unwrap();
    assert_eq!(size, 10_000);
    assert_eq!(fs::read(&path).unwrap(), data);
    assert_eq!(spool.finish(ALICE, &id).unwrap(), (path.clone(), 10_000));
    assert_eq!(spool.peek(ALICE, &id).unwrap().path, path);
    let taken = spool.take(ALICE, &id).unwrap();
    assert_eq!(
        taken,
        FinishedUpload {
            path: path.clone(),
            size: 10_000,
            sha256: sha(&data),
        }
    );
    assert!(path.exists(), "the caller owns the file now");
    assert!(matches!(spool.take(ALICE, &id), Err(StoreError::NotFound)));
    assert!(spool.is_empty());
}

#[test]
fn wrong_offset_and_past_size_change_nothing() {
    let (_dir, mut spool) = spool();
    let now = Instant::now();
    let data = b"0123456789";
    let id = spool.begin(ALICE, 10, &sha(data), now).unwrap();
    spool.chunk(ALICE, &id, 0, &data[..4], now).unwrap();
    assert!(matches!(
        spool.chunk(ALICE, &id, 6, &data[6..], now),
        Err(StoreError::WrongOffset { expected: 4 })
    ));
    assert!(matches!(
        spool.chunk(ALICE, &id, 0, &data[..4], now),
        Err(StoreError::WrongOffset { expected: 4 })
    ));
    assert!(matches!(
        spool.chunk(ALICE, &id, 4, b"456789ABC", now),
        Err(StoreError::PastSize { size: 10 })
    ));
    assert_eq!(spool.chunk(ALICE, &id, 4, &data[4..], now).unwrap(), 10);
    assert!(matches!(
        spool.chunk(ALICE, &id, 10, b"x", now),
        Err(StoreError::PastSize { size: 10 })
    ));
    let (path, _) = spool.finish(ALICE, &id).unwrap();
    assert_eq!(fs::read(path).unwrap(), data);
}

#[test]
fn incomplete_finish_keeps_and_checksum_mismatch_discards() {
    let (_dir, mut spool) = spool();
    let now = Instant::now();
    let id = spool.begin(ALICE, 4, &sha(b"abcd"), now).unwrap();
    spool.chunk(ALICE, &id, 0, b"ab", now).unwrap();
    assert!(matches!(
        spool.finish(ALICE, &id),
        Err(StoreError::Incomplete { received: 2 })
    ));
    spool.chunk(ALICE, &id, 2, b"XX", now).unwrap();
    let path = spool.uploads[&id].path.clone();
    assert!(matches!(
        spool.finish(ALICE, &id),
        Err(StoreError::ChecksumMismatch)
    ));
    assert!(!path.exists(), "discarded file removed");
    assert!(matches!(
        spool.finish(ALICE, &id),
        Err(StoreError::NotFound)
    ));
}

#[test]
fn foreign_owner_sees_not_found() {
    let (_dir, mut spool) = spool();
    let now = Instant::now();
    let id = spool.begin(ALICE, 1, &sha(b"a"), now).unwrap();
    assert!(matches!(
        spool.chunk(BOB, &id, 0, b"a", now),
        Err(StoreError::NotFound)
    ));
    spool.chunk(ALICE, &id, 0, b"a", now).unwrap();
    assert!(matches!(spool.finish(BOB, &id), Err(StoreError::NotFound)));
    spool.finish(ALICE, &id).unwrap();
    assert!(matches!(spool.take(BOB, &id), Err(StoreError::NotFound)));
    assert!(matches!(spool.abort(BOB, &id), Err(StoreError::NotFound)));
    assert!(matches!(
        spool.chunk(ALICE, "nope", 0, b"", now),
        Err(StoreError::NotFound)
    ));
    assert!(spool.take(ALICE, &id).is_ok());
}

#[test]
fn unfinished_take_fails_without_consuming() {
    let (_dir, mut spool) = spool();
    let now = Instant::now();
    let id = spool.begin(ALICE, 2, &sha(b"ab"), now).unwrap();
    spool.chunk(ALICE, &id, 0, b"a", now).unwrap();
    assert!(matches!(
        spool.take(ALICE, &id),
        Err(StoreError::Unfinished { received: 1 })
    ));
    assert_eq!(spool.chunk(ALICE, &id, 1, b"b", now).unwrap(), 2);
    spool.finish(ALICE, &id).unwrap();
    assert_eq!(spool.take(ALICE, &id).unwrap().size, 2);
}

#[test]
fn begin_checks_size_and_checksum_format() {
    let (_dir, mut spool) = spool();
    let now = Instant::now();
    assert!(matches!(
        spool.begin(ALICE, MAX_UPLOAD_SIZE + 1, &sha(b""), now),
        Err(StoreError::UploadTooLarge { .. })
    ));
    assert!(matches!(
        spool.begin(ALICE, 1, "abc", now),
        Err(StoreError::InvalidSha256)
    ));
    assert!(spool.is_empty());
    // An empty upload finishes at once.
    let id = spool.begin(ALICE, 0, &sha(b""), now).unwrap();
    assert_eq!(spool.finish(ALICE, &id).unwrap().1, 0);
}

#[test]
fn unfinished_uploads_per_owner_are_limited() {
    let (_dir, mut spool) = spool();
    spool.set_quotas(2, 0);
    let now = Instant::now();
    let a = spool.begin(ALICE, 1, &sha(b"a"), now).unwrap();
    spool.begin(ALICE, 1, &sha(b"a"), now).unwrap();
    let third = spool.begin(ALICE, 1, &sha(b"a"), now);
    assert!(matches!(
        third,
        Err(StoreError::QuotaExceeded {
            quota: Quota::UnfinishedUploads,
            limit: 2
        })
    ));
    spool.begin(BOB, 1, &sha(b"a"), now).unwrap();
    // A finished upload is no longer unfinished.
    spool.chunk(ALICE, &a, 0, b"a", now).unwrap();
    spool.finish(ALICE, &a).unwrap();
    spool.begin(ALICE, 1, &sha(b"a"), now).unwrap();
}

#[test]
fn the_disk_reserve_counts_what_unfinished_uploads_will_write() {
    let (_dir, mut spool) = spool();
    spool.free_space = |_| Ok(1000);
    spool.set_quotas(usize::MAX, 100);
    let now = Instant::now();
    let refused = spool.begin(ALICE, 901, &sha(b""), now);
    assert!(matches!(
        refused,
        Err(StoreError::QuotaExceeded {
            quota: Quota::DiskReserve,
            limit: 100
        })
    ));
    let big = spool.begin(ALICE, 600, &sha(b""), now).unwrap();
    // 600 are promised: 300 more would leave 100 free, 301 would not.
    assert!(spool.begin(BOB, 301, &sha(b""), now).is_err());
    let small = spool.begin(BOB, 300, &sha(b""), now).unwrap();
    spool.abort(ALICE, &big).unwrap();
    spool.abort(BOB, &small).unwrap();
    spool.begin(BOB, 900, &sha(b""), now).unwrap();
    // A file system that will not say lets uploads through.
    spool.free_space = |_| Err(std::io::Error::other("no statvfs"));
    spool.begin(BOB, 5000, &sha(b""), now).unwrap();
}

#[test]
fn abort_and_expiry_remove_files() {
    let (_dir, mut spool) = spool();
    let t0 = Instant::now();
    let a = spool.begin(ALICE, 3, &sha(b"abc"), t0).unwrap();
    let b = spool.begin(ALICE, 3, &sha(b"abc"), t0).unwrap();
    let c = spool.begin(BOB, 3, &sha(b"abc"), t0).unwrap();
    let path = |s: &UploadSpool, id: &str| s.uploads[id].path.clone();
    let (pa, pb, pc) = (path(&spool, &a), path(&spool, &b), path(&spool, &c));

    spool.abort(ALICE, &a).unwrap();
    assert!(!pa.exists());
    assert!(matches!(spool.abort(ALICE, &a), Err(StoreError::NotFound)));

    // b is active at t0 + 30 min; c is not.
    spool
        .chunk(ALICE, &b, 0, b"a", t0 + Duration::from_secs(1800))
        .unwrap();
    assert_eq!(
        spool.expire(t0 + Duration::from_secs(3600), UPLOAD_MAX_IDLE),
        1
    );
    assert!(!pc.exists());
    assert!(pb.exists());
    assert!(matches!(spool.finish(BOB, &c), Err(StoreError::NotFound)));
    assert_eq!(
        spool.expire(t0 + Duration::from_secs(5400), UPLOAD_MAX_IDLE),
        1
    );
    assert!(!pb.exists());
    assert!(spool.is_empty());
}

#[test]
fn open_empties_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let uploads = dir.path().join("uploads");
    fs::create_dir_all(&uploads).unwrap();
    fs::write(uploads.join("old.part"), b"x").unwrap();
    fs::write(uploads.join("not-ours.txt"), b"x").unwrap();
    let spool = UploadSpool::open(&uploads, MAX_UPLOAD_SIZE).unwrap();
    assert!(spool.is_empty());
    assert!(!uploads.join("old.part").exists());
    assert!(uploads.join("not-ours.txt").exists());
}
