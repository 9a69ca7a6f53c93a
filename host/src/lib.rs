//! # lpn-host: driving the engine on a board
//!
//! [`Board`] speaks the framed protocol of [`lpn_link::protocol`] over any byte stream:
//! a serial port ([`serial::open`]) to an iCEBreaker or ULX3S, or the Verilator
//! simulation of the whole board ([`sim::SimBoard`]), which is how the path is tested
//! without hardware. It loads a layer, streams batches, runs updates and reads the
//! learned state back, and implements [`lpn_cycle::Accelerator`], so the same trainer
//! that drives the cycle model drives the board.
//!
//! Requests are pipelined: up to [`WINDOW`] frames, and never more request bytes than
//! the bridge's receive FIFO holds ([`protocol::RX_FIFO_BYTES`]), are in flight before
//! the driver waits for the oldest reply.
#![warn(missing_docs)]

pub mod scripted;
pub mod serial;
pub mod sim;

use std::collections::VecDeque;
use std::fmt;
use std::io::{Read, Write};

use lpn_cycle::constants::mode_code;
use lpn_cycle::{Accelerator, FixedState, HwConfig, StepInput, UpdateReport, Wiring};
use lpn_link::hostmap::{self, Access, HostWrite};
use lpn_link::protocol::{self, Command, Info, Link, Status, UpdateStatus};

/// Frames in flight before the driver waits for a reply (bounded so that neither a
/// USB-serial adapter's buffers nor a pipe can fill up).
pub const WINDOW: usize = 8;

