//! An upgraded connection as two channels: what the client sends (each WebSocket message, or
//! each chunk read from a raw upgrade) and what to send it. A closed outbound channel closes the
//! connection (a normal WebSocket close); a connection the client closed ends the inbound one.
//!
//! One task per connection does both directions, so that a reader that falls behind stops the
//! client's bytes without stopping the replies that would let the reader catch up.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// How many messages may wait in each direction.
const QUEUE: usize = 64;
/// The largest chunk read from a raw connection.
const CHUNK: usize = 32 * 1024;

pub struct Channels {
    pub inbound: mpsc::Receiver<Bytes>,
    pub outbound: mpsc::Sender<Bytes>,
}

/// Binary messages over a WebSocket; text messages are taken as bytes too.
pub fn websocket(mut socket: WebSocket) -> Channels {
    let (in_tx, in_rx) = mpsc::channel::<Bytes>(QUEUE);
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(QUEUE);
    tokio::spawn(async move {
        let mut pending: Option<Bytes> = None;
        let mut reading = true;
        loop {
            tokio::select! {
                message = socket.recv(), if reading && pending.is_none() => match message {
                    Some(Ok(Message::Binary(b))) => pending = Some(b),
                    Some(Ok(Message::Text(t))) => pending = Some(Bytes::copy_from_slice(t.as_str().as_bytes())),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => reading = false,
                },
                permit = in_tx.reserve(), if pending.is_some() => match permit {
                    Ok(permit) => permit.send(pending.take().unwrap_or_default()),
                    Err(_) => pending = None,
                },
                chunk = out_rx.recv() => match chunk {
                    Some(chunk) => {
                        if socket.send(Message::Binary(chunk)).await.is_err() {
                            break;
                        }
                    }
                    None => {
                        let close = CloseFrame { code: 1000, reason: "".into() };
                        let _ = socket.send(Message::Close(Some(close))).await;
                        break;
                    }
                },
            }
            if !reading && pending.is_none() {
                // Dropping the sender tells the reader the client is done; replies still go out.
                drain_outbound(&mut socket, &mut out_rx, in_tx).await;
                break;
            }
        }
    });
    Channels {
        inbound: in_rx,
        outbound: out_tx,
    }
}

/// After the client's side ended: sends what is still to be sent, then closes.
async fn drain_outbound(
    socket: &mut WebSocket,
    out_rx: &mut mpsc::Receiver<Bytes>,
    in_tx: mpsc::Sender<Bytes>,
) {
    drop(in_tx);
    while let Some(chunk) = out_rx.recv().await {
        if socket.send(Message::Binary(chunk)).await.is_err() {
            return;
        }
    }
    let close = CloseFrame {
        code: 1000,
        reason: "".into(),
    };
    let _ = socket.send(Message::Close(Some(close))).await;
}

/// Bytes over a raw upgraded connection (a SPDY upgrade).
pub fn raw<T>(io: T) -> Channels
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (in_tx, in_rx) = mpsc::channel::<Bytes>(QUEUE);
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(QUEUE);
    let (mut reader, mut writer) = tokio::io::split(io);
    tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if in_tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        while let Some(chunk) = out_rx.recv().await {
            if writer.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = writer.shutdown().await;
    });
    Channels {
        inbound: in_rx,
        outbound: out_tx,
    }
}
