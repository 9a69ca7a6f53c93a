//! The host link protocol: the framed byte protocol between a host and the board's UART
//! bridge (`lpn_bridge`, [`crate::board`]). Every constant here is used by the Verilog
//! generator and by the host driver (`lpn-host`), so the two cannot disagree.
//!
//! A request is `A5 cmd len payload[len] crc`; a reply is `5A status len payload[len]
//! crc`. `crc` is CRC-8 (polynomial x^8 + x^2 + x + 1, initial value 0, no reflection)
//! over every byte after the sync byte. Multi-byte numbers are little-endian; a host word
//! is [`Link::word_bytes`] bytes. The full description, with examples, is in
//! docs/fpga.md.

use lpn_cycle::HwConfig;

/// First byte of every request.
pub const REQUEST_SYNC: u8 = 0xA5;
/// First byte of every reply.
pub const REPLY_SYNC: u8 = 0x5A;
/// Protocol version, reported by `INFO`.
pub const VERSION: u8 = 1;
/// Payload bytes that precede the words of a request (`sel lane addr_lo addr_hi count`
/// for `READ`/`WRITE`, `rows_lo rows_hi budget mode consolidate` for `START`); the
/// bridge keeps them in registers.
pub const HEADER_BYTES: usize = 5;
/// Bytes of words a `WRITE` may carry (the bridge's frame buffer).
pub const BUFFER_BYTES: usize = 128;
/// Largest request payload the bridge accepts; a longer one is answered
/// [`Status::BadLength`] once its bytes have passed.
pub const MAX_PAYLOAD: usize = HEADER_BYTES + BUFFER_BYTES;
/// Largest reply payload (one length byte).
pub const MAX_REPLY: usize = 255;
/// Payload bytes of the `INFO` reply.
pub const INFO_BYTES: usize = 16;
/// Payload bytes of the `STATUS` and `START` replies.
pub const STATUS_BYTES: usize = 22;
/// Bytes the bridge's receive FIFO holds (one block RAM): a host may have this many
/// request bytes in flight (sent, not yet answered), so it can send the next frames
/// while the bridge executes and answers the earlier ones.
pub const RX_FIFO_BYTES: usize = 512;
/// Byte times (10 bits each) the bridge waits for the next byte of a started frame
/// before it drops the frame and hunts for a sync byte again.
pub const TIMEOUT_BYTES: u64 = 1024;

/// Request commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Command {
    /// Identify: protocol version, word size, shape, fingerprint (no payload).
    Info = 0x01,
    /// Write `count` words from `addr` in memory `sel` of lane `lane`.
    Write = 0x02,
    /// Read `count` words.
    Read = 0x03,
    /// Run one update; the reply comes when it has finished and carries the status.
    Start = 0x04,
    /// The status of the last update (no payload).
    Status = 0x05,
}

impl Command {
    /// Every command.
    pub const ALL: [Command; 5] = [
        Command::Info,
        Command::Write,
        Command::Read,
        Command::Start,
        Command::Status,
    ];

    /// Verilog `localparam` name.
    pub fn param(self) -> &'static str {
        match self {
            Command::Info => "CMD_INFO",
            Command::Write => "CMD_WRITE",
            Command::Read => "CMD_READ",
            Command::Start => "CMD_START",
            Command::Status => "CMD_STATUS",
        }
    }
}

