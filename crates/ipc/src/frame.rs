//! Framing: a little-endian `u32` length, then that many bytes of postcard.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 length N (u32, little endian)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |              N bytes: one postcard-encoded message            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The length is checked against [`MAX_FRAME`] before a byte of the body is buffered, so a
//! peer cannot make the receiver allocate more than the cap. A zero length is an error too
//! (no message encodes to nothing).

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest body a frame may carry: 1 MiB. The configuration travels one object per
/// message, so even a real server with a large certificate fits many times over.
pub const MAX_FRAME: usize = 1 << 20;

/// Bytes of the length prefix.
pub const PREFIX: usize = 4;

/// What can be wrong with a frame. Every one ends the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The announced length is above [`MAX_FRAME`] (checked before buffering).
    #[error("frame of {len} bytes announced, the limit is {MAX_FRAME}")]
    TooLong {
        /// The announced length.
        len: usize,
    },
    /// A frame of length zero.
    #[error("empty frame")]
    Empty,
    /// The body is not a valid message of the expected type.
    #[error("undecodable frame of {len} bytes: {reason}")]
    Undecodable {
        /// The body length.
        len: usize,
        /// postcard's reason.
        reason: String,
    },
    /// A message could not be encoded (a bug, or a message above the cap).
    #[error("cannot encode message: {0}")]
    Encode(String),
}

/// Encodes one message as a frame (prefix and body).
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = postcard::to_extend(msg, vec![0u8; PREFIX])
        .map_err(|e| FrameError::Encode(e.to_string()))?;
    let len = out.len() - PREFIX;
    if len > MAX_FRAME {
        return Err(FrameError::Encode(format!(
            "message of {len} bytes is above the frame limit of {MAX_FRAME}"
        )));
    }
    out[..PREFIX].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(out)
}

/// Reassembles frames from a byte stream: feed it what `read` returned, then take messages
/// with [`FrameReader::take`] until it returns `Ok(None)`.
///
/// Sans-IO: it never reads or blocks. Every length prefix is checked as soon as its four
/// bytes are in, before the body is kept, so the buffer never holds more than the complete
/// frames of the last push plus one incomplete frame of at most [`MAX_FRAME`] bytes. After an
/// error it stays failed (the caller drops the connection).
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    /// Start of the first unconsumed frame in `buf`.
    start: usize,
    failed: Option<FrameError>,
}

impl FrameReader {
    /// A reader with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes buffered and not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Appends bytes read from the stream and checks every length prefix that is now
    /// complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        // Walk the frames from `start`, copying only bytes that belong to frames whose
        // prefix has been checked.
        let mut pos = self.start;
        let mut rest = bytes;
        loop {
            let have = self.buf.len() - pos;
            if have < PREFIX {
                let take = (PREFIX - have).min(rest.len());
                self.buf.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if self.buf.len() - pos < PREFIX {
                    return Ok(());
                }
            }
            let len = match check_len(&self.buf[pos..pos + PREFIX]) {
                Ok(len) => len,
                Err(e) => {
                    self.failed = Some(e.clone());
                    return Err(e);
                }
            };
            let have = self.buf.len() - pos;
            let need = PREFIX + len - have.min(PREFIX + len);
            let take = need.min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() - pos < PREFIX + len {
                return Ok(());
            }
            pos += PREFIX + len;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// Takes the next complete message, if one is buffered. A body that does not decode as
    /// `T` fails the reader.
    pub fn take<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let have = &self.buf[self.start..];
        if have.len() < PREFIX {
            return Ok(None);
        }
        let len = check_len(&have[..PREFIX])?;
        if have.len() < PREFIX + len {
            return Ok(None);
        }
        let body = &have[PREFIX..PREFIX + len];
        let decoded = match postcard::take_from_bytes::<T>(body) {
            Ok((msg, [])) => Ok(msg),
            Ok((_, rest)) => Err(format!("{} trailing bytes", rest.len())),
            Err(e) => Err(e.to_string()),
        };
        match decoded {
            Ok(msg) => {
                self.start += PREFIX + len;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                Ok(Some(msg))
            }
            Err(reason) => {
                let err = FrameError::Undecodable { len, reason };
                self.failed = Some(err.clone());
                Err(err)
            }
        }
    }
}

