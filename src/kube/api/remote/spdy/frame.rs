//! SPDY/3.1 frames as bytes: the control frames a stream server meets (SYN_STREAM, SYN_REPLY,
//! RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE) and DATA frames.
//!
//! A control frame is `1 | version(15) | type(16) | flags(8) | length(24) | payload`; a data
//! frame is `0 | stream id(31) | flags(8) | length(24) | payload`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::SpdyError;
use super::headers::{Deflater, Headers, Inflater};

const VERSION: u16 = 3;
const HEADER_LEN: usize = 8;
/// The largest frame accepted; kubectl's frames are a few KiB, the format allows 16 MiB.
const MAX_FRAME: usize = 1 << 24;

pub const FLAG_FIN: u8 = 0x01;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        id: u32,
        fin: bool,
        headers: Headers,
    },
    SynReply {
        id: u32,
        fin: bool,
        headers: Headers,
    },
    RstStream {
        id: u32,
        status: u32,
    },
    Settings(Vec<Setting>),
    Ping(u32),
    GoAway {
        last_good: u32,
        status: u32,
    },
    Headers {
        id: u32,
        fin: bool,
        headers: Headers,
    },
    WindowUpdate {
        id: u32,
        delta: u32,
    },
    Data {
        id: u32,
        fin: bool,
        data: Bytes,
    },
    /// A control frame of a type this side does not know, which SPDY says to ignore.
    Unknown {
        kind: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub flags: u8,
    pub id: u32,
    pub value: u32,
}

/// Cuts frames out of the bytes the peer sends, expanding their header blocks.
pub struct Decoder {
    buf: BytesMut,
    inflater: Inflater,
}

impl Decoder {
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            inflater: Inflater::new(),
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, or `None` until more bytes arrive.
    pub fn next(&mut self) -> Result<Option<Frame>, SpdyError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let head = &self.buf[..HEADER_LEN];
        let length = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
        if length >= MAX_FRAME {
            return Err(SpdyError::Protocol(format!("a frame of {length} bytes")));
        }
        if self.buf.len() < HEADER_LEN + length {
            return Ok(None);
        }
        let mut frame = self.buf.split_to(HEADER_LEN + length).freeze();
        let first = frame.get_u32();
        let flags = frame.get_u8();
        frame.advance(3);
        let fin = flags & FLAG_FIN != 0;
        if first & 0x8000_0000 == 0 {
            return Ok(Some(Frame::Data {
                id: first & 0x7fff_ffff,
                fin,
                data: frame,
            }));
        }
        let version = ((first >> 16) & 0x7fff) as u16;
        if version != VERSION {
            return Err(SpdyError::Protocol(format!(
                "SPDY version {version}; only SPDY/3 is spoken"
            )));
        }
        let kind = (first & 0xffff) as u16;
        let short = || SpdyError::Protocol(format!("a control frame of type {kind} is too short"));
        let need = |frame: &Bytes, n: usize| if frame.len() < n { Err(short()) } else { Ok(()) };
        Ok(Some(match kind {
            SYN_STREAM => {
                need(&frame, 10)?;
                let id = frame.get_u32() & 0x7fff_ffff;
                frame.advance(6); // associated stream, priority, slot
                let headers = self.inflater.block(&frame)?;
                Frame::SynStream { id, fin, headers }
            }
            SYN_REPLY | HEADERS => {
                need(&frame, 4)?;
                let id = frame.get_u32() & 0x7fff_ffff;
                let headers = self.inflater.block(&frame)?;
                if kind == SYN_REPLY {
                    Frame::SynReply { id, fin, headers }
                } else {
                    Frame::Headers { id, fin, headers }
                }
            }
            RST_STREAM => {
                need(&frame, 8)?;
                Frame::RstStream {
                    id: frame.get_u32() & 0x7fff_ffff,
                    status: frame.get_u32(),
                }
            }
            SETTINGS => {
                need(&frame, 4)?;
                let count = frame.get_u32() as usize;
                need(&frame, count.saturating_mul(8))?;
                let settings = (0..count)
                    .map(|_| {
                        let word = frame.get_u32();
                        Setting {
                            flags: (word >> 24) as u8,
                            id: word & 0x00ff_ffff,
                            value: frame.get_u32(),
                        }
                    })
                    .collect();
                Frame::Settings(settings)
            }
            PING => {
                need(&frame, 4)?;
                Frame::Ping(frame.get_u32())
            }
            GOAWAY => {
                need(&frame, 8)?;
                Frame::GoAway {
                    last_good: frame.get_u32() & 0x7fff_ffff,
                    status: frame.get_u32(),
                }
            }
            WINDOW_UPDATE => {
                need(&frame, 8)?;
                Frame::WindowUpdate {
                    id: frame.get_u32() & 0x7fff_ffff,
                    delta: frame.get_u32() & 0x7fff_ffff,
                }
            }
            kind => Frame::Unknown { kind },
        }))
    }
}

/// Writes frames as bytes, compressing their header blocks.
pub struct Encoder {
    deflater: Deflater,
}

impl Encoder {
    pub fn new() -> Self {
        Self {
            deflater: Deflater::new(),
        }
    }

