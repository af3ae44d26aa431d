//! sd_notify(3) without libsystemd: one datagram of `KEY=value` lines to the socket in `$NOTIFY_SOCKET`.

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` to the service manager: `Ok(false)` when `$NOTIFY_SOCKET` is unset or empty,
/// which is how a process learns it was not started by systemd with `Type=notify`.
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(socket) if !socket.is_empty() => send(&socket, state).map(|()| true),
        _ => Ok(false),
    }
}

/// One datagram from a fresh unbound socket, as libsystemd does: the manager tells senders
/// apart by their credentials, not by a bound address, and a call per state change costs nothing.
pub fn send(socket: &OsStr, state: &str) -> io::Result<()> {
    let fail = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!(
                "sd_notify: cannot send to NOTIFY_SOCKET={}: {e}",
                socket.to_string_lossy()
            ),
        )
    };
    let addr = address(socket).map_err(fail)?;
    let sent = UnixDatagram::unbound()
        .and_then(|s| s.send_to_addr(state.as_bytes(), &addr))
        .map_err(fail)?;
    if sent != state.len() {
        return Err(fail(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("only {sent} of {} bytes were sent", state.len()),
        )));
    }
    Ok(())
}

/// sd_notify(3): a leading `/` is a filesystem path, a leading `@` a name in Linux's abstract
/// namespace; anything else (e.g. the `vsock:` addresses of systemd 253+) is not supported.
fn address(socket: &OsStr) -> io::Result<SocketAddr> {
    match socket.as_bytes().split_first() {
        Some((b'/', _)) => SocketAddr::from_pathname(socket),
        Some((b'@', name)) => SocketAddr::from_abstract_name(name),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an absolute path or an @abstract name",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::time::Duration;

    fn receive(server: &UnixDatagram) -> String {
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    fn temp_path(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("spoor-notify-{}-{tag}.sock", std::process::id()))
    }

    #[test]
    fn sends_one_datagram_to_a_path() {
        let path = temp_path("path");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), "READY=1\nSTATUS=up").unwrap();
        assert_eq!(receive(&server), "READY=1\nSTATUS=up");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn sends_to_an_abstract_name() {
        let name = format!("spoor-notify-{}-abstract", std::process::id());
        let server =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
        send(&OsString::from(format!("@{name}")), "WATCHDOG=1").unwrap();
        assert_eq!(receive(&server), "WATCHDOG=1");
    }

    #[test]
    fn a_missing_socket_is_an_error_naming_it() {
        let path = temp_path("missing");
        let err = send(path.as_os_str(), "READY=1").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let text = err.to_string();
        assert!(
            text.starts_with("sd_notify: cannot send to NOTIFY_SOCKET=/"),
            "{text}"
        );
        assert!(text.contains("missing.sock"), "{text}");
    }

    #[test]
    fn a_relative_address_is_rejected() {
        let err = send(OsStr::new("run/notify"), "READY=1").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            err.to_string(),
            "sd_notify: cannot send to NOTIFY_SOCKET=run/notify: not an absolute path or an @abstract name"
        );
    }

    #[test]
    fn a_path_longer_than_sun_path_is_rejected() {
        let long = format!("/{}", "x".repeat(200));
        let err = send(OsStr::new(&long), "READY=1").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
