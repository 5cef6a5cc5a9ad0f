//! A reader that checks a blob's size and digest as it streams.

use std::io::{self, Read};
use stella_model::{Digest, DigestHasher};

/// Wraps a blob stream; hashes every byte read and, at end of stream, fails with
/// [`io::ErrorKind::InvalidData`] when the digest differs from the expected one (the message names
/// both), or [`io::ErrorKind::UnexpectedEof`] when fewer than `size` bytes came. It fails as soon as
/// more than `size` bytes arrive, without handing the excess to the caller. Once failed it keeps
/// failing, so a consumer that retries a read cannot mistake a bad blob for a good one.
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Option<DigestHasher>,
    expected: Digest,
    size: u64,
    read: u64,
    failure: Option<(io::ErrorKind, String)>,
    source: String,
}

impl<R: Read> VerifyingReader<R> {
    /// `source` names where the bytes come from, for error messages (e.g. the blob URL's image).
    pub fn new(inner: R, expected: Digest, size: u64, source: impl Into<String>) -> Self {
        VerifyingReader {
            inner,
            hasher: Some(expected.hasher()),
            expected,
            size,
            read: 0,
            failure: None,
            source: source.into(),
        }
    }

    /// Bytes handed out so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    fn fail(&mut self, kind: io::ErrorKind, message: String) -> io::Error {
        self.failure = Some((kind, message.clone()));
        io::Error::new(kind, message)
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, message)) = &self.failure {
            return Err(io::Error::new(*kind, message.clone()));
        }
        if self.hasher.is_none() || buf.is_empty() {
            return Ok(0);
        }
        // Ask for at most one byte past the declared size: enough to notice an oversized blob.
        let remaining = self.size - self.read;
        let want = buf
            .len()
            .min(usize::try_from(remaining.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            if self.read < self.size {
                let msg = format!(
                    "blob {} from {} ended after {} of {} bytes",
                    self.expected, self.source, self.read, self.size
                );
                return Err(self.fail(io::ErrorKind::UnexpectedEof, msg));
            }
            let actual = self.hasher.take().expect("checked above").finish();
            if actual != self.expected {
                let msg = format!(
                    "digest mismatch for blob from {}: expected {}, got {}",
                    self.source, self.expected, actual
                );
                return Err(self.fail(io::ErrorKind::InvalidData, msg));
            }
            return Ok(0);
        }
        if n as u64 > remaining {
            let msg = format!(
                "blob {} from {} is larger than the {} bytes its descriptor declares",
                self.expected, self.source, self.size
            );
            return Err(self.fail(io::ErrorKind::InvalidData, msg));
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read_all(r: &mut impl Read) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn passes_a_blob_of_the_right_digest_and_size() {
        let data = b"layer bytes".to_vec();
        let mut r =
            VerifyingReader::new(Cursor::new(data.clone()), Digest::sha256_of(&data), 11, "t");
        assert_eq!(read_all(&mut r).unwrap(), data);
        assert_eq!(r.bytes_read(), 11);
        // Reading again after a verified end is a clean EOF.
        assert_eq!(r.read(&mut [0u8; 4]).unwrap(), 0);
    }

    #[test]
    fn reports_digest_mismatch_at_eof_naming_both_digests() {
        let expected = Digest::sha256_of(b"other");
        let actual = Digest::sha256_of(b"layer");
        let mut r = VerifyingReader::new(
            Cursor::new(b"layer".to_vec()),
            expected.clone(),
            5,
            "reg/repo",
        );
        let err = read_all(&mut r).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let msg = err.to_string();
        assert!(
            msg.contains(&expected.to_string()) && msg.contains(&actual.to_string()),
            "{msg}"
        );
        assert!(msg.contains("reg/repo"), "{msg}");
        // The failure sticks.
        assert_eq!(
            r.read(&mut [0u8; 4]).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn rejects_more_bytes_than_declared_without_passing_them_on() {
        let data = vec![7u8; 100];
        let mut r =
            VerifyingReader::new(Cursor::new(data.clone()), Digest::sha256_of(&data), 10, "t");
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        let err = loop {
            match r.read(&mut buf) {
                Ok(0) => panic!("oversized blob read to the end"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(
            err.to_string().contains("larger than the 10 bytes"),
            "{err}"
        );
        assert!(got.len() <= 10);
    }

    #[test]
    fn reports_a_truncated_blob() {
        let data = b"short".to_vec();
        let mut r =
            VerifyingReader::new(Cursor::new(data.clone()), Digest::sha256_of(&data), 6, "t");
        let err = read_all(&mut r).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("5 of 6 bytes"), "{err}");
    }

    #[test]
    fn verifies_sha512_digests_too() {
        let d: Digest = "sha512:f7fbba6e0636f890e56fbbf3283e524c6fa3204ae298382d624741d0dc6638326e282c41be5e4254d8820772c5518a2c5a8c0c7f7eda19594a7eb539453e1ed7"
            .parse()
            .unwrap();
        let mut r = VerifyingReader::new(Cursor::new(b"foo".to_vec()), d, 3, "t");
        assert_eq!(read_all(&mut r).unwrap(), b"foo");
    }
}
