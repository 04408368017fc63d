//! Persistent state: the SQLite database through diesel, and audio files on disk.
