//! Milter sockets watched for input only.
//!
//! tokio registers its sockets for input and output, edge-triggered. On a unix socket
//! the kernel then signals output readiness each time the MTA reads one of Palisade's
//! replies (room frees up in the send buffer), and that wake-up carries no work: behind
//! Postfix, one after the option negotiation of each connection and one after each end
//! of message (counted with strace in docs/performance.md). These sockets are
//! registered for input only. Replies are small and are sent straight away; only when
//! the send buffer is full does a write wait, on a second registration for output made
//! the first time it is needed.

use std::io::{self, Read};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use socket2::{SockAddr, Socket};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncWrite, Interest};

/// A listening milter socket (TCP or unix).
pub(crate) struct MilterListener {
    fd: AsyncFd<Socket>,
    tcp: bool,
}

impl MilterListener {
    /// Watches a bound, listening socket. `tcp` turns on the per-connection TCP options.
    pub(crate) fn new(socket: Socket, tcp: bool) -> io::Result<MilterListener> {
        socket.set_nonblocking(true)?;
        Ok(MilterListener {
            fd: watch(socket, Interest::READABLE)?,
            tcp,
        })
    }

    /// The next connection and its peer's address.
    pub(crate) async fn accept(&self) -> io::Result<(MilterStream, SockAddr)> {
        let (socket, peer) = self
            .fd
            .async_io(Interest::READABLE, |s| {
                s.accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            })
            .await?;
        if self.tcp {
            // Postfix sets no TCP_NODELAY on its side; without these, delayed ACKs add
            // ~40 ms per message on loopback (see notes/milter-protocol.md).
            let _ = socket.set_tcp_nodelay(true);
            let _ = socket.set_tcp_quickack(true);
        }
        Ok((MilterStream::new(socket, self.tcp)?, peer))
    }

    /// The address it listens on.
    pub(crate) fn local_addr(&self) -> io::Result<SockAddr> {
        self.fd.get_ref().local_addr()
    }
}

/// One milter connection.
pub(crate) struct MilterStream {
    fd: AsyncFd<Socket>,
    /// A second registration, for output, made the first time the send buffer is full.
    waiter: Option<AsyncFd<Socket>>,
    tcp: bool,
}

impl MilterStream {
    /// Watches a connected, non-blocking socket for input.
    pub(crate) fn new(socket: Socket, tcp: bool) -> io::Result<MilterStream> {
        Ok(MilterStream {
            fd: watch(socket, Interest::READABLE)?,
            waiter: None,
            tcp,
        })
    }

    /// Reads what has arrived into `buf`'s spare room; 0 means the peer closed.
    pub(crate) async fn read_into(&self, buf: &mut InBuf, want: usize) -> io::Result<usize> {
        let room = buf.room(want);
        let len = room.len();
        loop {
            let mut ready = self.fd.readable().await?;
            let read = ready.try_io(|fd| {
                let mut s: &Socket = fd.get_ref();
                s.read(&mut *room)
            });
            match read {
                Ok(Ok(n)) => {
                    // Less than asked for means the socket is drained (as tokio's own
                    // streams assume on Linux): wait for the next event instead of
                    // spending a read to learn it. A close already seen stays seen.
                    if n > 0 && n < len {
                        ready.clear_ready();
                    }
                    buf.filled += n;
                    return Ok(n);
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
                // Nothing there after all: try_io cleared the readiness; wait again.
                Err(_would_block) => continue,
            }
        }
    }

    /// Acknowledges what was read at once (TCP): the MTA's next small write would
    /// otherwise wait for a delayed ACK. Nothing to do on a unix socket.
    pub(crate) fn quickack(&self) {
        if self.tcp {
            let _ = self.fd.get_ref().set_tcp_quickack(true);
        }
    }
}

/// Registers a socket with the runtime for these events only.
///
/// tokio 1.54 deprecated its safe `AsyncFd` constructors: for an arbitrary `T`, nothing
/// guarantees that `as_raw_fd()` keeps naming the same open descriptor while the
/// `AsyncFd` lives. A `socket2::Socket` owns its descriptor, always returns that one,
/// and closes it only when it is dropped, which happens when the `AsyncFd` holding it is
/// dropped (after deregistering). The condition holds for every socket passed here.
#[allow(deprecated)]
fn watch(socket: Socket, interest: Interest) -> io::Result<AsyncFd<Socket>> {
    AsyncFd::with_interest(socket, interest)
}

/// One non-blocking send; a peer that has gone gets EPIPE, never SIGPIPE.
fn send(socket: &Socket, data: &[u8]) -> io::Result<usize> {
    socket.send_with_flags(data, libc::MSG_NOSIGNAL)
}

impl AsyncWrite for MilterStream {
    /// Sends at once; only when the send buffer is full does it wait, on the second
    /// registration (made then, kept for the connection's life). The server bounds
    /// the whole write with `milter.idle_timeout`.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match send(this.fd.get_ref(), data) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return Poll::Ready(other),
            }
            let waiter = match &mut this.waiter {
                Some(w) => w,
                None => this
                    .waiter
                    .insert(watch(this.fd.get_ref().try_clone()?, Interest::WRITABLE)?),
            };
            let mut ready = ready!(waiter.poll_write_ready(cx))?;
            if let Ok(sent) = ready.try_io(|fd| send(fd.get_ref(), data)) {
                return Poll::Ready(sent);
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Nothing is buffered here: every write went to the socket.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.fd.get_ref().shutdown(std::net::Shutdown::Write))
    }
}

