//! A framed, typed, non-blocking channel over one end of a Unix socketpair.
//!
//! Reading never blocks: [`Channel::receive`] drains what the socket has (up to a bound per
//! call, so one chatty peer cannot starve the loop) and returns whole messages. Writing never
//! blocks: [`Channel::send`] queues the frame and writes what the socket accepts; the rest is
//! written by [`Channel::flush`] when the socket is writable again. The queue is bounded in
//! bytes; a peer that stops reading fills it and the send fails with
//! [`ChannelError::QueueFull`] (the caller treats the peer as hung).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::frame::{FrameError, FrameReader, encode};

/// The default bound of the outbound queue: 4 MiB (a whole configuration fits).
pub const DEFAULT_QUEUE_LIMIT: usize = 4 << 20;

/// Bytes read per [`Channel::receive`] call at most.
const READ_BUDGET: usize = 256 << 10;

/// Why a channel stopped.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The peer sent a frame that is too long, empty or undecodable.
    #[error("protocol error: {0}")]
    Frame(#[from] FrameError),
    /// The peer closed its end.
    #[error("connection closed by the peer")]
    Closed,
    /// The outbound queue is full: the peer is not reading.
    #[error("outbound queue full ({queued} bytes queued): the peer is not reading")]
    QueueFull {
        /// Bytes already queued.
        queued: usize,
    },
    /// A blocking receive ran out of time.
    #[error("no message within {0:?}")]
    Timeout(Duration),
    /// The socket failed.
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
}

/// One end of a typed channel: receives `In`, sends `Out`.
#[derive(Debug)]
pub struct Channel<In, Out> {
    stream: UnixStream,
    reader: FrameReader,
    queue: VecDeque<Vec<u8>>,
    /// Bytes of the front frame already written.
    written: usize,
    queued: usize,
    limit: usize,
    _types: PhantomData<fn(In) -> Out>,
}

impl<In: DeserializeOwned, Out: Serialize> Channel<In, Out> {
    /// Wraps a connected stream, switching it to non-blocking mode.
    pub fn new(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Channel {
            stream,
            reader: FrameReader::new(),
            queue: VecDeque::new(),
            written: 0,
            queued: 0,
            limit: DEFAULT_QUEUE_LIMIT,
            _types: PhantomData,
        })
    }

    /// Sets the bound of the outbound queue, in bytes.
    pub fn with_queue_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Queues one message and writes as much as the socket takes now.
    pub fn send(&mut self, msg: &Out) -> Result<(), ChannelError> {
        let frame = encode(msg)?;
        if self.queued + frame.len() > self.limit {
            return Err(ChannelError::QueueFull {
                queued: self.queued,
            });
        }
        self.queued += frame.len();
        self.queue.push_back(frame);
        self.flush()?;
        Ok(())
    }

    /// Writes queued bytes until the socket would block. Returns true when the queue is
    /// empty.
    pub fn flush(&mut self) -> Result<bool, ChannelError> {
        while let Some(front) = self.queue.front() {
            match self.stream.write(&front[self.written..]) {
                Ok(0) => return Err(ChannelError::Closed),
                Ok(n) => {
                    self.written += n;
                    if self.written == front.len() {
                        self.queued -= front.len();
                        self.queue.pop_front();
                        self.written = 0;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    return Err(ChannelError::Closed);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    /// True while queued bytes wait for the socket to become writable.
    pub fn wants_write(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Bytes waiting in the outbound queue.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Reads what the socket has (up to a budget) and returns the whole messages received.
    /// End of file is [`ChannelError::Closed`] once the messages before it were returned.
    pub fn receive(&mut self) -> Result<Vec<In>, ChannelError> {
        let mut out = Vec::new();
        let mut buf = [0u8; 16 << 10];
        let mut budget = READ_BUDGET;
        let mut closed = false;
        while budget > 0 {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    self.reader.push(&buf[..n])?;
                    while let Some(m) = self.reader.take::<In>()? {
                        out.push(m);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    closed = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if closed && out.is_empty() {
            return Err(ChannelError::Closed);
        }
        Ok(out)
    }

    /// Waits (blocking, with poll) for at least one message, at most `timeout`. Used by the
    /// children during the handshake, before their event loop exists, and by tests.
    pub fn receive_blocking(&mut self, timeout: Duration) -> Result<Vec<In>, ChannelError> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.receive()?;
            if !got.is_empty() {
                return Ok(got);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ChannelError::Timeout(timeout));
            }
            wait_fd(self.stream.as_fd(), false, left)?;
        }
    }

    /// Sends and flushes, waiting (at most `timeout`) for the socket to take everything.
    pub fn send_blocking(&mut self, msg: &Out, timeout: Duration) -> Result<(), ChannelError> {
        let deadline = Instant::now() + timeout;
        self.send(msg)?;
        while !self.flush()? {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ChannelError::Timeout(timeout));
            }
            wait_fd(self.stream.as_fd(), true, left)?;
        }
        Ok(())
    }

    /// The socket, for registration with an event loop.
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }
}

impl<In, Out> AsRawFd for Channel<In, Out> {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

/// Waits until one descriptor is readable (or writable), at most `left`.
fn wait_fd(fd: BorrowedFd<'_>, write: bool, left: Duration) -> io::Result<()> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let flags = if write {
        PollFlags::POLLOUT
    } else {
        PollFlags::POLLIN
    };
    let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
    match poll(&mut [PollFd::new(fd, flags)], PollTimeout::from(ms)) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::MAX_FRAME;

    #[test]
    fn messages_cross_in_order_and_eof_is_closed() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut tx: Channel<u8, String> = Channel::new(a).unwrap();
        let mut rx: Channel<String, u8> = Channel::new(b).unwrap();
        for i in 0..100 {
            tx.send(&format!("m{i}")).unwrap();
        }
        let mut got = Vec::new();
        while got.len() < 100 {
            got.extend(rx.receive_blocking(Duration::from_secs(5)).unwrap());
            tx.flush().unwrap();
        }
        assert_eq!(got[0], "m0");
        assert_eq!(got[99], "m99");
        drop(tx);
        assert!(matches!(rx.receive(), Err(ChannelError::Closed)));
    }

    #[test]
    fn a_peer_that_does_not_read_fills_a_bounded_queue() {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut tx: Channel<u8, Vec<u8>> = Channel::new(a).unwrap().with_queue_limit(1 << 20);
        let big = vec![7u8; 64 << 10];
        let mut sent = 0;
        let err = loop {
            match tx.send(&big) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 1000, "the queue never filled");
        };
        assert!(matches!(err, ChannelError::QueueFull { .. }));
        assert!(tx.queued() <= 1 << 20);
    }

    #[test]
    fn garbage_from_the_peer_is_a_protocol_error() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut rx: Channel<String, u8> = Channel::new(a).unwrap();
        b.write_all(&((MAX_FRAME as u32) + 1).to_le_bytes())
            .unwrap();
        assert!(matches!(
            rx.receive(),
            Err(ChannelError::Frame(FrameError::TooLong { .. }))
        ));
    }
}