/// Reply status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// Done.
    Ok = 0x00,
    /// The CRC did not match; nothing was done.
    BadChecksum = 0x01,
    /// The command byte is not a command; nothing was done.
    UnknownCommand = 0x02,
    /// The payload length is wrong for the command, or longer than [`MAX_PAYLOAD`].
    BadLength = 0x03,
    /// Memory selector, lane or address range out of range, or an access the memory
    /// does not allow (reading `pre`, writing `selected`).
    BadAddress = 0x04,
    /// A `START` value out of range (rows, budget, mode, consolidate).
    BadValue = 0x05,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 6] = [
        Status::Ok,
        Status::BadChecksum,
        Status::UnknownCommand,
        Status::BadLength,
        Status::BadAddress,
        Status::BadValue,
    ];

    /// The status of a byte.
    pub fn from_byte(b: u8) -> Option<Status> {
        Status::ALL.into_iter().find(|s| *s as u8 == b)
    }

    /// Verilog `localparam` name.
    pub fn param(self) -> &'static str {
        match self {
            Status::Ok => "ST_OK",
            Status::BadChecksum => "ST_BAD_CHECKSUM",
            Status::UnknownCommand => "ST_UNKNOWN_COMMAND",
            Status::BadLength => "ST_BAD_LENGTH",
            Status::BadAddress => "ST_BAD_ADDRESS",
            Status::BadValue => "ST_BAD_VALUE",
        }
    }

    /// What it means, for error messages.
    pub fn meaning(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::BadChecksum => "bad checksum",
            Status::UnknownCommand => "unknown command",
            Status::BadLength => "bad payload length",
            Status::BadAddress => "address out of range",
            Status::BadValue => "value out of range",
        }
    }
}

/// One CRC-8 step (polynomial 0x07), as the bridge computes it per byte.
pub fn crc8_byte(crc: u8, byte: u8) -> u8 {
    let mut c = crc ^ byte;
    for _ in 0..8 {
        c = if c & 0x80 != 0 {
            (c << 1) ^ 0x07
        } else {
            c << 1
        };
    }
    c
}

/// CRC-8 of `bytes`.
pub fn crc8(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |c, &b| crc8_byte(c, b))
}

/// A complete request frame.
pub fn request(cmd: u8, payload: &[u8]) -> Vec<u8> {
    frame(REQUEST_SYNC, cmd, payload)
}

/// A complete reply frame (used by tests and by the documentation's examples).
pub fn reply(status: Status, payload: &[u8]) -> Vec<u8> {
    frame(REPLY_SYNC, status as u8, payload)
}

fn frame(sync: u8, code: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() <= 255, "payload of {} bytes", payload.len());
    let mut f = vec![sync, code, payload.len() as u8];
    f.extend_from_slice(payload);
    f.push(crc8(&f[1..]));
    f
}

/// The fingerprint of a configuration: FNV-1a (32 bits) of its canonical JSON, name left
/// out. The bridge reports it in `INFO`, so a host can refuse a board built from another
/// configuration (learning constants included).
pub fn fingerprint(c: &HwConfig) -> u32 {
    let mut c = c.clone();
    c.name.clear();
    let json = serde_json::to_string(&c).unwrap_or_default();
    json.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// What a host needs to know about a configuration's link: word size, ranges, `INFO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Bytes per host word (`ceil(host_data / 8)`).
    pub word_bytes: usize,
    /// Lanes.
    pub lanes: usize,
    /// Words per lane of each host memory, indexed by selector; 0 for selectors that do
    /// not exist.
    pub depths: [usize; 16],
    /// Bits per word of each host memory, indexed by selector.
    pub bits: [u32; 16],
    /// Readable selectors (bit per selector).
    pub readable: u16,
    /// Writable selectors.
    pub writable: u16,
    /// The `INFO` payload this configuration's bridge answers with.
    pub info: [u8; INFO_BYTES],
}

/// The `INFO` payload fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// Protocol version.
    pub version: u8,
    /// Bytes per host word.
    pub word_bytes: u8,
    /// Lanes.
    pub lanes: u8,
    /// Slots per output.
    pub k: u8,
    /// Rows per batch.
    pub max_rows: u16,
    /// Layer inputs.
    pub inputs: u16,
    /// Layer outputs.
    pub outputs: u16,
    /// Clock cycles per UART bit.
    pub clks_per_bit: u16,
    /// [`fingerprint`] of the configuration.
    pub fingerprint: u32,
}