    /// `frame` as bytes, appended to `out`.
    pub fn encode(&mut self, frame: &Frame, out: &mut BytesMut) -> Result<(), SpdyError> {
        let fin_flag = |fin: bool| if fin { FLAG_FIN } else { 0 };
        let mut payload = Vec::new();
        let (kind, flags) = match frame {
            Frame::Data { id, fin, data } => {
                if data.len() >= MAX_FRAME {
                    return Err(SpdyError::Protocol("a data frame of 16 MiB or more".into()));
                }
                out.put_u32(id & 0x7fff_ffff);
                out.put_u32((u32::from(fin_flag(*fin)) << 24) | data.len() as u32);
                out.extend_from_slice(data);
                return Ok(());
            }
            Frame::SynStream { id, fin, headers } => {
                payload.extend_from_slice(&(id & 0x7fff_ffff).to_be_bytes());
                payload.extend_from_slice(&[0; 6]);
                self.deflater.block(headers, &mut payload)?;
                (SYN_STREAM, fin_flag(*fin))
            }
            Frame::SynReply { id, fin, headers } | Frame::Headers { id, fin, headers } => {
                payload.extend_from_slice(&(id & 0x7fff_ffff).to_be_bytes());
                self.deflater.block(headers, &mut payload)?;
                let kind = if matches!(frame, Frame::SynReply { .. }) {
                    SYN_REPLY
                } else {
                    HEADERS
                };
                (kind, fin_flag(*fin))
            }
            Frame::RstStream { id, status } => {
                payload.extend_from_slice(&(id & 0x7fff_ffff).to_be_bytes());
                payload.extend_from_slice(&status.to_be_bytes());
                (RST_STREAM, 0)
            }
            Frame::Settings(settings) => {
                payload.extend_from_slice(&(settings.len() as u32).to_be_bytes());
                for s in settings {
                    let word = (u32::from(s.flags) << 24) | (s.id & 0x00ff_ffff);
                    payload.extend_from_slice(&word.to_be_bytes());
                    payload.extend_from_slice(&s.value.to_be_bytes());
                }
                (SETTINGS, 0)
            }
            Frame::Ping(id) => {
                payload.extend_from_slice(&id.to_be_bytes());
                (PING, 0)
            }
            Frame::GoAway { last_good, status } => {
                payload.extend_from_slice(&(last_good & 0x7fff_ffff).to_be_bytes());
                payload.extend_from_slice(&status.to_be_bytes());
                (GOAWAY, 0)
            }
            Frame::WindowUpdate { id, delta } => {
                payload.extend_from_slice(&(id & 0x7fff_ffff).to_be_bytes());
                payload.extend_from_slice(&(delta & 0x7fff_ffff).to_be_bytes());
                (WINDOW_UPDATE, 0)
            }
            Frame::Unknown { kind } => {
                return Err(SpdyError::Protocol(format!(
                    "cannot send a control frame of unknown type {kind}"
                )));
            }
        };
        out.put_u32(0x8000_0000 | (u32::from(VERSION) << 16) | u32::from(kind));
        out.put_u32((u32::from(flags) << 24) | payload.len() as u32);
        out.extend_from_slice(&payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn round_trip(frames: &[Frame]) -> Vec<Frame> {
        let mut encoder = Encoder::new();
        let mut bytes = BytesMut::new();
        for f in frames {
            encoder.encode(f, &mut bytes).unwrap();
        }
        // Fed one byte at a time, as a slow connection might deliver them.
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        for b in bytes.iter() {
            decoder.push(&[*b]);
            while let Some(f) = decoder.next().unwrap() {
                out.push(f);
            }
        }
        out
    }

    #[test]
    fn every_frame_type_reads_back_as_written() {
        let frames = vec![
            Frame::SynStream {
                id: 1,
                fin: false,
                headers: h(&[("streamtype", "error"), ("port", "80"), ("requestid", "0")]),
            },
            Frame::SynStream {
                id: 3,
                fin: true,
                headers: h(&[("streamtype", "data"), ("port", "80"), ("requestid", "0")]),
            },
            Frame::SynReply {
                id: 1,
                fin: false,
                headers: h(&[]),
            },
            Frame::Headers {
                id: 1,
                fin: true,
                headers: h(&[("x", "y")]),
            },
            Frame::RstStream { id: 3, status: 5 },
            Frame::Settings(vec![Setting {
                flags: 1,
                id: 7,
                value: 65536,
            }]),
            Frame::Ping(7),
            Frame::GoAway {
                last_good: 3,
                status: 0,
            },
            Frame::WindowUpdate { id: 1, delta: 4096 },
            Frame::Data {
                id: 3,
                fin: false,
                data: Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"),
            },
            Frame::Data {
                id: 3,
                fin: true,
                data: Bytes::new(),
            },
        ];
        assert_eq!(round_trip(&frames), frames);
    }

    #[test]
    fn known_bytes_decode() {
        // PING id 1 and an empty DATA frame with FIN on stream 5, as the format defines them.
        let mut decoder = Decoder::new();
        decoder.push(&[0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1]);
        decoder.push(&[0, 0, 0, 5, 0x01, 0, 0, 0]);
        assert_eq!(decoder.next().unwrap(), Some(Frame::Ping(1)));
        assert_eq!(
            decoder.next().unwrap(),
            Some(Frame::Data {
                id: 5,
                fin: true,
                data: Bytes::new()
            })
        );
        assert_eq!(decoder.next().unwrap(), None);
    }

    #[test]
    fn unknown_control_frames_are_skipped_and_other_versions_refused() {
        let mut decoder = Decoder::new();
        decoder.push(&[0x80, 0x03, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x02, 9, 9]);
        assert_eq!(decoder.next().unwrap(), Some(Frame::Unknown { kind: 10 }));
        decoder.push(&[0x80, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1]);
        assert!(decoder.next().is_err());
    }

    #[test]
    fn a_short_control_frame_is_an_error_not_a_panic() {
        let mut decoder = Decoder::new();
        decoder.push(&[0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0, 1]);
        assert!(decoder.next().is_err());
    }
}
