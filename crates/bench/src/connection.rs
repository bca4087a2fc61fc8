//! The MTA side of a milter connection: a TCP or unix stream, and the exchanges Postfix
//! makes over it (negotiation, the events of a message, the per-message ABORT).

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use palisade_config::socket::SocketSpec;
use palisade_milter::client::{
    self, Connection, Envelope, Exchange, Outcome, ParsedMessage, Progress,
};
use palisade_milter::negotiate::{Negotiated, OptNeg};
use palisade_milter::{frame, Command, Reply};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// How long to wait for one reply; Postfix waits 30 s for commands, 300 s for content.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// A TCP or unix stream.
pub enum AnyStream {
    /// TCP.
    Tcp(TcpStream),
    /// Unix-domain.
    Unix(UnixStream),
}

impl AnyStream {
    /// Connects to a milter socket.
    pub async fn connect(spec: &SocketSpec) -> anyhow::Result<AnyStream> {
        Ok(match spec {
            SocketSpec::Inet { host, port } => {
                let s = TcpStream::connect((host.as_str(), *port))
                    .await
                    .with_context(|| format!("cannot connect to {spec}"))?;
                s.set_nodelay(true)?;
                AnyStream::Tcp(s)
            }
            SocketSpec::Unix(path) => AnyStream::Unix(
                UnixStream::connect(path)
                    .await
                    .with_context(|| format!("cannot connect to {spec}"))?,
            ),
        })
    }
}

impl AsyncRead for AnyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            AnyStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            AnyStream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for AnyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            AnyStream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            AnyStream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            AnyStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            AnyStream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            AnyStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            AnyStream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// One connection to a milter, driven as an MTA.
pub struct MilterConnection<S> {
    stream: S,
    buf: Vec<u8>,
    negotiated: Negotiated,
}

impl<S: AsyncRead + AsyncWrite + Unpin> MilterConnection<S> {
    /// Negotiates with `offer` (use [`client::postfix_offer`] to be Postfix).
    pub async fn open(mut stream: S, offer: OptNeg) -> anyhow::Result<Self> {
        let mut out = Vec::new();
        Command::OptNeg(offer).encode(&mut out);
        stream.write_all(&out).await?;
        let mut conn = MilterConnection {
            stream,
            buf: Vec::new(),
            negotiated: Negotiated {
                version: offer.version,
                actions: offer.actions,
                protocol: offer.protocol,
            },
        };
        let reply = conn.read_reply().await?;
        conn.negotiated = client::accept_negotiation(&offer, &reply)?;
        Ok(conn)
    }

    /// What was negotiated.
    pub fn negotiated(&self) -> Negotiated {
        self.negotiated
    }

    /// Reads one reply packet.
    pub async fn read_reply(&mut self) -> anyhow::Result<Reply> {
        loop {
            if let Some((p, used)) = frame::decode(&self.buf)? {
                let reply = Reply::parse(p.code, p.data)?;
                self.buf.drain(..used);
                return Ok(reply);
            }
            self.buf.reserve(4096);
            let n = tokio::time::timeout(REPLY_TIMEOUT, self.stream.read_buf(&mut self.buf))
                .await
                .map_err(|_| anyhow!("milter did not answer within {REPLY_TIMEOUT:?}"))??;
            if n == 0 {
                bail!("milter closed the connection");
            }
        }
    }

    /// Sends commands and follows the replies until the exchange ends; `None` when every
    /// command was sent and none ended it (a connection-stage run that was continued).
    pub async fn run(&mut self, commands: Vec<Command>) -> anyhow::Result<Option<Outcome>> {
        let mut ex = Exchange::new(self.negotiated, commands);
        let mut out = Vec::new();
        loop {
            out.clear();
            let waiting = ex.next_batch(&mut out);
            if !out.is_empty() {
                self.stream.write_all(&out).await?;
            }
            if !waiting {
                return Ok(None);
            }
            loop {
                let reply = self.read_reply().await?;
                match ex.on_reply(reply)? {
                    Progress::Read => continue,
                    Progress::Continue => break,
                    Progress::Done(outcome) => return Ok(Some(outcome)),
                }
            }
        }
    }

    /// Sends commands that get no reply (ABORT, QUIT).
    pub async fn send(&mut self, commands: &[Command]) -> anyhow::Result<()> {
        let mut out = Vec::new();
        for c in commands {
            c.encode(&mut out);
        }
        self.stream.write_all(&out).await?;
        Ok(())
    }

    /// Connects a client: CONNECT and HELO. `Some` when the milter ended the
    /// connection-level exchange (accept, reject, …).
    pub async fn connect_client(&mut self, c: &Connection) -> anyhow::Result<Option<Outcome>> {
        self.run(client::connection_commands(c)).await
    }

    /// Sends one message and returns how it ended, then ABORT as Postfix does after every
    /// message.
    pub async fn message(
        &mut self,
        env: &Envelope,
        message: &ParsedMessage,
    ) -> anyhow::Result<Outcome> {
        let cmds = client::message_commands(env, message, &self.negotiated);
        let outcome = self
            .run(cmds)
            .await?
            .ok_or_else(|| anyhow!("the milter never answered end of message"))?;
        self.send(&[Command::Abort]).await?;
        Ok(outcome)
    }

    /// Says goodbye as Postfix does.
    pub async fn quit(mut self) -> anyhow::Result<()> {
        self.send(&[Command::Quit]).await?;
        let _ = self.stream.shutdown().await;
        Ok(())
    }
}
