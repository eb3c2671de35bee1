//! `LISTEN cruddur_feed` (migration V7) on a connection of its own, kept up for as long as the
//! returned handle lives. Whoever listens is told when listening starts, when the feed may have
//! changed, and when the connection is lost — between a loss and the next `Listening`,
//! notifications may have been missed, so nothing learnt from them can be trusted.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

use crate::config::ConnectSettings;
use crate::tls;

/// The channel the V7 triggers notify.
pub const FEED_CHANNEL: &str = "cruddur_feed";
/// The listener's `application_name`, to tell it apart in `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "cruddur feed listener";
/// How often the listener proves its connection alive with a round trip: a connection dropped
/// without a word (a NAT, a failover) delivers no notification and no error until it is used.
const PING_EVERY: Duration = Duration::from_secs(2);
/// A ping unanswered for this long counts as a lost connection.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// What the listener reports, in order: `Listening`, then any number of `Changed`, then `Lost`,
/// and again `Listening` once it is back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedEvent {
    /// Subscribed: from now on every committed change is reported.
    Listening,
    /// A committed statement may have changed what the feed shows.
    Changed,
    /// The connection is gone; changes may go unreported until the next `Listening`.
    Lost,
}

/// The running listener; dropping it stops it.
#[derive(Debug)]
pub struct FeedListener {
    task: JoinHandle<()>,
}

impl Drop for FeedListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FeedListener {
    /// Starts listening on the current tokio runtime; `on_event` runs on the listener's task
    /// and must not block.
    pub fn start(
        settings: &ConnectSettings,
        on_event: impl Fn(FeedEvent) + Send + Sync + 'static,
    ) -> Self {
        let mut settings = settings.clone();
        settings.pg.application_name(LISTENER_APPLICATION_NAME);
        Self {
            task: tokio::spawn(run(settings, on_event)),
        }
    }
}

async fn run(settings: ConnectSettings, on_event: impl Fn(FeedEvent) + Send + Sync + 'static) {
    let mut retry = RETRY_FIRST;
    loop {
        match listen_until_lost(&settings, &on_event).await {
            Ok(()) => retry = RETRY_FIRST,
            Err(reason) => {
                tracing::warn!(%reason, "feed listener cannot listen; retrying");
            }
        }
        on_event(FeedEvent::Lost);
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}

/// Connects, listens and reports until the connection fails. `Ok` when it had been listening.
async fn listen_until_lost(
    settings: &ConnectSettings,
    on_event: &(impl Fn(FeedEvent) + Send + Sync),
) -> Result<(), String> {
    let tls = tls::connector(settings.root_cert.as_deref()).map_err(|e| e.to_string())?;
    let (client, mut connection) = crate::connect::open(settings, &tls)
        .await
        .map_err(|e| e.to_string())?;
    let (changed, mut changes) = tokio::sync::mpsc::unbounded_channel();
    // The connection delivers notifications only while it is polled for messages.
    let driver = tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    if changed.send(()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "feed listener connection failed");
                    return;
                }
            }
        }
    });
    let outcome = async {
        client
            .batch_execute(&format!("LISTEN {FEED_CHANNEL}"))
            .await
            .map_err(|e| domain::error_chain(&e))?;
        on_event(FeedEvent::Listening);
        let mut ping = tokio::time::interval(PING_EVERY);
        loop {
            tokio::select! {
                change = changes.recv() => match change {
                    Some(()) => on_event(FeedEvent::Changed),
                    None => return Ok(()), // the connection ended
                },
                _ = ping.tick() => {
                    match tokio::time::timeout(PING_TIMEOUT, client.batch_execute("")).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "feed listener lost its connection");
                            return Ok(());
                        }
                        Err(_) => {
                            tracing::warn!("feed listener's connection stopped answering");
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
    .await;
    driver.abort();
    outcome
}
