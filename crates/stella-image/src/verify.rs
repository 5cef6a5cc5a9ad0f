//! A reader that checks a blob against its digest while it streams.

use std::io::{self, Read};
use stella_model::{Digest, DigestHasher};

/// Wraps a blob stream: hashes every byte read, fails with `InvalidData` when more than the
/// declared size arrives, and at end of stream compares the digest. Layer bytes are therefore
/// verified in the same pass that decompresses and reads them, never buffered whole.
pub struct VerifyingReader<R> {
    inner: R,
    expected: Digest,
    hasher: Option<DigestHasher>,
    declared_size: Option<u64>,
    read: u64,
    what: String,
}

impl<R: Read> VerifyingReader<R> {
    /// `what` names the blob in error messages (e.g. `layer sha256:… of oci:/img`).
    pub fn new(inner: R, expected: Digest, declared_size: Option<u64>, what: impl Into<String>) -> Self {
        let hasher = Some(expected.hasher());
        VerifyingReader {
            inner,
            expected,
            hasher,
            declared_size,
            read: 0,
            what: what.into(),
        }
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if let Some(h) = self.hasher.take() {
                if let Some(size) = self.declared_size
                    && self.read != size
                {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: blob is {} bytes, the manifest says {}", self.what, self.read, size),
                    ));
                }
                let actual = h.finish();
                if actual != self.expected {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: digest mismatch: expected {}, got {}", self.what, self.expected, actual),
                    ));
                }
            }
            return Ok(0);
        }
        self.read += n as u64;
        if let Some(size) = self.declared_size
            && self.read > size
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: blob is larger than the {} bytes the manifest says", self.what, size),
            ));
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(r: &mut impl Read) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        r.read_to_end(&mut v)?;
        Ok(v)
    }

    #[test]
    fn matching_blob_reads_through() {
        let d = Digest::sha256_of(b"layer");
        let mut r = VerifyingReader::new(&b"layer"[..], d, Some(5), "blob");
        assert_eq!(read_all(&mut r).unwrap(), b"layer");
    }

    #[test]
    fn mismatching_blob_fails_at_end_of_stream() {
        let d = Digest::sha256_of(b"other");
        let mut r = VerifyingReader::new(&b"layer"[..], d, None, "blob x");
        let e = read_all(&mut r).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("digest mismatch"), "{e}");
    }

    #[test]
    fn oversized_blob_fails() {
        let d = Digest::sha256_of(b"layer");
        let mut r = VerifyingReader::new(&b"layer"[..], d, Some(3), "blob");
        assert!(read_all(&mut r).unwrap_err().to_string().contains("larger"));
    }
}
