//! The whole host path without a board: the driver talks through the simulated UART to
//! the Verilator simulation of `lpn_board` (bridge and engine). A training run equals
//! the cycle model's, update for update; malformed frames get error replies and leave
//! the engine's state alone.

use std::path::PathBuf;

use lpn_cycle::train::Trainer;
use lpn_cycle::{preset, Accelerator, HwConfig};
use lpn_golden::scenario::Scenario;
use lpn_host::sim::SimBoard;
use lpn_host::{Board, Error};
use lpn_link::protocol::{self, Command, Status};
use lpn_link::sel;

fn cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rtl-cache")
}

fn scenario() -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/regression.json");
    Scenario::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn open(c: &HwConfig) -> lpn_cycle::Result<Board<SimBoard>> {
    let sim = SimBoard::start(c, &cache(), None)?;
    Ok(Board::open(sim, c)?)
}

/// The regression task trained through the simulated UART: every update's state,
/// selection, descent flag, selected count and cycles per phase equal the cycle model's.
#[test]
fn training_through_the_simulated_uart_equals_the_cycle_model() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let sc = scenario();
    let c = preset("tiny").unwrap();
    let mut model = Trainer::new(&sc, &c).unwrap();
    let mut board = Trainer::with(&sc, &c, open).unwrap();
    let steps = 40;
    for n in 0..steps {
        let want = model.step().unwrap().unwrap();
        let got = board.step().unwrap().unwrap();
        assert_eq!(
            got.input, want.input,
            "step {n}: the host saw different states"
        );
        assert_eq!(got.report, want.report, "step {n}: report");
        assert_eq!(got.selected, want.selected, "step {n}: selection");
        assert_eq!(got.state, want.state, "step {n}: state");
    }
    let t = board.accelerator().traffic();
    eprintln!(
        "{steps} updates through the UART: {} bytes sent, {} received, {} frames",
        t.sent, t.received, t.frames
    );
    assert!(
        model.state().bias.iter().any(|&b| b != 0),
        "training moved nothing"
    );
}

/// A board built from another configuration is refused when the driver connects.
#[test]
fn a_board_from_another_configuration_is_refused() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let c = preset("tiny").unwrap();
    let sim = SimBoard::start(&c, &cache(), None).unwrap();
    let mut other = c.clone();
    other.learning.learning_rate *= 2.0;
    match Board::open(sim, &other) {
        Err(Error::Mismatch(m)) => assert!(m.contains("another configuration"), "{m}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a mismatched board was accepted"),
    }
}

