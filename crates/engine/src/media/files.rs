//! Shared helpers for the WAV and Y4M readers and writers (small parsers of our own, no
//! codec crates).
//!
//! Only what the engine produces and consumes is accepted: 16-bit PCM WAV at 48 kHz (mono
//! or stereo) and 4:2:0 YUV4MPEG2. Anything else gets an error saying how to convert it.

use std::io::Read;
use std::path::Path;

use super::MediaError;

/// Ok(false) on a clean EOF before `buf` is full.
pub(super) fn read_exact(
    reader: &mut impl Read,
    buf: &mut [u8],
    path: &Path,
) -> Result<bool, MediaError> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(MediaError::io(path, e)),
    }
}

pub(super) fn skip(reader: &mut impl Read, n: u64, path: &Path) -> Result<(), MediaError> {
    std::io::copy(&mut reader.take(n), &mut std::io::sink())
        .map_err(|e| MediaError::io(path, e))?;
    Ok(())
}

/// Reads as much as is available into `buf`; read errors end the stream like EOF does.
pub(super) fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got
}

/// One `\n`-terminated ASCII line of at most `max` bytes; None at EOF or on garbage.
pub(super) fn read_line(reader: &mut impl Read, max: usize) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if read_up_to(reader, &mut byte) == 0 {
            return None;
        }
        if byte[0] == b'\n' {
            return String::from_utf8(line).ok();
        }
        if line.len() == max {
            return None;
        }
        line.push(byte[0]);
    }
}

#[cfg(test)]
pub(super) mod testutil {
    use std::path::PathBuf;

    use super::MediaError;

    /// A directory under the system temp dir, removed on drop.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("roomcast-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir is writable");
            Self(dir)
        }

        pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).expect("temp dir is writable");
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The message of the expected [`MediaError::Format`].
    pub fn format_error(result: Result<impl Sized, MediaError>) -> String {
        match result {
            Err(MediaError::Format(msg)) => msg,
            Err(e) => panic!("expected a format error, got {e}"),
            Ok(_) => panic!("expected a format error, got a source"),
        }
    }
}
