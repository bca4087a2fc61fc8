//! The fleet store: Redis or Valkey, shared by every daemon that points at it. One Lua
//! script counts a message into its campaign atomically, so two hosts that see copies
//! of one template at the same moment still count one campaign. Keys expire with the
//! window; nothing in them is text or an address in clear. Standalone servers only
//! (the script reaches keys it works out itself, which Redis Cluster refuses).

use std::time::Duration;

use palisade_engine::campaign::SAME_TEMPLATE;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Client, Script};

use crate::record::{Copy, Observation, Seen, Settings, StoreError, Summary};

const PREFIX: &str = "palisade:campaign:";

/// Seconds a campaign of a single copy is kept (most mail is one of a kind; a second
/// copy within this time makes it a campaign, kept for the whole window).
pub(crate) const SINGLE_COPY_TTL: u64 = 86_400;

/// Finds the campaign a fingerprint belongs to (or makes one) and counts the message.
/// Time is the server's (hosts' clocks may differ). KEYS: none. ARGV: prefix, (unused),
/// window, signature (hex), band keys (comma-separated hex), bound of each set, sender
/// hash, client hash, threat symbols (comma-separated), new id, (unused), similarity
/// threshold, campaigns kept at most, lifetime of a one-copy campaign, recipient
/// hashes...
const OBSERVE: &str = r#"
local P = ARGV[1]
local now = tonumber(redis.call('TIME')[1])
local window = tonumber(ARGV[3])
local maxcampaigns = tonumber(ARGV[13])
local single = tonumber(ARGV[14])
local sig = ARGV[4]
local bound = tonumber(ARGV[6])
local threshold = tonumber(ARGV[12])
local bands = {}
for b in string.gmatch(ARGV[5], '[^,]+') do bands[#bands + 1] = b end
local function similarity(a, b)
  if string.len(a) ~= string.len(b) or string.len(a) == 0 then return 0 end
  local same = 0
  for i = 1, string.len(a), 8 do
    if string.sub(a, i, i + 7) == string.sub(b, i, i + 7) then same = same + 1 end
  end
  return same / (string.len(a) / 8)
end
local id, best = nil, 0
local held = {}
local tried = {}
for i, key in ipairs(bands) do
  local k = P .. 'band:' .. (i - 1) .. ':' .. key
  local other = redis.call('GET', k)
  held[i] = other
  if other and not tried[other] then
    tried[other] = true
    local osig = redis.call('HGET', P .. 'c:' .. other, 'sig')
    if osig then
      local s = similarity(sig, osig)
      if s >= threshold and s > best then id, best = other, s end
    end
  end
end
local c
if not id then
  -- The first band key names it; a different template that happens to share it
  -- takes the next free name.
  id = ARGV[10]
  local n = 0
  while redis.call('EXISTS', P .. 'c:' .. id) == 1 and n < 64 do
    n = n + 1
    id = ARGV[10] .. '-' .. n
  end
  c = P .. 'c:' .. id
  redis.call('HSET', c, 'sig', sig, 'first', now, 'last', now, 'copies', 0)
else
  c = P .. 'c:' .. id
end
-- A campaign of one copy lives `single` seconds; from the second copy on, the window.
local copies_before = tonumber(redis.call('HGET', c, 'copies')) or 0
local ttl = window
if copies_before == 0 and single < window then ttl = single end
for i, key in ipairs(bands) do
  local k = P .. 'band:' .. (i - 1) .. ':' .. key
  if not held[i] then
    redis.call('SET', k, id, 'EX', ttl)
  elseif held[i] == id then
    redis.call('EXPIRE', k, ttl)
  end
end
local since = now - window
local function add(set, member)
  redis.call('ZADD', set, now, member)
end
for i = 15, #ARGV do add(c .. ':r', ARGV[i]) end
if ARGV[7] ~= '' then add(c .. ':s', ARGV[7]) end
if ARGV[8] ~= '' then add(c .. ':i', ARGV[8]) end
local counts = {}
for j, suffix in ipairs({':r', ':s', ':i'}) do
  local k = c .. suffix
  redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. since)
  local n = redis.call('ZCARD', k)
  if n > bound then
    redis.call('ZREMRANGEBYRANK', k, 0, n - bound - 1)
    n = bound
  end
  if n > 0 then redis.call('EXPIRE', k, ttl) end
  counts[j] = n
