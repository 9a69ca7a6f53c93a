//! A byte stream that answers with scripted bytes: tests and the fuzzer drive the
//! driver's reply parsing with it, with no board or simulator.

use std::collections::VecDeque;
use std::io::{Read, Write};

/// A port that returns its scripted bytes one at a time (so frames arrive split at every
/// byte), then end of stream, as a serial port's read timeout does; what the host sends
/// is recorded.
#[derive(Debug, Clone, Default)]
pub struct Scripted {
    replies: VecDeque<u8>,
    /// Everything the host wrote.
    pub sent: Vec<u8>,
}

impl Scripted {
    /// A port whose replies are `bytes`.
    pub fn new(bytes: impl Into<VecDeque<u8>>) -> Scripted {
        Scripted {
            replies: bytes.into(),
            sent: Vec::new(),
        }
    }
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.replies.pop_front() {
            Some(b) if !buf.is_empty() => {
                buf[0] = b;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sent.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
