//! Afterwards: when a campaign turns out to be a threat, copies this host accepted that
//! are still in its Postfix queue (deferred, or waiting for a slow relay) are put on
//! hold, where reviewers find them next to the copies held on arrival. Copies already
//! delivered are listed by `palisade campaign show`, for the people who got them to be
//! warned. The same task saves the memory store and refreshes the campaign gauge.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{now, Campaigns};
use palisade_config::Config;
use palisade_queue::HoldOutcome;
use palisade_report::escape::Safe;

/// Remembered (queue id, time) pairs already handled, at most.
const DONE_MAX: usize = 100_000;

/// Sweeps at most this often, however many messages wake it.
const MIN_GAP: Duration = Duration::from_secs(1);

/// Runs until `stop`: holds queued copies of threatening campaigns every
/// `[campaign] sweep_interval` (and soon after a message makes a campaign
/// hold-worthy), saves the memory store every `save_interval`, and at the end writes
/// what is pending and saves once more.
pub async fn sweep(
    config: impl Fn() -> Arc<Config>,
    campaigns: Arc<Campaigns>,
    mut stop: watch::Receiver<bool>,
) {
    let mut done: HashSet<(String, u64)> = HashSet::new();
    // Per campaign, the newest copy of this host already looked at: later sweeps read
    // only what came after (less a minute, for copies recorded late).
    let mut looked: HashMap<String, u64> = HashMap::new();
    let mut last_sweep = Instant::now();
    let mut last_save = Instant::now();
    let mut woken = false;
    loop {
        let config = config();
        let c = config.campaign.clone();
        let tick = c.sweep_interval.min(c.save_interval).max(MIN_GAP);
        tokio::select! {
            _ = tokio::time::sleep(tick) => {},
            _ = campaigns.turned.notified() => { woken = true; }
            _ = stop.changed() => {
                campaigns.drain().await;
                let me = campaigns.clone();
                let _ = tokio::task::spawn_blocking(move || me.save()).await;
                return;
            }
        }
        if last_save.elapsed() >= c.save_interval {
            last_save = Instant::now();
            let me = campaigns.clone();
            let _ = tokio::task::spawn_blocking(move || me.save()).await;
        }
        campaigns.refresh_gauge().await;
        let due =
            (woken && last_sweep.elapsed() >= MIN_GAP) || last_sweep.elapsed() >= c.sweep_interval;
        if !c.enabled || !c.hold_queued || !due {
            continue;
        }
        woken = false;
        last_sweep = Instant::now();
        let since = now().saturating_sub(c.window.as_secs());
        let Ok(threats) = campaigns
            .background("list", campaigns.store.threats(since))
            .await
        else {
            continue;
        };
        if done.len() > DONE_MAX {
            done.clear();
        }
        looked.retain(|_, t| *t >= since);
        for s in threats.iter().filter(|s| s.recipients >= c.min_recipients) {
            let from = looked
                .get(&s.id)
                .map_or(since, |t| t.saturating_sub(60).max(since));
            let Ok(Some((_, copies))) = campaigns
                .background("list", campaigns.store.show(&s.id, from))
                .await
            else {
                continue;
            };
            let mine: Vec<_> = copies
                .into_iter()
                .filter(|copy| copy.host == campaigns.host && !copy.queue_id.is_empty())
                .collect();
            if let Some(newest) = mine.iter().map(|c| c.at).max() {
                looked.insert(s.id.clone(), newest);
            }
            let wanted: Vec<(String, u64)> = mine
                .iter()
                .filter(|copy| {
                    !matches!(copy.action.as_str(), "quarantine" | "reject" | "tempfail")
                        && !done.contains(&(copy.queue_id.clone(), copy.at))
                })
                .map(|copy| (copy.queue_id.clone(), copy.at))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let queue = palisade_queue::for_config(&config, None);
            let (ask, campaign) = (wanted.clone(), s.id.clone());
            let result =
                tokio::task::spawn_blocking(move || queue.hold_queued(&ask, &campaign)).await;
            let outcomes = match result {
                Ok(Ok(o)) => o,
                Ok(Err(e)) => {
                    // Not marked done: the next sweep tries again.
                    tracing::warn!(campaign = %s.id, error = %format!("{e:#}"), "cannot hold queued copies of a threatening campaign");
                    campaigns
                        .metrics
                        .holds
                        .with_label_values(&["failed"])
                        .inc_by(wanted.len() as u64);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "hold task failed");
                    continue;
                }
            };
            for ((id, at), outcome) in wanted.into_iter().zip(outcomes) {
                let label = match outcome {
                    HoldOutcome::Held => {
                        tracing::info!(queue_id = %Safe(&id), campaign = %s.id, "queued copy of a threatening campaign put on hold");
                        "held"
                    }
                    HoldOutcome::Gone => "gone",
                };
                campaigns.metrics.holds.with_label_values(&[label]).inc();
                done.insert((id, at));
            }
        }
    }
}