/// Bytes read from the MTA and not yet taken as packets. Its storage stays initialised
/// once grown, so a read goes straight into it and nothing is zeroed twice.
#[derive(Default)]
pub(crate) struct InBuf {
    data: Vec<u8>,
    filled: usize,
}

impl InBuf {
    /// The bytes read and not yet consumed.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[..self.filled]
    }

    /// Drops the first `n` bytes (packets handled).
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.filled);
        if n == 0 {
            // A packet still arriving: nothing moves (what is kept is at most the rest
            // of one packet, moved once when the packet before it is taken).
            return;
        }
        self.data.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    /// Gives back a large buffer once it is empty, so idle connections stay small.
    pub(crate) fn shrink_when_empty(&mut self, limit: usize) {
        if self.filled == 0 && self.data.len() > limit {
            self.data = Vec::new();
        }
    }

    /// Room after the filled part, at least `want` bytes.
    fn room(&mut self, want: usize) -> &mut [u8] {
        let need = self.filled + want;
        if self.data.len() < need {
            self.data.resize(need, 0);
        }
        &mut self.data[self.filled..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// A milter stream and the MTA's end of it.
    fn pair() -> (MilterStream, UnixStream) {
        let (ours, mta) = UnixStream::pair().expect("socketpair");
        ours.set_nonblocking(true).expect("non-blocking");
        (
            MilterStream::new(Socket::from(ours), false).expect("register"),
            mta,
        )
    }

    #[tokio::test]
    async fn data_then_close_in_one_burst_reads_the_data_then_end_of_file() {
        let (stream, mut mta) = pair();
        mta.write_all(b"abc").expect("write");
        drop(mta);
        let mut buf = InBuf::default();
        let first = stream.read_into(&mut buf, 4096).await.expect("read");
        assert_eq!((first, buf.bytes()), (3, &b"abc"[..]));
        // The short read cleared the readiness; the close seen with the data must still
        // end the next read at once rather than wait for an event that never comes.
        let second =
            tokio::time::timeout(Duration::from_secs(10), stream.read_into(&mut buf, 4096))
                .await
                .expect("the close was lost: the read waited");
        assert_eq!(second.expect("read"), 0);
    }

    #[tokio::test]
    async fn a_reply_larger_than_the_socket_buffer_waits_for_room_and_arrives_whole() {
        let (mut stream, mta) = pair();
        let reply: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let reader = std::thread::spawn(move || {
            let mut mta = mta;
            std::thread::sleep(Duration::from_millis(100));
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut mta, &mut got).expect("read");
            got
        });
        tokio::time::timeout(Duration::from_secs(60), stream.write_all(&reply))
            .await
            .expect("the write never finished: a wait for room was not woken")
            .expect("write");
        drop(stream);
        assert!(reader.join().expect("reader") == reply);
    }

    #[tokio::test]
    async fn a_peer_that_reads_nothing_leaves_the_write_waiting() {
        let (mut stream, _mta) = pair();
        let reply = vec![b'x'; 4_000_000];
        let waited =
            tokio::time::timeout(Duration::from_millis(200), stream.write_all(&reply)).await;
        assert!(waited.is_err(), "nobody reads: the write cannot finish");
    }

    #[test]
    fn the_buffer_keeps_unconsumed_bytes_in_order() {
        let mut b = InBuf::default();
        b.room(4)[..3].copy_from_slice(b"abc");
        b.filled += 3;
        b.consume(1);
        assert_eq!(b.bytes(), b"bc");
        let room = b.room(8);
        assert!(room.len() >= 8);
        room[..2].copy_from_slice(b"de");
        b.filled += 2;
        assert_eq!(b.bytes(), b"bcde");
        b.consume(10);
        assert!(b.bytes().is_empty());
        b.shrink_when_empty(4);
        assert_eq!(b.data.len(), 0);
    }
}
