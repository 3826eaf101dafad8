//! Collects the `ocpi.call` events both endpoints log, to print who called whom.

use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

#[derive(Debug, Default, Clone)]
struct Call {
    caller: String,
    host: String,
    method: String,
    path: String,
    status: Option<u64>,
    ocpi_status: Option<u64>,
    error: Option<String>,
}

impl Visit for Call {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let v = format!("{value:?}");
        match field.name() {
            "caller" => self.caller = v.trim_matches('"').to_owned(),
            "host" => self.host = v,
            "method" => self.method = v,
            "path" => self.path = v,
            "error" => self.error = Some(v),
            _ => {}
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "status" => self.status = Some(value),
            "ocpi_status" => self.ocpi_status = Some(value),
            _ => {}
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, value.max(0) as u64);
    }
}

/// The calls seen so far.
#[derive(Debug, Default)]
pub(crate) struct Transcript {
    calls: Mutex<Vec<Call>>,
}

struct Layer(Arc<Transcript>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Layer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() == "ocpi.call" {
            let mut call = Call::default();
            event.record(&mut call);
            self.0
                .calls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(call);
        }
    }
}

impl Transcript {
    /// Installs the collecting layer as the global subscriber (plus warnings on stderr).
    pub(crate) fn install() -> Arc<Self> {
        let me = Arc::new(Self::default());
        let stderr = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(tracing_subscriber::filter::LevelFilter::WARN);
        let _ = tracing_subscriber::registry()
            .with(Layer(Arc::clone(&me)))
            .with(stderr)
            .try_init();
        me
    }

    /// The calls since the last drain, one line each, with hosts named after the endpoints.
    pub(crate) fn drain(&self, names: &[(&str, &str)]) -> Vec<String> {
        let calls = std::mem::take(
            &mut *self
                .calls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        calls
            .into_iter()
            .map(|c| {
                let callee = names
                    .iter()
                    .find(|(url, _)| url.ends_with(&c.host))
                    .map_or(c.host.as_str(), |(_, n)| *n);
                let caller = names
                    .iter()
                    .find(|(_, n)| n.ends_with(&c.caller))
                    .map_or(c.caller.as_str(), |(_, n)| *n);
                let outcome = match (c.status, c.ocpi_status, &c.error) {
                    (_, _, Some(e)) => format!("failed: {e}"),
                    (Some(h), Some(o), _) => format!("HTTP {h}, OCPI {o}"),
                    (Some(h), None, _) => format!("HTTP {h}"),
                    _ => String::new(),
                };
                format!(
                    "{caller:>10} → {callee:<10} {:<6} {:<34} {outcome}",
                    c.method, c.path
                )
            })
            .collect()
    }
}

use tracing_subscriber::Layer as _;
