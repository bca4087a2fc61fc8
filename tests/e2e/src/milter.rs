//! One message through a running daemon with the MTA-side milter client, and what came
//! back: the final reply and every modification.

use palisade_bench::{AnyStream, MilterConnection};
use palisade_config::socket::SocketSpec;
use palisade_milter::client::{self, Connection, Envelope};
use palisade_milter::Reply;

/// What the daemon answered for one message.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The final reply (a quarantine request counts as the reply).
    pub reply: Reply,
    /// Every modification, in order.
    pub modifications: Vec<Reply>,
}

impl Answer {
    /// The value of an added or inserted header, trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        self.modifications.iter().find_map(|m| match m {
            Reply::InsertHeader { name: n, value, .. } | Reply::AddHeader { name: n, value } => {
                (n.as_slice() == name.as_bytes())
                    .then(|| String::from_utf8_lossy(value).trim().to_string())
            }
            _ => None,
        })
    }

    /// Headers deleted (name, index), in order.
    pub fn deleted(&self) -> Vec<(String, u32)> {
        self.modifications
            .iter()
            .filter_map(|m| match m {
                Reply::ChangeHeader { index, name, value } if value.is_empty() => {
                    Some((String::from_utf8_lossy(name).into_owned(), *index))
                }
                _ => None,
            })
            .collect()
    }

    /// Whether the message was quarantined.
    pub fn quarantined(&self) -> bool {
        self.modifications
            .iter()
            .any(|m| matches!(m, Reply::Quarantine(_)))
    }
}

/// Sends `raw` from `client_ip` with MAIL FROM `mail_from` to the daemon listening at
/// `milter` (Postfix syntax), over a fresh connection.
pub async fn send(
    milter: &str,
    client_ip: &str,
    mail_from: &str,
    raw: &[u8],
) -> anyhow::Result<Answer> {
    let spec: SocketSpec = milter.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let stream = AnyStream::connect(&spec).await?;
    let mut conn = MilterConnection::open(stream, client::postfix_offer()).await?;
    let c = Connection {
        address: client_ip.into(),
        hostname: "client.example".into(),
        helo: "client.example".into(),
        ..Connection::default()
    };
    conn.connect_client(&c).await?;
    let env = Envelope {
        mail_from: mail_from.into(),
        rcpt_to: vec!["clerk@county.test".into()],
        queue_id: "HARD1".into(),
        auth_user: None,
    };
    let outcome = conn.message(&env, &client::parse_message(raw)).await?;
    conn.quit().await?;
    let reply = outcome
        .modifications
        .iter()
        .find(|m| matches!(m, Reply::Quarantine(_)))
        .cloned()
        .unwrap_or(outcome.reply);
    Ok(Answer {
        reply,
        modifications: outcome.modifications,
    })
}
