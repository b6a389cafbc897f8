//! The server side of a SPDY/3.1 connection, as kubectl's port-forward speaks it (directly
//! after an HTTP upgrade, or tunnelled in WebSocket messages): the client opens streams, this
//! side accepts each one with a SYN_REPLY, carries DATA both ways, answers PINGs, and stops at
//! a GOAWAY. Flow control is not enforced in either direction, as kubectl's own SPDY library
//! (spdystream) neither enforces it nor sends WINDOW_UPDATEs.

mod dictionary;
pub mod frame;
pub mod headers;

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, watch};

use frame::{Decoder, Encoder, Frame};
use headers::Headers;

use super::transport::Channels;
use crate::kube::daemon::DaemonLog;

#[derive(Debug, thiserror::Error)]
pub enum SpdyError {
    #[error("SPDY protocol error: {0}")]
    Protocol(String),
}

/// How many DATA frames of one stream may wait for its reader.
const STREAM_QUEUE: usize = 64;
/// The largest DATA frame sent.
pub const MAX_DATA: usize = 32 * 1024;

/// A stream the client opened.
pub struct Stream {
    pub headers: Headers,
    /// The stream's data from the client; ends at its FIN, a reset or the connection's end.
    pub data: mpsc::Receiver<Bytes>,
    /// Becomes true when the client resets the stream or the connection ends.
    pub reset: watch::Receiver<bool>,
    pub writer: StreamWriter,
}

/// Sends on one stream.
#[derive(Clone)]
pub struct StreamWriter {
    id: u32,
    frames: mpsc::Sender<Frame>,
}

impl StreamWriter {
    /// Sends `data` in frames of at most [`MAX_DATA`] bytes; false once the connection is gone.
    pub async fn send(&self, mut data: Bytes) -> bool {
        while !data.is_empty() {
            let part = data.split_to(data.len().min(MAX_DATA));
            let frame = Frame::Data {
                id: self.id,
                fin: false,
                data: part,
            };
            if self.frames.send(frame).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Ends this side of the stream (an empty DATA frame with FIN).
    pub async fn finish(&self) {
        let _ = self
            .frames
            .send(Frame::Data {
                id: self.id,
                fin: true,
                data: Bytes::new(),
            })
            .await;
    }
}

/// The streams the client opens on `channels`, accepted, in order. The connection closes once
/// the client's side has ended and every [`StreamWriter`] is gone.
pub fn serve(channels: Channels, log: DaemonLog) -> mpsc::Receiver<Stream> {
    let Channels {
        mut inbound,
        outbound,
    } = channels;
    let (frames_tx, mut frames_rx) = mpsc::channel::<Frame>(STREAM_QUEUE);
    let (streams_tx, streams_rx) = mpsc::channel::<Stream>(STREAM_QUEUE);

    let writer_log = log.clone();
    tokio::spawn(async move {
        let log = writer_log;
        let mut encoder = Encoder::new();
        while let Some(frame) = frames_rx.recv().await {
            let mut bytes = BytesMut::new();
            if let Err(e) = encoder.encode(&frame, &mut bytes) {
                log.line(&format!("port-forward: {e}"));
                return;
            }
            if outbound.send(bytes.freeze()).await.is_err() {
                return;
            }
        }
    });

    tokio::spawn(async move {
        let mut decoder = Decoder::new();
        // Streams whose client side is still open, and streams that may still be reset.
        let mut open: HashMap<u32, mpsc::Sender<Bytes>> = HashMap::new();
        let mut resets: HashMap<u32, watch::Sender<bool>> = HashMap::new();
        'connection: while let Some(chunk) = inbound.recv().await {
            decoder.push(&chunk);
            loop {
                let frame = match decoder.next() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(e) => {
                        log.line(&format!("port-forward: {e}; closing the connection"));
                        let last_good = resets.keys().copied().max().unwrap_or(0);
                        let _ = frames_tx.send(Frame::GoAway { last_good, status: 1 }).await;
                        break 'connection;
                    }
                };
                match frame {
                    Frame::SynStream { id, fin, headers } => {
                        let reply = Frame::SynReply {
                            id,
                            fin: false,
                            headers: Vec::new(),
                        };
                        if frames_tx.send(reply).await.is_err() {
                            break 'connection;
                        }
                        let (data_tx, data_rx) = mpsc::channel(STREAM_QUEUE);
                        let (reset_tx, reset_rx) = watch::channel(false);
                        if !fin {
                            open.insert(id, data_tx);
                        }
                        resets.retain(|_, r| !r.is_closed());
                        resets.insert(id, reset_tx);
                        let stream = Stream {
                            headers,
                            data: data_rx,
                            reset: reset_rx,
                            writer: StreamWriter {
                                id,
                                frames: frames_tx.clone(),
                            },
                        };
                        if streams_tx.send(stream).await.is_err() {
                            break 'connection;
                        }
                    }
                    Frame::Data { id, fin, data } => {
                        if let Some(tx) = open.get(&id)
                            && !data.is_empty()
                            && tx.send(data).await.is_err()
                        {
                            // The reader is gone; what it would have read goes nowhere.
                        }
                        if fin {
                            open.remove(&id);
                        }
                    }
                    Frame::RstStream { id, .. } => {
                        open.remove(&id);
                        if let Some(reset) = resets.remove(&id) {
                            let _ = reset.send(true);
                        }
                    }
                    Frame::Ping(id) => {
                        if frames_tx.send(Frame::Ping(id)).await.is_err() {
                            break 'connection;
                        }
                    }
                    Frame::GoAway { .. } => break 'connection,
                    Frame::SynReply { .. }
                    | Frame::Headers { .. }
                    | Frame::Settings(_)
                    | Frame::WindowUpdate { .. }
                    | Frame::Unknown { .. } => {}
                }
            }
        }
        drop(open);
        for (_, reset) in resets.drain() {
            let _ = reset.send(true);
        }
    });
    streams_rx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session on channels the test plays the client's side of.
    struct Client {
        to_server: mpsc::Sender<Bytes>,
        from_server: mpsc::Receiver<Bytes>,
        encoder: Encoder,
        decoder: Decoder,
        streams: mpsc::Receiver<Stream>,
        _home: tempfile::TempDir,
    }

