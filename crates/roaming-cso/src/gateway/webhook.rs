//! The webhook station gateway: for a real station-management system (SMS, e.g. an OCPP central
//! system). Each command is POSTed as JSON (a [`StationCommand`], `type` = the command) to
//! `cso.gateway.webhook_url`, with `Authorization: Bearer <cso.gateway.webhook_token>` when a token is
//! configured. A 2xx answer means the SMS took the command; anything else makes the CSO answer the CSP
//! REJECTED. The SMS reports what happens at the chargers through the CSO operator API
//! (`POST /api/stations/events`, `POST /api/stations/authorize`; contract in `docs/api.md`).

use std::time::Duration;

use futures::future::BoxFuture;
use roaming_peer::config::Config;

use super::{GatewayError, StationCommand, StationGateway};

/// The webhook gateway.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Webhook {
    /// A webhook gateway from `cso.gateway.webhook_url` and `cso.gateway.webhook_token`, trusting the
    /// system roots and `tls.extra_ca`.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let url = config
            .role("cso.gateway.webhook_url")
            .ok_or("cso.gateway = webhook needs cso.gateway.webhook_url")?
            .to_owned();
        if !(url.starts_with("https://")
            || url.starts_with("http://127.")
            || url.starts_with("http://localhost"))
        {
            return Err(format!(
                "cso.gateway.webhook_url {url:?} must be https (plain http only on loopback)"
            ));
        }
        let tls = roaming_peer::tls::client_config(config.extra_ca.as_deref(), config.tls_min_version)
            .map_err(|e| e.to_string())?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            url,
            token: config.role("cso.gateway.webhook_token").map(str::to_owned),
            http,
        })
    }
}

impl StationGateway for Webhook {
    fn send(&self, command: StationCommand) -> BoxFuture<'_, Result<(), GatewayError>> {
        Box::pin(async move {
            let mut req = self.http.post(&self.url).json(&command);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| GatewayError(format!("station-management system unreachable: {e}")))?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(GatewayError(format!(
                    "the station-management system answered HTTP {}",
                    resp.status().as_u16()
                )))
            }
        })
    }

    fn name(&self) -> &'static str {
        "webhook"
    }
}