impl Info {
    /// The payload bytes.
    pub fn to_bytes(&self) -> [u8; INFO_BYTES] {
        let mut b = [0u8; INFO_BYTES];
        b[0] = self.version;
        b[1] = self.word_bytes;
        b[2] = self.lanes;
        b[3] = self.k;
        b[4..6].copy_from_slice(&self.max_rows.to_le_bytes());
        b[6..8].copy_from_slice(&self.inputs.to_le_bytes());
        b[8..10].copy_from_slice(&self.outputs.to_le_bytes());
        b[10..12].copy_from_slice(&self.clks_per_bit.to_le_bytes());
        b[12..16].copy_from_slice(&self.fingerprint.to_le_bytes());
        b
    }

    /// Parses a payload.
    pub fn from_bytes(b: &[u8]) -> Option<Info> {
        if b.len() != INFO_BYTES {
            return None;
        }
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Some(Info {
            version: b[0],
            word_bytes: b[1],
            lanes: b[2],
            k: b[3],
            max_rows: u16_at(4),
            inputs: u16_at(6),
            outputs: u16_at(8),
            clks_per_bit: u16_at(10),
            fingerprint: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
        })
    }
}

/// The status of the last update, as `STATUS` and `START` report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpdateStatus {
    /// An update is running (only `STATUS` can see this).
    pub busy: bool,
    /// The receive FIFO overflowed since reset (bytes were lost: the host had more than
    /// [`RX_FIFO_BYTES`] in flight).
    pub overflow: bool,
    /// The descent flag of the last update.
    pub descent: bool,
    /// Phase (1 ACCUMULATE, 2 SELECT, 3 APPLY; 0 idle).
    pub phase: u8,
    /// Slots selected by the last update.
    pub selected: u32,
    /// Cycles of the last update per phase and in total, counted by the bridge.
    pub cycles: lpn_cycle::Cycles,
}

impl UpdateStatus {
    /// Parses a `STATUS`/`START` payload.
    pub fn from_bytes(b: &[u8]) -> Option<UpdateStatus> {
        if b.len() != STATUS_BYTES {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(UpdateStatus {
            busy: b[0] & 1 != 0,
            descent: b[0] & 2 != 0,
            overflow: b[0] & 4 != 0,
            phase: b[1],
            selected: u32_at(2),
            cycles: lpn_cycle::Cycles {
                accumulate: u64::from(u32_at(6)),
                select: u64::from(u32_at(10)),
                apply: u64::from(u32_at(14)),
                total: u64::from(u32_at(18)),
            },
        })
    }
}

impl Link {
    /// The link of a configuration whose bridge runs `clks_per_bit` clocks per bit.
    pub fn new(c: &HwConfig, clks_per_bit: u16) -> lpn_cycle::Result<Link> {
        Link::of_manifest(c, &crate::engine::generate(c)?.manifest, clks_per_bit)
    }

    /// [`Link::new`] from the manifest of an engine already generated for `c`.
    pub fn of_manifest(
        c: &HwConfig,
        manifest: &crate::engine::Manifest,
        clks_per_bit: u16,
    ) -> lpn_cycle::Result<Link> {
        let w = manifest.widths;
        let mut depths = [0usize; 16];
        let mut bits = [0u32; 16];
        let (mut readable, mut writable) = (0u16, 0u16);
        for m in &manifest.host_memories {
            depths[m.sel as usize] = m.depth;
            bits[m.sel as usize] = m.bits;
            readable |= u16::from(m.readable) << m.sel;
            writable |= u16::from(m.writable) << m.sel;
        }
        let word_bytes = w.host_data.div_ceil(8) as usize;
        let small = |v: usize, what: &str, max: usize| -> lpn_cycle::Result<()> {
            if v > max {
                Err(lpn_cycle::Error::new(format!(
                    "the host link carries {what} up to {max}; this configuration has {v}"
                )))
            } else {
                Ok(())
            }
        };
        small(c.lanes, "lanes", 255)?;
        small(c.layer.k, "K", 255)?;
        small(word_bytes, "host words of bytes", 8)?;
        small(
            depths.iter().copied().max().unwrap_or(0),
            "memory depths",
            65535,
        )?;
        small(c.max_rows, "max_rows", 65535)?;
        small(c.layer.inputs, "inputs", 65535)?;
        small(c.layer.outputs, "outputs", 65535)?;
        let info = Info {
            version: VERSION,
            word_bytes: word_bytes as u8,
            lanes: c.lanes as u8,
            k: c.layer.k as u8,
            max_rows: c.max_rows as u16,
            inputs: c.layer.inputs as u16,
            outputs: c.layer.outputs as u16,
            clks_per_bit,
            fingerprint: fingerprint(c),
        }
        .to_bytes();
        Ok(Link {
            word_bytes,
            lanes: c.lanes,
            depths,
            bits,
            readable,
            writable,
            info,
        })
    }

