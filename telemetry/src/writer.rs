//! The last step of every log line: it is redacted whole, then written with one call, so
//! lines from concurrent tasks never interleave and no secret reaches the output.

use super::redact;
use std::io::{self, Write};
use tracing_subscriber::fmt::MakeWriter;

/// Wraps a [`MakeWriter`] (stderr in production) so that every formatted line passes through
/// the process-wide redactor before it is written.
#[derive(Debug, Clone)]
pub struct RedactingWriter<M> {
    inner: M,
}

impl<M> RedactingWriter<M> {
    pub fn new(inner: M) -> Self {
        Self { inner }
    }
}

impl<'a, M> MakeWriter<'a> for RedactingWriter<M>
where
    M: MakeWriter<'a>,
{
    type Writer = RedactedLine<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedLine {
            buffer: Vec::with_capacity(256),
            inner: self.inner.make_writer(),
        }
    }
}

/// Collects one formatted event and writes it, redacted, when dropped.
pub struct RedactedLine<W: Write> {
    buffer: Vec<u8>,
    inner: W,
}

impl<W: Write> RedactedLine<W> {
    fn write_out(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let redacted = redact::redact_known(&text);
        self.buffer.clear();
        self.inner.write_all(redacted.as_bytes())?;
        self.inner.flush()
    }
}

impl<W: Write> Write for RedactedLine<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    /// Nothing is written before the whole line is there: a secret split across two writes
    /// would otherwise escape redaction.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for RedactedLine<W> {
    fn drop(&mut self) {
        // A log line that cannot be written has nowhere to report the failure.
        let _ = self.write_out();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_secret_split_across_writes_is_still_redacted() {
        redact::remember(["split-secret-value-99".to_owned()]);
        let captured = Captured::default();
        let sink = captured.clone();
        let make = RedactingWriter::new(move || sink.clone());
        {
            let mut line = make.make_writer();
            line.write_all(b"token=split-sec").expect("write");
            line.write_all(b"ret-value-99 end\n").expect("write");
            line.flush().expect("flush");
            assert!(captured.0.lock().expect("lock").is_empty());
        }
        let written = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
        assert_eq!(written, "token=[redacted] end\n");
    }
}
