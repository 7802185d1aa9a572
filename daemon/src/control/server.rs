//! The Unix socket server: one task per client, requests forwarded to the core.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use super::{Command, Request, Response, VERSION};

/// A request for the core, with where to send the answer.
pub type ControlRequest = (Command, oneshot::Sender<Response>);

/// Creates the socket's directory, replaces a stale socket, and sets the mode.
pub fn bind(path: &Path, mode: u32) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A socket that answers belongs to a running evpnd (several can run on one host in
    // network namespaces, which share the filesystem): never take it over.
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "in use by a running evpnd (set [control] socket per instance)",
        ));
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let l = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(l)
}

pub async fn serve(l: UnixListener, core: mpsc::Sender<ControlRequest>) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                tokio::spawn(client(s, core.clone()));
            }
            Err(e) => {
                debug!(error = %e, "control accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Answers one line.
pub async fn answer(line: &str, core: &mpsc::Sender<ControlRequest>) -> Response {
    let req: Request = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return Response::error(format!("bad request: {e}")),
    };
    if req.version != VERSION {
        return Response::error(format!(
            "unsupported version {} (this evpnd speaks {VERSION})",
            req.version
        ));
    }
    let (tx, rx) = oneshot::channel();
    if core.send((req.command, tx)).await.is_err() {
        return Response::error("evpnd is shutting down");
    }
    rx.await
        .unwrap_or_else(|_| Response::error("evpnd is shutting down"))
}

async fn client(s: UnixStream, core: mpsc::Sender<ControlRequest>) {
    let (r, mut w) = s.into_split();
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let resp = answer(&line, &core).await;
        let mut text = serde_json::to_string(&resp)
            .unwrap_or_else(|e| format!("{{\"ok\":false,\"error\":\"{e}\"}}"));
        text.push('\n');
        if w.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}