    impl Client {
        fn start() -> Self {
            let home = tempfile::tempdir().unwrap();
            let log = DaemonLog::open(&crate::layout::Layout::new(home.path())).unwrap();
            let (to_server, inbound) = mpsc::channel(16);
            let (outbound, from_server) = mpsc::channel(16);
            let streams = serve(Channels { inbound, outbound }, log);
            Self {
                to_server,
                from_server,
                encoder: Encoder::new(),
                decoder: Decoder::new(),
                streams,
                _home: home,
            }
        }

        async fn send(&mut self, frame: Frame) {
            let mut bytes = BytesMut::new();
            self.encoder.encode(&frame, &mut bytes).unwrap();
            self.to_server.send(bytes.freeze()).await.unwrap();
        }

        async fn next(&mut self) -> Frame {
            loop {
                if let Some(frame) = self.decoder.next().unwrap() {
                    return frame;
                }
                let chunk = self.from_server.recv().await.expect("the server's next frame");
                self.decoder.push(&chunk);
            }
        }
    }

    fn syn(id: u32, kind: &str) -> Frame {
        Frame::SynStream {
            id,
            fin: false,
            headers: vec![
                ("streamtype".into(), kind.into()),
                ("port".into(), "80".into()),
                ("requestid".into(), "0".into()),
            ],
        }
    }

    #[tokio::test]
    async fn streams_are_accepted_and_carry_data_both_ways_and_pings_are_answered() {
        let mut client = Client::start();
        client.send(syn(1, "data")).await;
        assert!(matches!(client.next().await, Frame::SynReply { id: 1, .. }));
        let mut stream = client.streams.recv().await.unwrap();
        assert_eq!(headers::get(&stream.headers, "streamtype"), Some("data"));

        client
            .send(Frame::Data {
                id: 1,
                fin: true,
                data: Bytes::from_static(b"ping?"),
            })
            .await;
        assert_eq!(stream.data.recv().await.unwrap(), Bytes::from_static(b"ping?"));
        assert_eq!(stream.data.recv().await, None, "FIN ends the client's side");

        stream.writer.send(Bytes::from(vec![7u8; MAX_DATA + 1])).await;
        stream.writer.finish().await;
        let sizes = [client.next().await, client.next().await, client.next().await];
        match &sizes {
            [
                Frame::Data {
                    data: a, fin: false, ..
                },
                Frame::Data {
                    data: b, fin: false, ..
                },
                Frame::Data {
                    data: c, fin: true, ..
                },
            ] => assert_eq!((a.len(), b.len(), c.len()), (MAX_DATA, 1, 0)),
            other => panic!("not two data frames and a FIN: {other:?}"),
        }

        client.send(Frame::Ping(3)).await;
        assert_eq!(client.next().await, Frame::Ping(3));
    }

    #[tokio::test]
    async fn a_reset_or_the_end_of_the_connection_tells_the_stream() {
        let mut client = Client::start();
        client.send(syn(1, "error")).await;
        client.send(syn(3, "data")).await;
        let mut first = client.streams.recv().await.unwrap();
        let mut second = client.streams.recv().await.unwrap();
        client.send(Frame::RstStream { id: 3, status: 5 }).await;
        second.reset.wait_for(|r| *r).await.unwrap();
        assert_eq!(second.data.recv().await, None);
        assert!(!*first.reset.borrow());
        drop(client.to_server);
        first.reset.wait_for(|r| *r).await.unwrap();
    }
}
