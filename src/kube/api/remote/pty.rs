//! A pseudo-terminal for `kubectl exec -t` (Unix). nix's `openpty` with the nix crate jube
//! already uses for signals and process groups, rather than a cross-platform pty crate and its
//! own copy of nix: the command gets the terminal's other end as stdin, stdout and stderr, in a
//! session of its own with the terminal as its controlling terminal, so that job control, Ctrl-C
//! and window sizes work. The master end is read and written without blocking through tokio.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Stdio;

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::pty::{Winsize, openpty};
use tokio::io::unix::AsyncFd;

nix::ioctl_write_ptr_bad!(set_window_size, nix::libc::TIOCSWINSZ, Winsize);
nix::ioctl_write_int_bad!(set_controlling_terminal, nix::libc::TIOCSCTTY);

/// The terminal's master end, shared by the tasks that read, write and resize it.
pub struct Master {
    fd: AsyncFd<File>,
}

/// Opens a terminal of `cols`×`rows` and makes it `cmd`'s stdin, stdout, stderr and controlling
/// terminal. The returned master is the only end left in this process once `cmd` has spawned
/// and been dropped.
pub fn attach(cmd: &mut tokio::process::Command, cols: u16, rows: u16) -> io::Result<Master> {
    let size = winsize(cols, rows);
    let pair = openpty(&size, None).map_err(io::Error::from)?;
    // No other child of the daemon (an app started meanwhile) may inherit either end.
    for fd in [&pair.master, &pair.slave] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(io::Error::from)?;
    }
    let slave: OwnedFd = pair.slave;
    cmd.stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave));
    // SAFETY: between fork and exec only async-signal-safe calls run: setsid(2) and ioctl(2).
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(io::Error::from)?;
            set_controlling_terminal(0, 0).map_err(io::Error::from)?;
            Ok(())
        });
    }
    let flags = fcntl(&pair.master, FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(&pair.master, FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
    // SAFETY: the File owns the master descriptor, which nothing else closes or replaces.
    let fd = unsafe { AsyncFd::register(File::from(pair.master))? };
    Ok(Master { fd })
}

impl Master {
    /// What the command wrote; 0 once every process has closed the terminal.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut ready = self.fd.readable().await?;
            match ready.try_io(|f| f.get_ref().read(buf)) {
                Ok(Ok(n)) => return Ok(n),
                // Linux says EIO when the last process holding the terminal has closed it.
                Ok(Err(e)) if e.raw_os_error() == Some(nix::libc::EIO) => return Ok(0),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut ready = self.fd.writable().await?;
            match ready.try_io(|f| f.get_ref().write(data)) {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Tells the terminal (and so the command, by SIGWINCH) its new size.
    pub fn resize(&self, cols: u16, rows: u16) -> io::Result<()> {
        let size = winsize(cols, rows);
        // SAFETY: the descriptor is open for the life of `self`, and `size` outlives the call.
        unsafe { set_window_size(self.fd.get_ref().as_fd().as_raw_fd(), &size) }
            .map(drop)
            .map_err(io::Error::from)
    }
}

fn winsize(cols: u16, rows: u16) -> Winsize {
    Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}
