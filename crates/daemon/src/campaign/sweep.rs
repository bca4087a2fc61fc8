//! Afterwards: when a campaign turns out to be a threat, copies this host accepted that
//! are still in its Postfix queue (deferred, or waiting for a slow relay) are put on
//! hold, where reviewers find them next to the copies held on arrival. Copies already
//! delivered are listed by `palisade campaign show`, for the people who got them to be
//! warned. The same task saves the memory store and refreshes the campaign gauge.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::watch;

use super::{now, Campaigns};
use crate::escape::Safe;
use crate::quarantine::HoldOutcome;
use crate::server::Shared;

/// Remembered (queue id, time) pairs already handled, at most.
const DONE_MAX: usize = 100_000;

/// Runs until `stop`: holds queued copies of threatening campaigns every
/// `[campaign] sweep_interval` (and at once when a message makes a campaign
/// hold-worthy), saves the memory store every `save_interval`, and saves it once more
/// at the end.
pub(crate) async fn sweep(
    shared: Arc<Shared>,
    campaigns: Arc<Campaigns>,
    mut stop: watch::Receiver<bool>,
) {
    let mut done: HashSet<(String, u64)> = HashSet::new();
    // Per campaign, the newest copy already looked at: later sweeps read only what came
    // after (less a minute, for copies recorded late).
    let mut looked: std::collections::HashMap<String, u64> = Default::default();
    let mut last_sweep = std::time::Instant::now();
    let mut last_save = std::time::Instant::now();
    loop {
        let live = shared.live.load_full();
        let c = live.config.campaign.clone();
        let tick = c.sweep_interval.min(c.save_interval);
        let turned = tokio::select! {
            _ = tokio::time::sleep(tick) => false,
            _ = campaigns.turned.notified() => true,
            _ = stop.changed() => {
                campaigns.save();
                return;
            }
        };
        if last_save.elapsed() >= c.save_interval {
            last_save = std::time::Instant::now();
            let me = campaigns.clone();
            let _ = tokio::task::spawn_blocking(move || me.save()).await;
        }
        campaigns.refresh_gauge().await;
        if !c.hold_queued || !(turned || last_sweep.elapsed() >= c.sweep_interval) {
            continue;
        }
        last_sweep = std::time::Instant::now();
        let window = c.window.as_secs();
        let since = now().saturating_sub(window);
        let Ok(threats) = campaigns.call("list", campaigns.store.threats(since)).await else {
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
                .call("list", campaigns.store.show(&s.id, from))
                .await
            else {
                continue;
            };
            if let Some(newest) = copies.iter().map(|c| c.at).max() {
                looked.insert(s.id.clone(), newest);
            }
            for copy in copies {
                if copy.host != campaigns.host
                    || copy.queue_id.is_empty()
                    || matches!(copy.action.as_str(), "quarantine" | "reject" | "tempfail")
                    || !done.insert((copy.queue_id.clone(), copy.at))
                {
                    continue;
                }
                let queue = crate::review::queue(&live.config, None);
                let (id, at, campaign) = (copy.queue_id.clone(), copy.at, s.id.clone());
                let result =
                    tokio::task::spawn_blocking(move || queue.hold_queued(&id, at, &campaign))
                        .await;
                let label = match result {
                    Ok(Ok(HoldOutcome::Held)) => {
                        tracing::info!(queue_id = %Safe(&copy.queue_id), campaign = %s.id, "queued copy of a threatening campaign put on hold");
                        "held"
                    }
                    Ok(Ok(HoldOutcome::Gone)) => "gone",
                    Ok(Err(e)) => {
                        tracing::warn!(queue_id = %Safe(&copy.queue_id), campaign = %s.id, error = %format!("{e:#}"), "cannot hold a queued copy of a threatening campaign");
                        "failed"
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "hold task failed");
                        "failed"
                    }
                };
                campaigns
                    .metrics
                    .campaign_holds
                    .with_label_values(&[label])
                    .inc();
            }
        }
    }
}