/// Every kind of bad frame gets its error reply, and the engine's state is the same
/// before and after all of them; the link still works afterwards.
#[test]
fn bad_frames_get_error_replies_and_change_nothing() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let sc = scenario();
    let c = preset("tiny").unwrap();
    let mut trainer = Trainer::with(&sc, &c, open).unwrap();
    for _ in 0..3 {
        trainer.step().unwrap();
    }
    let board = trainer.accelerator();
    let before = board.read_state().unwrap();
    let status_before = board.status().unwrap();
    let wb = board.link().word_bytes;
    let lanes = c.lanes as u8;
    let syn_depth = board.link().depths[sel::SYN as usize] as u16;
    let write = |s: u64, lane: u8, addr: u16, count: u8, words: usize| {
        let mut p = vec![
            s as u8,
            lane,
            addr.to_le_bytes()[0],
            addr.to_le_bytes()[1],
            count,
        ];
        p.extend(std::iter::repeat_n(0x5a, words * wb));
        protocol::request(Command::Write as u8, &p)
    };
    let read = |s: u64, lane: u8, addr: u16, count: u8| {
        let p = vec![
            s as u8,
            lane,
            addr.to_le_bytes()[0],
            addr.to_le_bytes()[1],
            count,
        ];
        protocol::request(Command::Read as u8, &p)
    };
    let mut bad_crc = write(sel::SYN, 0, 0, 2, 2);
    *bad_crc.last_mut().unwrap() ^= 0x01;
    // A word with bits above its memory's word (the mask memory's is K + 4 bits).
    let mut too_wide = vec![sel::MASK as u8, 0, 0, 0, 1];
    too_wide.extend(std::iter::repeat_n(0xff, wb));
    let too_wide = protocol::request(Command::Write as u8, &too_wide);
    let cases: Vec<(&str, Vec<u8>, Status)> = vec![
        ("bad checksum", bad_crc, Status::BadChecksum),
        (
            "unknown command",
            protocol::request(0x7e, &[1, 2, 3]),
            Status::UnknownCommand,
        ),
        (
            "oversized length",
            protocol::request(Command::Write as u8, &[0u8; protocol::MAX_PAYLOAD + 1]),
            Status::BadLength,
        ),
        (
            "length of 255",
            protocol::request(Command::Write as u8, &[7u8; 255]),
            Status::BadLength,
        ),
        (
            "INFO with a payload",
            protocol::request(Command::Info as u8, &[0]),
            Status::BadLength,
        ),
        (
            "WRITE count and length disagree",
            {
                let mut f = write(sel::SYN, 0, 0, 3, 2);
                let n = f.len();
                f[n - 1] = protocol::crc8(&f[1..n - 1]);
                f
            },
            Status::BadLength,
        ),
        (
            "address past the end",
            write(sel::SYN, 0, syn_depth - 1, 2, 2),
            Status::BadAddress,
        ),
        (
            "lane out of range",
            write(sel::SYN, lanes, 0, 1, 1),
            Status::BadAddress,
        ),
        ("unknown memory", write(12, 0, 0, 1, 1), Status::BadAddress),
        (
            "selector above 15",
            write(200, 0, 0, 1, 1),
            Status::BadAddress,
        ),
        (
            "write to a read-only memory",
            write(sel::SELECTED, 0, 0, 1, 1),
            Status::BadAddress,
        ),
        (
            "read of a write-only memory",
            read(sel::PRE, 0, 0, 1),
            Status::BadAddress,
        ),
        (
            "read past the end",
            read(sel::SYN, 1, syn_depth, 1),
            Status::BadAddress,
        ),
        (
            "read of zero words",
            read(sel::SYN, 0, 0, 0),
            Status::BadAddress,
        ),
        ("word wider than its memory", too_wide, Status::BadValue),
        (
            "START with zero rows",
            protocol::request(Command::Start as u8, &[0, 0, 2, 1, 0]),
            Status::BadValue,
        ),
        (
            "START with rows above max_rows",
            protocol::request(Command::Start as u8, &[(c.max_rows + 1) as u8, 0, 2, 1, 0]),
            Status::BadValue,
        ),
        (
            "START with budget above K",
            protocol::request(Command::Start as u8, &[1, 0, (c.layer.k + 1) as u8, 1, 0]),
            Status::BadValue,
        ),
        (
            "START with mode 4",
            protocol::request(Command::Start as u8, &[1, 0, 1, 4, 0]),
            Status::BadValue,
        ),
        (
            "START with budget 0",
            protocol::request(Command::Start as u8, &[1, 0, 0, 1, 0]),
            Status::BadValue,
        ),
        (
            "START with consolidate 2",
            protocol::request(Command::Start as u8, &[1, 0, 1, 1, 2]),
            Status::BadValue,
        ),
        (
            "START of the wrong length",
            protocol::request(Command::Start as u8, &[1, 0, 1, 1]),
            Status::BadLength,
        ),
        (
            "STATUS with a payload",
            protocol::request(Command::Status as u8, &[0]),
            Status::BadLength,
        ),
        (
            "READ whose reply would exceed 255 bytes",
            read(sel::SYN, 0, 0, (255 / wb + 1) as u8),
            Status::BadLength,
        ),
        (
            "READ with a bad checksum",
            {
                let mut f = read(sel::SYN, 0, 0, 1);
                *f.last_mut().unwrap() ^= 0x80;
                f
            },
            Status::BadChecksum,
        ),
        (
            "START with a bad checksum",
            {
                let mut f = protocol::request(Command::Start as u8, &[1, 0, 1, 1, 0]);
                *f.last_mut().unwrap() ^= 0x01;
                f
            },
            Status::BadChecksum,
        ),
    ];
    for (what, frame, want) in cases {
        board.send_raw(&frame).unwrap();
        let r = board.read_reply().unwrap();
        assert_eq!(r.status, want as u8, "{what}: status");
        assert!(
            r.payload.is_empty(),
            "{what}: an error reply carries no payload"
        );
    }
    // Noise between frames is skipped while the bridge hunts for a sync byte.
    board.send_raw(&[0x00, 0x13, 0xff]).unwrap();
    let after = board.read_state().unwrap();
    assert_eq!(after, before, "a refused frame changed the engine's state");
    assert_eq!(
        board.status().unwrap(),
        status_before,
        "a refused frame started an update"
    );
    // The driver reports an error status as such.
    match board.request(Command::Read, &[sel::PRE as u8, 0, 0, 0, 1]) {
        Err(Error::Refused { status, .. }) => assert_eq!(status, Status::BadAddress),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // And the link goes on working: training continues.
    trainer.step().unwrap().unwrap();
}