    /// Words one `WRITE` may carry.
    pub fn write_burst(&self) -> usize {
        BUFFER_BYTES / self.word_bytes
    }

    /// Words one `READ` may return.
    pub fn read_burst(&self) -> usize {
        (MAX_REPLY / self.word_bytes).min(255)
    }

    /// The status a bridge answers an access with (`Ok` when it is in range).
    pub fn check_access(&self, write: bool, sel: u8, lane: u8, addr: u16, count: u8) -> Status {
        let allowed = if write { self.writable } else { self.readable };
        let sel = sel as usize;
        if sel >= 16 || allowed >> sel & 1 == 0 || lane as usize >= self.lanes || count == 0 {
            return Status::BadAddress;
        }
        if addr as usize + count as usize > self.depths[sel] {
            return Status::BadAddress;
        }
        Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_crc8_smbus() {
        // The catalogue check value of CRC-8 (poly 0x07, init 0, no reflection).
        assert_eq!(crc8(b"123456789"), 0xF4);
        // The INFO request of docs/fpga.md.
        assert_eq!(
            request(Command::Info as u8, &[]),
            vec![0xA5, 0x01, 0x00, 0x15]
        );
        assert_eq!(
            reply(Status::BadChecksum, &[]),
            vec![0x5A, 0x01, 0x00, 0x15]
        );
    }

    #[test]
    fn info_and_status_round_trip() {
        let i = Info {
            version: VERSION,
            word_bytes: 4,
            lanes: 2,
            k: 8,
            max_rows: 32,
            inputs: 16,
            outputs: 4,
            clks_per_bit: 417,
            fingerprint: 0xdead_beef,
        };
        assert_eq!(Info::from_bytes(&i.to_bytes()), Some(i));
        assert_eq!(Info::from_bytes(&[0; 3]), None);
        let mut b = [0u8; STATUS_BYTES];
        b[0] = 0b110;
        b[1] = 3;
        b[18] = 7;
        let s = UpdateStatus::from_bytes(&b).unwrap();
        assert!(!s.busy && s.descent && s.overflow);
        assert_eq!((s.phase, s.cycles.total), (3, 7));
    }

    #[test]
    fn access_checks_follow_the_memory_map() {
        let c = lpn_cycle::preset("tiny").unwrap();
        let l = Link::new(&c, 8).unwrap();
        let syn = crate::engine::sel::SYN as u8;
        let pre = crate::engine::sel::PRE as u8;
        let depth = l.depths[syn as usize] as u16;
        assert_eq!(l.check_access(true, syn, 0, 0, depth as u8), Status::Ok);
        assert_eq!(
            l.check_access(true, syn, 0, 1, depth as u8),
            Status::BadAddress
        );
        assert_eq!(l.check_access(true, syn, 2, 0, 1), Status::BadAddress);
        assert_eq!(l.check_access(false, pre, 0, 0, 1), Status::BadAddress);
        assert_eq!(l.check_access(true, pre, 0, 0, 1), Status::Ok);
        assert_eq!(l.check_access(true, 15, 0, 0, 1), Status::BadAddress);
    }
}