/// What went wrong talking to a board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The byte stream failed or ended.
    Io(String),
    /// The board's bytes do not follow the protocol.
    Protocol(String),
    /// The board answered a request with an error status.
    Refused {
        /// The request's command byte.
        command: u8,
        /// The status.
        status: Status,
    },
    /// The board is not the one the host expects.
    Mismatch(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(m) | Error::Protocol(m) | Error::Mismatch(m) => f.write_str(m),
            Error::Refused { command, status } => write!(
                f,
                "the board refused command 0x{command:02x}: {} (status 0x{:02x})",
                status.meaning(),
                *status as u8
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for lpn_cycle::Error {
    fn from(e: Error) -> Self {
        lpn_cycle::Error::new(e.to_string())
    }
}

/// Result of the driver.
pub type Result<T> = std::result::Result<T, Error>;

/// A reply frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status byte (a [`Status`] when the board follows the protocol).
    pub status: u8,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Bytes and frames moved, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Request bytes sent.
    pub sent: u64,
    /// Reply bytes received.
    pub received: u64,
    /// Request frames.
    pub frames: u64,
}

/// The driver of one board over the byte stream `P`.
pub struct Board<P: Read + Write> {
    port: P,
    config: HwConfig,
    link: Link,
    info: Info,
    outputs: usize,
    traffic: Traffic,
}

/// Runs of consecutive addresses in one memory and lane: (first access, length).
fn runs(accesses: impl Iterator<Item = Access>, max: usize) -> Vec<(Access, usize)> {
    let mut out: Vec<(Access, usize)> = Vec::new();
    for a in accesses {
        if let Some((first, n)) = out.last_mut() {
            if first.sel == a.sel && first.lane == a.lane && first.addr + *n == a.addr && *n < max {
                *n += 1;
                continue;
            }
        }
        out.push((a, 1));
    }
    out
}

/// The `sel lane addr_lo addr_hi count` header of a read or write.
fn access_header(a: Access, count: usize) -> Vec<u8> {
    let addr = a.addr as u16;
    vec![
        a.sel as u8,
        a.lane as u8,
        addr.to_le_bytes()[0],
        addr.to_le_bytes()[1],
        count as u8,
    ]
}

impl<P: Read + Write> Board<P> {
    /// Connects: asks the board for `INFO` and checks that it runs protocol
    /// [`protocol::VERSION`] and was built from `config` (shape and fingerprint).
    pub fn open(port: P, config: &HwConfig) -> Result<Board<P>> {
        let link = Link::new(config, 0).map_err(|e| Error::Mismatch(e.to_string()))?;
        let mut b = Board {
            port,
            config: config.clone(),
            info: Info::from_bytes(&link.info).ok_or_else(|| Error::Protocol("INFO".into()))?,
            link,
            outputs: config.layer.outputs,
            traffic: Traffic::default(),
        };
        let reply = b.request(Command::Info, &[])?;
        let info = Info::from_bytes(&reply)
            .ok_or_else(|| Error::Protocol(format!("INFO reply of {} bytes", reply.len())))?;
        if info.version != protocol::VERSION {
            return Err(Error::Mismatch(format!(
                "the board speaks protocol version {}, this host {}",
                info.version,
                protocol::VERSION
            )));
        }
        let want = b.info;
        let shape = |i: &Info| (i.word_bytes, i.lanes, i.k, i.max_rows, i.inputs, i.outputs);
        if shape(&info) != shape(&want) || info.fingerprint != want.fingerprint {
            return Err(Error::Mismatch(format!(
                "the board was built from another configuration (its fingerprint {:08x}, {} inputs, {} outputs, K {}, {} lanes; config `{}` has {:08x}, {} inputs, {} outputs, K {}, {} lanes); rebuild it with `lpn synth --config` or pass the config it was built from",
                info.fingerprint, info.inputs, info.outputs, info.k, info.lanes,
                config.name, want.fingerprint, want.inputs, want.outputs, want.k, want.lanes
            )));
        }
        b.info = info;
        Ok(b)
    }

    /// What the board reported in `INFO`.
    pub fn info(&self) -> Info {
        self.info
    }

    /// The link description (word size, depths).
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Bytes and frames moved so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Sends raw bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.port
            .write_all(bytes)
            .and_then(|_| self.port.flush())
            .map_err(|e| Error::Io(format!("cannot write to the board: {e}")))?;
        self.traffic.sent += bytes.len() as u64;
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match self.port.read(&mut buf[done..]) {
                Ok(0) => {
                    return Err(Error::Io(
                        "no reply from the board (timed out or closed): is the bitstream loaded and the baud rate right?".into(),
                    ))
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(format!("cannot read from the board: {e}"))),
            }
        }
        self.traffic.received += buf.len() as u64;
        Ok(())
    }

    /// Reads one reply frame and checks its sync byte and CRC.
    pub fn read_reply(&mut self) -> Result<Reply> {
        let mut head = [0u8; 3];
        self.read_exact(&mut head)?;
        if head[0] != protocol::REPLY_SYNC {
            return Err(Error::Protocol(format!(
                "expected a reply (0x{:02x}), got byte 0x{:02x}",
                protocol::REPLY_SYNC,
                head[0]
            )));
        }
        let mut rest = vec![0u8; head[2] as usize + 1];
        self.read_exact(&mut rest)?;
        let crc = rest.pop().unwrap_or(0);
        let mut body = vec![head[1], head[2]];
        body.extend_from_slice(&rest);
        if protocol::crc8(&body) != crc {
            return Err(Error::Protocol(
                "a reply from the board failed its CRC (noise on the line?)".into(),
            ));
        }
        Ok(Reply {
            status: head[1],
            payload: rest,
        })
    }

    fn check(command: u8, reply: Reply) -> Result<Vec<u8>> {
        match Status::from_byte(reply.status) {
            Some(Status::Ok) => Ok(reply.payload),
            Some(status) => Err(Error::Refused { command, status }),
            None => Err(Error::Protocol(format!(
                "unknown status 0x{:02x} in a reply",
                reply.status
            ))),
        }
    }

    /// One request and its reply; an error status becomes [`Error::Refused`].
    pub fn request(&mut self, cmd: Command, payload: &[u8]) -> Result<Vec<u8>> {
        Ok(self.pipeline(vec![(cmd, payload.to_vec())])?.remove(0))
    }

    /// Requests in order with up to [`WINDOW`] in flight; the replies' payloads in order.
    pub fn pipeline(&mut self, requests: Vec<(Command, Vec<u8>)>) -> Result<Vec<Vec<u8>>> {
        // (command, request bytes) of the frames sent and not yet answered.
        let mut pending: VecDeque<(u8, usize)> = VecDeque::new();
        let mut in_flight = 0;
        let mut replies = Vec::with_capacity(requests.len());
        let mut first_error = None;
        for (cmd, payload) in requests {
            let frame = protocol::request(cmd as u8, &payload);
            while pending.len() == WINDOW
                || (!pending.is_empty() && in_flight + frame.len() > protocol::RX_FIFO_BYTES)
            {
                let (c, n) = pending.pop_front().unwrap_or((0, 0));
                in_flight -= n;
                self.take_reply(c, &mut replies, &mut first_error)?;
            }
            self.send_raw(&frame)?;
            self.traffic.frames += 1;
            in_flight += frame.len();
            pending.push_back((cmd as u8, frame.len()));
        }
        while let Some((c, _)) = pending.pop_front() {
            self.take_reply(c, &mut replies, &mut first_error)?;
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(replies),
        }
    }

    fn take_reply(
        &mut self,
        command: u8,
        replies: &mut Vec<Vec<u8>>,
        first_error: &mut Option<Error>,
    ) -> Result<()> {
        let r = self.read_reply()?;
        match Self::check(command, r) {
            Ok(p) => replies.push(p),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        Ok(())
    }

    fn word_bytes(&self, words: &[u64]) -> Vec<u8> {
        words
            .iter()
            .flat_map(|w| w.to_le_bytes()[..self.link.word_bytes].to_vec())
            .collect()
    }

    /// Host writes, grouped into `WRITE` bursts of consecutive addresses.
    pub fn write_all(&mut self, writes: &[HostWrite]) -> Result<()> {
        let max = self.link.write_burst();
        let mut requests = Vec::new();
        let mut i = 0;
        for (first, n) in runs(writes.iter().map(|w| w.at), max) {
            let words: Vec<u64> = writes[i..i + n].iter().map(|w| w.word).collect();
            let mut p = access_header(first, n);
            p.extend(self.word_bytes(&words));
            requests.push((Command::Write, p));
            i += n;
        }
        self.pipeline(requests).map(|_| ())
    }

    /// Host reads, grouped into `READ` bursts; the words in the order asked for.
    pub fn read_all(&mut self, reads: &[Access]) -> Result<Vec<u64>> {
        let max = self.link.read_burst();
        let wb = self.link.word_bytes;
        let groups = runs(reads.iter().copied(), max);
        let requests = groups
            .iter()
            .map(|&(first, n)| (Command::Read, access_header(first, n)))
            .collect();
        let replies = self.pipeline(requests)?;
        let mut words = Vec::with_capacity(reads.len());
        for ((_, n), bytes) in groups.iter().zip(replies) {
            if bytes.len() != n * wb {
                return Err(Error::Protocol(format!(
                    "READ of {n} words returned {} bytes",
                    bytes.len()
                )));
            }
            for chunk in bytes.chunks(wb) {
                let mut b = [0u8; 8];
                b[..wb].copy_from_slice(chunk);
                words.push(u64::from_le_bytes(b));
            }
        }
        Ok(words)
    }

    /// Runs one update with the batch already written; returns when it has finished.
    pub fn start(
        &mut self,
        rows: usize,
        budget: usize,
        mode: u8,
        consolidate: bool,
    ) -> Result<UpdateStatus> {
        let r = (rows as u16).to_le_bytes();
        let p = vec![r[0], r[1], budget as u8, mode, u8::from(consolidate)];
        let reply = self.request(Command::Start, &p)?;
        UpdateStatus::from_bytes(&reply)
            .ok_or_else(|| Error::Protocol(format!("START reply of {} bytes", reply.len())))
    }

    /// The status of the last update.
    pub fn status(&mut self) -> Result<UpdateStatus> {
        let reply = self.request(Command::Status, &[])?;
        UpdateStatus::from_bytes(&reply)
            .ok_or_else(|| Error::Protocol(format!("STATUS reply of {} bytes", reply.len())))
    }

    /// Loads a layer: wiring, state, gate reciprocals, masks.
    pub fn load_layer(&mut self, wiring: &Wiring, state: &FixedState) -> Result<()> {
        let writes = hostmap::layer_writes(&self.config, wiring, state).map_err(Error::Mismatch)?;
        self.outputs = wiring.outputs;
        self.write_all(&writes)
    }

    /// Writes a batch and runs the update.
    pub fn run_update(&mut self, input: &StepInput) -> Result<UpdateStatus> {
        let writes = hostmap::batch_writes(&self.config, input).map_err(Error::Mismatch)?;
        self.write_all(&writes)?;
        self.start(
            input.rows,
            input.budget,
            mode_code(input.mode) as u8,
            input.consolidate,
        )
    }

    /// Reads the learned state and the last update's selection back.
    pub fn read_state(&mut self) -> Result<(FixedState, Vec<u8>)> {
        let reads = hostmap::state_reads(&self.config, self.outputs);
        let words = self.read_all(&reads)?;
        hostmap::decode_state(&self.config, self.outputs, &words).map_err(Error::Protocol)
    }
}

impl<P: Read + Write> Accelerator for Board<P> {
    fn load(&mut self, wiring: &Wiring, state: &FixedState) -> lpn_cycle::Result<()> {
        Ok(self.load_layer(wiring, state)?)
    }

    fn update(&mut self, input: &StepInput) -> lpn_cycle::Result<UpdateReport> {
        let s = self.run_update(input)?;
        let selected = u64::from(s.selected);
        Ok(UpdateReport {
            cycles: s.cycles,
            selected,
            accepted: if s.descent { selected } else { 0 },
            descent: s.descent,
        })
    }

    fn state(&mut self) -> lpn_cycle::Result<(FixedState, Vec<u8>)> {
        Ok(self.read_state()?)
    }
}