/// The cycle counts the bridge reports are the engine's, for every row count.
#[test]
fn the_bridge_counts_the_cycle_formula() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let sc = scenario();
    let c = preset("tiny").unwrap();
    let mut trainer = Trainer::with(&sc, &c, open).unwrap();
    let step = trainer.step().unwrap().unwrap();
    let want = lpn_cycle::cycle_formula(trainer.config(), step.input.rows);
    assert_eq!(step.report.cycles, want);
    let s = trainer.accelerator().status().unwrap();
    assert!(!s.busy);
    assert_eq!(s.cycles, want);
    assert_eq!(u64::from(s.selected), step.report.selected);
    let _ = trainer.accelerator().state().unwrap();
}

/// The end-to-end comparison can fail: with one bit of a learning constant flipped in
/// the board's engine, training through the UART departs from the cycle model.
#[test]
fn a_flipped_bit_in_the_boards_engine_is_caught() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let sc = scenario();
    let c = lpn_cycle::train::scenario_config(&sc, &preset("tiny").unwrap());
    let dp = lpn_cycle::Datapath::new(&c).unwrap();
    let from = format!("LONG_EVAPORATION = 24'h{:X};", dp.k.long_evaporation);
    let to = format!(
        "LONG_EVAPORATION = 24'h{:X};",
        dp.k.long_evaporation ^ (1 << 4)
    );
    let mut b = lpn_rtl::board::simulation(&c, lpn_flow::boardsim::SIM_CLKS_PER_BIT).unwrap();
    for (n, t) in &mut b.files {
        if n == "lpn_lane.v" {
            assert!(t.contains(&from), "{from}");
            *t = t.replace(&from, &to);
        }
    }
    let model_exe = lpn_flow::boardsim::build_files(&b, &cache()).unwrap().exe;
    let mut model = Trainer::new(&sc, &c).unwrap();
    let mut board = Trainer::with(&sc, &c, |eff| {
        Ok(Board::open(SimBoard::spawn(&model_exe, None)?, eff)?)
    })
    .unwrap();
    let differs = (0..10).any(|_| {
        let want = model.step().unwrap().unwrap();
        let got = board.step().unwrap().unwrap();
        got.state != want.state
    });
    assert!(differs, "a corrupted engine trained like the cycle model");
}

/// The bridge's range checks agree with the host's model of them
/// (`protocol::Link::check_access`) on random accesses around every memory's edges.
#[test]
fn the_bridges_range_checks_equal_the_host_model() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let c = preset("tiny").unwrap();
    let mut board = open(&c).unwrap();
    let link = board.link().clone();
    let mut rng = lpn_cycle::random::Rng::new(3);
    let mut pick = |n: u64| rng.below(n as usize) as u8;
    let mut checked = 0;
    while checked < 120 {
        let write = pick(2) == 1;
        let sel = pick(16);
        let lane = pick(c.lanes as u8 as u64 + 1);
        let depth = link.depths[sel as usize].max(1) as u64;
        let count = 1 + pick(4);
        let addr = (depth - 1).saturating_sub(pick(6) as u64) as u16;
        let want = link.check_access(write, sel, lane, addr, count);
        if write && want == Status::Ok {
            continue; // would change the state; the training tests cover good writes
        }
        let a = addr.to_le_bytes();
        let mut p = vec![sel, lane, a[0], a[1], count];
        let cmd = if write {
            p.extend(std::iter::repeat_n(0, count as usize * link.word_bytes));
            Command::Write
        } else {
            Command::Read
        };
        board.send_raw(&protocol::request(cmd as u8, &p)).unwrap();
        let r = board.read_reply().unwrap();
        assert_eq!(
            r.status, want as u8,
            "{cmd:?} sel {sel} lane {lane} addr {addr} count {count}"
        );
        if want == Status::Ok {
            assert_eq!(r.payload.len(), count as usize * link.word_bytes);
        }
        checked += 1;
    }
}