end
local first = tonumber(redis.call('HGET', c, 'first')) or now
redis.call('HSET', c, 'last', now)
local copies = redis.call('HINCRBY', c, 'copies', 1)
if ARGV[9] ~= '' then
  redis.call('HSETNX', c, 'threat_since', now)
  local have = {}
  local list = {}
  for s in string.gmatch(redis.call('HGET', c, 'symbols') or '', '[^,]+') do
    have[s] = true
    list[#list + 1] = s
  end
  for s in string.gmatch(ARGV[9], '[^,]+') do
    if not have[s] and #list < 32 then
      have[s] = true
      list[#list + 1] = s
    end
  end
  redis.call('HSET', c, 'symbols', table.concat(list, ','))
end
redis.call('EXPIRE', c, ttl)
if redis.call('HEXISTS', c, 'threat_since') == 1 then
  redis.call('ZADD', P .. 'threats', now, id)
  redis.call('ZREMRANGEBYSCORE', P .. 'threats', '-inf', '(' .. since)
  redis.call('EXPIRE', P .. 'threats', window)
end
redis.call('ZADD', P .. 'index', now, id)
redis.call('ZREMRANGEBYSCORE', P .. 'index', '-inf', '(' .. since)
local listed = redis.call('ZCARD', P .. 'index')
if listed > maxcampaigns then
  redis.call('ZREMRANGEBYRANK', P .. 'index', 0, listed - maxcampaigns - 1)
end
redis.call('EXPIRE', P .. 'index', window)
return {id, first, counts[1], counts[2], counts[3], copies,
  redis.call('HGET', c, 'threat_since') or '', redis.call('HGET', c, 'symbols') or '', now}
"#;

/// The Redis store.
#[derive(Clone)]
pub struct Redis {
    connection: ConnectionManager,
    observe: Script,
    settings: Settings,
    url: String,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redis({})", palisade_config::redact_url(&self.url))
    }
}

fn failed(e: redis::RedisError) -> StoreError {
    if e.is_timeout() {
        StoreError::Timeout
    } else {
        StoreError::Unavailable(e.to_string())
    }
}

/// The items of a comma-separated list.
fn csv(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads a hash field as a number (0 when absent or not a number).
fn number(fields: &std::collections::HashMap<String, String>, name: &str) -> u64 {
    fields.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

impl Redis {
    /// A store at `url` (`redis://host:port[/db]`). Connects lazily, and again after
    /// the server goes away; each call gives up after `timeout`.
    pub fn new(url: &str, timeout: Duration, settings: Settings) -> anyhow::Result<Redis> {
        let client = Client::open(url)
            .map_err(|e| anyhow::anyhow!("state.url {}: {e}", palisade_config::redact_url(url)))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("state.url {}: {e}", palisade_config::redact_url(url)))?;
        Ok(Redis {
            connection,
            observe: Script::new(OBSERVE),
            settings,
            url: url.to_string(),
        })
    }

    /// Counts a message into its campaign.
    pub async fn observe(&self, o: &Observation) -> Result<Seen, StoreError> {
        let mut con = self.connection.clone();
        let signature: String = o.signature.iter().map(|v| format!("{v:08x}")).collect();
        let bands: Vec<String> = o.bands.iter().map(|b| format!("{b:016x}")).collect();
        let mut call = self.observe.prepare_invoke();
        call.arg(PREFIX)
            .arg(o.at)
            .arg(self.settings.window.max(1))
            .arg(signature)
            .arg(bands.join(","))
            .arg(self.settings.max_recipients)
            .arg(&o.sender)
            .arg(&o.ip)
            .arg(o.threat.join(","))
            .arg(&bands[0])
            .arg("")
            .arg(SAME_TEMPLATE)
            .arg(self.settings.max_campaigns)
            .arg(SINGLE_COPY_TTL);
        for r in &o.recipients {
            call.arg(r);
        }
        #[allow(clippy::type_complexity)]
        let (id, first, recipients, senders, ips, copies, since, symbols, now): (
            String,
            u64,
            u64,
            u64,
            u64,
            u64,
            String,
            String,
            u64,
        ) = call.invoke_async(&mut con).await.map_err(failed)?;
        Ok(Seen {
            summary: Summary {
                id,
                first_seen: first,
                last_seen: now,
                recipients,
                senders,
                ips,
                copies,
                threat: !since.is_empty(),
                threat_since: since.parse().ok(),
                symbols: csv(&symbols),
            },
        })
    }

    /// Keeps the records of copies (the newest `max_copies` per campaign), all in one
    /// pipelined round trip.
    pub async fn record(&self, copies: &[(String, Copy)]) -> Result<(), StoreError> {
        if copies.is_empty() {
            return Ok(());
        }
        let mut con = self.connection.clone();
        let keep = self.settings.max_copies as isize;
        let mut pipe = redis::pipe();
        let mut keys: Vec<String> = Vec::new();
        for (id, copy) in copies {
            let key = format!("{PREFIX}c:{id}:copies");
            let json =
                serde_json::to_string(copy).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            pipe.zadd(&key, json, copy.at).ignore();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let since = palisade_config::clock::now_unsigned().saturating_sub(self.settings.window);
        for key in &keys {
            pipe.zrembyscore(key, "-inf", format!("({since}"))
                .ignore()
                .zremrangebyrank(key, 0, -(keep + 1))
                .ignore()
                .expire(key, self.settings.window.max(1) as i64)
                .ignore();
        }
        pipe.query_async::<()>(&mut con).await.map_err(failed)
    }

    async fn summaries(&self, ids: &[String]) -> Result<Vec<Summary>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut con = self.connection.clone();
        let mut pipe = redis::pipe();
        for id in ids {
            let c = format!("{PREFIX}c:{id}");
            pipe.hgetall(&c)
                .zcard(format!("{c}:r"))
                .zcard(format!("{c}:s"))
                .zcard(format!("{c}:i"));
        }
        let values: Vec<redis::Value> = pipe.query_async(&mut con).await.map_err(failed)?;
        let mut out = Vec::new();
        for (id, chunk) in ids.iter().zip(values.chunks(4)) {
            let [fields, r, s, i] = chunk else { continue };
            let fields: std::collections::HashMap<String, String> =
                redis::from_redis_value(fields.clone()).unwrap_or_default();
            if fields.is_empty() {
                continue; // expired between the index and the read
            }
            let n = |v: &redis::Value| redis::from_redis_value::<u64>(v.clone()).unwrap_or(0);
            let since = fields.get("threat_since").and_then(|v| v.parse().ok());
            out.push(Summary {
                id: id.clone(),
                first_seen: number(&fields, "first"),
                last_seen: number(&fields, "last"),
                recipients: n(r),
                senders: n(s),
                ips: n(i),
                copies: number(&fields, "copies"),
                threat: since.is_some(),
                threat_since: since,
                symbols: fields.get("symbols").map(|s| csv(s)).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Every campaign seen within the window, most recently seen first (at most
    /// `limit`).
    pub async fn list(&self, limit: usize) -> Result<Vec<Summary>, StoreError> {
        let mut con = self.connection.clone();
        let ids: Vec<String> = con
            .zrevrange(format!("{PREFIX}index"), 0, limit.max(1) as isize - 1)
            .await
            .map_err(failed)?;
        self.summaries(&ids).await
    }

    /// Threatening campaigns seen at or after `since`.
    pub async fn threats(&self, since: u64) -> Result<Vec<Summary>, StoreError> {
        let mut con = self.connection.clone();
        let ids: Vec<String> = con
            .zrangebyscore(format!("{PREFIX}threats"), since, "+inf")
            .await
            .map_err(failed)?;
        self.summaries(&ids).await
    }

    /// One campaign and its copies at or after `since`, oldest first.
    pub async fn show(
        &self,
        id: &str,
        since: u64,
    ) -> Result<Option<(Summary, Vec<Copy>)>, StoreError> {
        let Some(summary) = self.summaries(&[id.to_string()]).await?.pop() else {
            return Ok(None);
        };
        let mut con = self.connection.clone();
        let raw: Vec<String> = con
            .zrangebyscore(format!("{PREFIX}c:{id}:copies"), since, "+inf")
            .await
            .map_err(failed)?;
        let copies = raw
            .iter()
            .filter_map(|j| serde_json::from_str::<Copy>(j).ok())
            .collect();
        Ok(Some((summary, copies)))
    }

    /// How many campaigns the window holds.
    pub async fn count(&self) -> Result<u64, StoreError> {
        let mut con = self.connection.clone();
        con.zcard(format!("{PREFIX}index")).await.map_err(failed)
    }
}