fn check_len(prefix: &[u8]) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if len == 0 {
        Err(FrameError::Empty)
    } else if len > MAX_FRAME {
        Err(FrameError::TooLong { len })
    } else {
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Msg {
        A(u32),
        B(String),
        C { x: Vec<u8> },
    }

    #[test]
    fn frames_split_anywhere_come_out_whole() {
        let msgs = [
            Msg::A(7),
            Msg::B("hello".into()),
            Msg::C { x: vec![1; 300] },
        ];
        let mut wire = Vec::new();
        for m in &msgs {
            wire.extend(encode(m).unwrap());
        }
        for chunk in 1..wire.len() {
            let mut r = FrameReader::new();
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                r.push(piece).unwrap();
                while let Some(m) = r.take::<Msg>().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got, msgs, "chunk size {chunk}");
            assert_eq!(r.buffered(), 0);
        }
    }

    #[test]
    fn an_oversized_prefix_fails_before_the_body_is_buffered() {
        let mut r = FrameReader::new();
        let mut bytes = ((MAX_FRAME + 1) as u32).to_le_bytes().to_vec();
        bytes.extend(vec![0u8; 1000]);
        assert_eq!(
            r.push(&bytes),
            Err(FrameError::TooLong { len: MAX_FRAME + 1 })
        );
        assert!(r.buffered() <= PREFIX, "body bytes were kept");
        // The reader stays failed.
        assert!(r.push(&[1]).is_err());
        assert!(r.take::<Msg>().is_err());
    }

    #[test]
    fn a_second_frame_with_a_bad_prefix_is_seen_in_the_same_push() {
        let mut wire = encode(&Msg::A(1)).unwrap();
        wire.extend(u32::MAX.to_le_bytes());
        let mut r = FrameReader::new();
        assert!(matches!(r.push(&wire), Err(FrameError::TooLong { .. })));
    }

    #[test]
    fn empty_and_undecodable_frames_are_errors() {
        let mut r = FrameReader::new();
        assert_eq!(r.push(&[0, 0, 0, 0]), Err(FrameError::Empty));
        let mut r = FrameReader::new();
        // Variant index 9 does not exist.
        r.push(&[1, 0, 0, 0, 9]).unwrap();
        assert!(matches!(
            r.take::<Msg>(),
            Err(FrameError::Undecodable { len: 1, .. })
        ));
        // Trailing bytes inside a frame are refused too.
        let mut body = postcard::to_allocvec(&Msg::A(1)).unwrap();
        body.push(0);
        let mut frame = (body.len() as u32).to_le_bytes().to_vec();
        frame.extend(body);
        let mut r = FrameReader::new();
        r.push(&frame).unwrap();
        assert!(r.take::<Msg>().is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..32)
        ) {
            let mut r = FrameReader::new();
            for c in &chunks {
                if r.push(c).is_err() { break; }
                while let Ok(Some(_)) = r.take::<Msg>() {}
                prop_assert!(r.buffered() <= PREFIX + MAX_FRAME + 64);
            }
        }

        #[test]
        fn round_trip(n in any::<u32>(), s in ".{0,40}", x in proptest::collection::vec(any::<u8>(), 0..200)) {
            let msgs = vec![Msg::A(n), Msg::B(s), Msg::C { x }];
            let mut r = FrameReader::new();
            for m in &msgs { r.push(&encode(m).unwrap()).unwrap(); }
            let mut got = Vec::new();
            while let Some(m) = r.take::<Msg>().unwrap() { got.push(m); }
            prop_assert_eq!(got, msgs);
        }
    }
}
