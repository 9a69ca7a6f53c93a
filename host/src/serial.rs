//! A serial port in raw 8N1 mode at a fixed baud rate (termios), with a read timeout so
//! that a silent board gives an error instead of a hang.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::{Error, Result};

/// Seconds a read waits for the first byte before it reports a timeout.
pub const READ_TIMEOUT_S: u8 = 2;

fn speed(baud: u64) -> Option<libc::speed_t> {
    Some(match baud {
        9600 => libc::B9600,
        19200 => libc::B19200,
        38400 => libc::B38400,
        57600 => libc::B57600,
        115_200 => libc::B115200,
        230_400 => libc::B230400,
        460_800 => libc::B460800,
        500_000 => libc::B500000,
        921_600 => libc::B921600,
        1_000_000 => libc::B1000000,
        2_000_000 => libc::B2000000,
        3_000_000 => libc::B3000000,
        _ => return None,
    })
}

/// Opens `path` (for instance `/dev/ttyUSB1`) raw at `baud`, and drops whatever the
/// adapter had buffered.
pub fn open(path: &Path, baud: u64) -> Result<File> {
    let rate = speed(baud).ok_or_else(|| {
        Error::Io(format!(
            "{baud} baud is not a rate this driver can set (use 115200, 230400, 460800, 921600, 1000000, 2000000 or 3000000)"
        ))
    })?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?;
    let fd = file.as_raw_fd();
    // SAFETY: fd is a valid open descriptor owned by `file`; termios is plain data that
    // tcgetattr fills before it is read.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return Err(Error::Io(format!(
                "{} is not a serial port ({})",
                path.display(),
                std::io::Error::last_os_error()
            )));
        }
        libc::cfmakeraw(&mut t);
        t.c_cflag |= libc::CLOCAL | libc::CREAD;
        t.c_cflag &= !(libc::CSTOPB | libc::PARENB | libc::CRTSCTS);
        t.c_cc[libc::VMIN] = 0;
        t.c_cc[libc::VTIME] = READ_TIMEOUT_S * 10;
        if libc::cfsetispeed(&mut t, rate) != 0
            || libc::cfsetospeed(&mut t, rate) != 0
            || libc::tcsetattr(fd, libc::TCSANOW, &t) != 0
        {
            return Err(Error::Io(format!(
                "cannot set {} to {baud} baud: {}",
                path.display(),
                std::io::Error::last_os_error()
            )));
        }
        libc::tcflush(fd, libc::TCIOFLUSH);
    }
    Ok(file)
}