/// The whole board tops (pins, reset button, LEDs, the PLL as a pass-through stand-in,
/// the UART at a real rate of the flow's default clock for the board: 1 Mbaud, 18 and
/// 100 clocks per bit, to keep the test short): the driver connects and trains through
/// them exactly like the cycle model, for both boards.
#[test]
fn both_board_tops_train_through_their_pins() {
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    use lpn_rtl::board::Board as B;
    let baud = 1_000_000;
    let sc = scenario();
    use lpn_flow::fpga::Target as T;
    for (file, board, target) in [
        ("fpga/regression-ice40.toml", B::Icebreaker, T::Ice40Up5k),
        ("fpga/regression-ecp5.toml", B::Ulx3s, T::Ecp5_85k),
    ] {
        let clock = target.default_clock_hz();
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(file);
        let c = HwConfig::load(path.to_str().unwrap()).unwrap();
        let mut model = Trainer::new(&sc, &c).unwrap();
        let mut hw = Trainer::with(&sc, &c, |eff| {
            let (m, b) = lpn_flow::boardsim::build_top(eff, board, clock, baud, &cache())
                .map_err(lpn_cycle::Error::new)?;
            let mut link = Board::open(SimBoard::spawn(&m.exe, None)?, eff)?;
            assert_eq!(link.info().clks_per_bit, b.clks_per_bit);
            assert_eq!(u64::from(link.info().clks_per_bit), clock / baud);
            link.status()?;
            Ok(link)
        })
        .unwrap();
        for n in 0..2 {
            let want = model.step().unwrap().unwrap();
            let got = hw.step().unwrap().unwrap();
            assert_eq!(got.report, want.report, "{file} step {n}");
            assert_eq!(got.state, want.state, "{file} step {n}");
        }
    }
}

/// The serial-port driver end to end: the simulated board sits behind a pseudo-terminal
/// (a relay copies bytes between the pty's master side and the simulation), and the
/// driver opens the pty's slave side as a serial port (termios raw 8N1) and trains.
#[test]
fn the_serial_driver_trains_through_a_pseudo_terminal() {
    use std::io::{Read, Write};
    use std::os::fd::FromRawFd;
    use std::process::{Command as Process, Stdio};
    lpn_toolchain::require(lpn_toolchain::Tool::Verilator);
    let sc = scenario();
    let c = preset("tiny").unwrap();
    let eff = lpn_cycle::train::scenario_config(&sc, &c);
    let (model_exe, _) = lpn_flow::boardsim::build(&eff, &cache()).unwrap();
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors into the given integers; no name buffer,
    // terminal settings or window size are passed.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    let path = std::fs::read_link(format!("/proc/self/fd/{slave}")).unwrap();
    let mut sim = Process::new(&model_exe.exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_sim = sim.stdin.take().unwrap();
    let mut from_sim = sim.stdout.take().unwrap();
    // SAFETY: `master` is an open descriptor that nothing else owns.
    let master = unsafe { std::fs::File::from_raw_fd(master) };
    let mut master_w = master.try_clone().unwrap();
    let mut master_r = master;
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = master_r.read(&mut buf) {
            if n == 0
                || to_sim
                    .write_all(&buf[..n])
                    .and_then(|_| to_sim.flush())
                    .is_err()
            {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from_sim.read(&mut buf) {
            if n == 0 || master_w.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut model = Trainer::new(&sc, &c).unwrap();
    let mut hw = Trainer::with(&sc, &c, |eff| {
        Ok(Board::open(lpn_host::serial::open(&path, 115_200)?, eff)?)
    })
    .unwrap();
    for n in 0..3 {
        let want = model.step().unwrap().unwrap();
        let got = hw.step().unwrap().unwrap();
        assert_eq!(got.state, want.state, "step {n}");
        assert_eq!(got.report, want.report, "step {n}");
    }
    drop(hw);
    let _ = sim.kill();
    let _ = sim.wait();
    // SAFETY: `slave` is still open and owned here.
    unsafe { libc::close(slave) };
}
