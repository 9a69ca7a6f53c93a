//! The host driver against a scripted fake port: every kind of bad reply (wrong sync
//! byte, bad CRC, a short reply, none at all, an error or unknown status, a payload of
//! the wrong size, another board) is an error that says what happened, never a panic,
//! a hang or a wrong value. No simulator is involved.

use lpn_cycle::HwConfig;
use lpn_host::scripted::Scripted;
use lpn_host::{Board, Error};
use lpn_link::protocol::{self, Link, Status};

fn tiny() -> HwConfig {
    lpn_cycle::preset("tiny").unwrap()
}

/// The INFO reply the tiny board gives.
fn info_reply() -> Vec<u8> {
    protocol::reply(Status::Ok, &Link::new(&tiny(), 0).unwrap().info)
}

fn port(replies: &[Vec<u8>]) -> Scripted {
    Scripted::new(replies.concat())
}

/// A connected board whose next replies are `then`.
fn board(then: &[Vec<u8>]) -> Board<Scripted> {
    let mut all = vec![info_reply()];
    all.extend_from_slice(then);
    Board::open(port(&all), &tiny()).unwrap()
}

fn protocol_error(e: Error, want: &str) {
    match e {
        Error::Protocol(m) => assert!(m.contains(want), "wanted `{want}` in `{m}`"),
        other => panic!("expected a protocol error with `{want}`, got {other:?}"),
    }
}

#[test]
fn a_good_exchange_works_byte_by_byte() {
    let mut status = vec![0u8; 22];
    status[0] = 0b10; // descent
    status[2] = 7; // selected count
    let mut b = board(&[protocol::reply(Status::Ok, &status)]);
    let s = b.status().unwrap();
    assert!(s.descent && !s.busy);
    assert_eq!(s.selected, 7);
}

#[test]
fn a_reply_with_the_wrong_sync_byte_is_a_protocol_error() {
    let mut r = protocol::reply(Status::Ok, &[0u8; 22]);
    r[0] = protocol::REQUEST_SYNC;
    protocol_error(board(&[r]).status().unwrap_err(), "expected a reply");
}

#[test]
fn a_reply_that_fails_its_crc_is_a_protocol_error() {
    let mut r = protocol::reply(Status::Ok, &[0u8; 22]);
    r[5] ^= 0x10;
    protocol_error(board(&[r]).status().unwrap_err(), "failed its CRC");
    let mut r = protocol::reply(Status::Ok, &[0u8; 22]);
    *r.last_mut().unwrap() ^= 1;
    protocol_error(board(&[r]).status().unwrap_err(), "failed its CRC");
}

#[test]
fn a_short_or_missing_reply_is_an_io_error_not_a_hang() {
    let r = protocol::reply(Status::Ok, &[0u8; 22]);
    for cut in [0, 1, 3, 10, r.len() - 1] {
        match board(&[r[..cut].to_vec()]).status().unwrap_err() {
            Error::Io(m) => assert!(m.contains("no reply from the board"), "{m}"),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // No INFO reply at all: connecting fails the same way.
    assert!(matches!(
        Board::open(port(&[]), &tiny()).err().unwrap(),
        Error::Io(_)
    ));
}

#[test]
fn error_and_unknown_statuses_are_reported() {
    for status in [Status::BadChecksum, Status::BadLength, Status::BadAddress] {
        match board(&[protocol::reply(status, &[])]).status().unwrap_err() {
            Error::Refused { command, status: s } => {
                assert_eq!((command, s), (protocol::Command::Status as u8, status))
            }
            other => panic!("{other:?}"),
        }
    }
    let mut r = protocol::reply(Status::Ok, &[]);
    r[1] = 0x7f;
    r[3] = protocol::crc8(&r[1..3]);
    protocol_error(board(&[r]).status().unwrap_err(), "unknown status 0x7f");
}

#[test]
fn a_payload_of_the_wrong_size_is_a_protocol_error() {
    protocol_error(
        board(&[protocol::reply(Status::Ok, &[0u8; 21])])
            .status()
            .unwrap_err(),
        "STATUS reply of 21 bytes",
    );
    protocol_error(
        Board::open(port(&[protocol::reply(Status::Ok, &[1, 2, 3])]), &tiny())
            .err()
            .unwrap(),
        "INFO reply of 3 bytes",
    );
    // A READ answered with fewer words than asked for.
    let mut b = board(&[protocol::reply(Status::Ok, &[0u8; 3])]);
    let reads = lpn_link::hostmap::state_reads(&tiny(), 4);
    protocol_error(
        b.read_all(&reads[..2]).unwrap_err(),
        "words returned 3 bytes",
    );
}

#[test]
fn a_board_built_from_another_configuration_is_refused_at_connect() {
    let mut other = tiny();
    other.learning.learning_rate = 0.1;
    let reply = protocol::reply(Status::Ok, &Link::new(&other, 0).unwrap().info);
    match Board::open(port(&[reply]), &tiny()).err().unwrap() {
        Error::Mismatch(m) => assert!(m.contains("built from another configuration"), "{m}"),
        e => panic!("{e:?}"),
    }
    let mut info = Link::new(&tiny(), 0).unwrap().info;
    info[0] = protocol::VERSION + 1;
    match Board::open(port(&[protocol::reply(Status::Ok, &info)]), &tiny())
        .err()
        .unwrap()
    {
        Error::Mismatch(m) => assert!(m.contains("protocol version"), "{m}"),
        e => panic!("{e:?}"),
    }
}
