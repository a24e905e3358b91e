//! One-time codes by mail: [`SmtpSender`] hands each code to the relay that
//! `SMTP_URL` names, apart from the request that asked for it, so a slow or
//! unreachable relay never makes an answer slower. What the relay calls
//! transient (4xx, a broken connection) is tried again with exponential
//! backoff; what it refuses for good (5xx) is not. Every outcome is counted in
//! `pal_code_deliveries_total`.

mod settings;
mod templates;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::{Error as SmtpError, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;

use pal::env::Var;
use pal::{Error, ErrorKind};

use super::codes::{CodeSender, Purpose};
pub use settings::{Login, MailSettings, Security};
pub use templates::{Template, Templates};

/// The variables of code delivery by mail, read besides the service's.
pub const VARS: &[Var] = &[
    Var::secret(
        "SMTP_URL",
        "pal serve: the mail relay one-time codes are sent through: smtp://[user:password@]host[:587] \
         (STARTTLS required), smtps://…[:465] (TLS from the start), or smtp://127.0.0.1:PORT?tls=none \
         (plaintext, loopback only); unset: codes go to the log only",
    ),
    Var::new(
        "SMTP_FROM",
        None,
        "pal serve: the sender of code mails: an address (no-reply@example.com), or a name and an address in angle \
         brackets; required with SMTP_URL",
    ),
    Var::new(
        "SMTP_CA_FILE",
        None,
        "pal serve: CA certificates (PEM) that verify the mail relay, instead of the public roots",
    ),
    Var::new(
        "SMTP_TEMPLATE_DIR",
        None,
        "pal serve: folder whose enrollment.subject, enrollment.txt, verification.subject, verification.txt \
         replace the built-in mails ({code} and {minutes} are filled in; a body must hold {code})",
    ),
    Var::new(
        "SMTP_TIMEOUT_MS",
        Some("10000"),
        "pal serve: limit of one attempt at a code mail, from connecting to the relay's last answer",
    ),
    Var::new(
        "SMTP_MAX_ATTEMPTS",
        Some("4"),
        "pal serve: tries of one code mail on transient failures (4xx, connection), with exponential backoff",
    ),
];

/// Code mails by purpose and outcome: `sent`, or `failed` (refused for good,
/// out of attempts, or never handed over).
pub const DELIVERIES: &str = "pal_code_deliveries_total";
/// Code mails tried again after a transient failure, by purpose.
pub const RETRIES: &str = "pal_code_delivery_retries_total";

/// Codes accepted and not yet sent or given up: past this a new one is refused
/// at once, so a relay that is down cannot make the process grow without bound.
const MAX_PENDING: usize = 1024;
/// SMTP sessions at once, each on a pooled connection.
const SESSIONS: usize = 4;
/// The first wait before a retry; each next one doubles, up to the cap.
const FIRST_RETRY: Duration = Duration::from_millis(500);
const RETRY_CAP: Duration = Duration::from_secs(30);

/// The `# HELP` line of each delivery metric.
pub fn describe() {
    metrics::describe_counter!(
        DELIVERIES,
        "One-time code mails by purpose and outcome: sent, or failed (refused for good, out of attempts, or not queued)"
    );
    metrics::describe_counter!(
        RETRIES,
        "Code mails tried again after a transient failure (4xx, connection), by purpose"
    );
}

fn count(purpose: Purpose, outcome: &'static str) {
    metrics::counter!(DELIVERIES, "purpose" => purpose.as_str(), "outcome" => outcome).increment(1);
}

/// Sends codes through an SMTP relay. Cheap to share: the pool of connections
/// and the queue of pending mails are behind it.
pub struct SmtpSender {
    relay: Arc<Relay>,
    from: Mailbox,
    templates: Templates,
    /// `{minutes}`: how long a code stays valid, rounded up.
    minutes: u64,
    pending: Arc<Semaphore>,
}

/// What a delivery task needs: the transport and how hard to try.
struct Relay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    sessions: Semaphore,
    /// The limit of one attempt, from connecting to the relay's last answer.
    timeout: Duration,
    attempts: usize,
}

impl SmtpSender {
    /// A sender through the relay of `settings`, for codes valid for `code_ttl`.
    /// Connects lazily: a relay that is down at start-up fails its first mails, not
    /// the start. Needs a Tokio runtime.
    pub fn start(settings: &MailSettings, code_ttl: Duration) -> pal::Result<SmtpSender> {
        describe();
        for purpose in [Purpose::Enrollment, Purpose::Verification] {
            // Zero from the start, so a rate over them exists before the first failure.
            for outcome in ["sent", "failed"] {
                metrics::counter!(DELIVERIES, "purpose" => purpose.as_str(), "outcome" => outcome).increment(0);
            }
            metrics::counter!(RETRIES, "purpose" => purpose.as_str()).increment(0);
        }
        let relay = Relay {
            transport: transport(settings)?,
            sessions: Semaphore::new(SESSIONS),
            timeout: settings.timeout,
            attempts: settings.attempts,
        };
        Ok(SmtpSender {
            relay: Arc::new(relay),
            from: settings.from.clone(),
            templates: settings.templates.clone(),
            minutes: code_ttl.as_secs().div_ceil(60).max(1),
            pending: Arc::new(Semaphore::new(MAX_PENDING)),
        })
    }

    /// Waits up to `within` for the mails still pending (queued, or waiting to be
    /// tried again), for a shutdown that loses none it can help; returns how many
    /// were left.
    pub async fn close(&self, within: Duration) -> usize {
        let all = u32::try_from(MAX_PENDING).unwrap_or(u32::MAX);
        match tokio::time::timeout(within, self.pending.acquire_many(all)).await {
            Ok(Ok(_all_done)) => 0,
            _ => MAX_PENDING - self.pending.available_permits(),
        }
    }

    fn message(&self, to: &str, code: &str, purpose: Purpose) -> Result<Message, String> {
        let to: Mailbox = to.parse().map_err(|e| format!("the address cannot be mailed: {e}"))?;
        let (subject, body) = self.templates.render(purpose, code, self.minutes);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| format!("the mail cannot be written: {e}"))
    }
}

#[async_trait]
impl CodeSender for SmtpSender {
    /// Queues the mail and returns: the relay is reached apart from the request.
    /// A full queue is an error the caller can answer with "try again"; an address
    /// that cannot be mailed is counted and logged, as a bounce would be.
    async fn send(&self, to: &str, code: &str, purpose: Purpose, request_id: &str) -> pal::Result<()> {
        let Ok(pending) = self.pending.clone().try_acquire_owned() else {
            count(purpose, "failed");
            tracing::error!(purpose = purpose.as_str(), id = request_id, "code not mailed: the mail queue is full");
            return Err(Error::new(
                ErrorKind::Connection,
                format!("{MAX_PENDING} code mails are waiting for the mail relay already"),
            ));
        };
        let message = match self.message(to, code, purpose) {
            Ok(message) => message,
            Err(why) => {
                count(purpose, "failed");
                tracing::error!(purpose = purpose.as_str(), id = request_id, error = why, "code not mailed");
                return Ok(());
            }
        };
        let (relay, id) = (self.relay.clone(), request_id.to_string());
        tokio::spawn(async move {
            relay.deliver(message.envelope(), &message.formatted(), purpose, &id).await;
            drop(pending);
        });
        Ok(())
    }
}

impl Relay {
    /// Sends one mail, again after each transient failure while attempts last.
    async fn deliver(&self, envelope: &Envelope, mail: &[u8], purpose: Purpose, id: &str) {
        let mut waits = pal::retry::backoff(FIRST_RETRY, RETRY_CAP, self.attempts.saturating_sub(1));
        let mut attempt = 1;
        loop {
            // lettre bounds only the TCP connect: a relay that accepts and then says
            // nothing would hold a session for ever.
            let sent = match self.sessions.acquire().await {
                Ok(_session) => tokio::time::timeout(self.timeout, self.transport.send_raw(envelope, mail)).await,
                Err(_) => return,
            };
            let (error, again) = match sent {
                Ok(Ok(_)) => {
                    count(purpose, "sent");
                    tracing::info!(purpose = purpose.as_str(), id, attempt, "code mailed");
                    return;
                }
                Ok(Err(error)) => (error.to_string(), transient(&error)),
                Err(_) => (format!("the relay did not finish within {} ms", self.timeout.as_millis()), true),
            };
            match waits.next().filter(|_| again) {
                Some(wait) => {
                    metrics::counter!(RETRIES, "purpose" => purpose.as_str()).increment(1);
                    let retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                    tracing::warn!(purpose = purpose.as_str(), id, attempt, retry_in_ms, error = %error, "code mail not accepted; trying again");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => {
                    count(purpose, "failed");
                    tracing::error!(purpose = purpose.as_str(), id, attempts = attempt, error = %error, "code not mailed");
                    return;
                }
            }
        }
    }
}

/// Whether the same mail may go through later: a 4xx answer, a timeout, or a
/// connection that could not be made or broke. A 5xx answer, a certificate
/// that does not verify, or a relay without STARTTLS will fail again alike.
fn transient(error: &SmtpError) -> bool {
    let for_good = error.is_permanent()
        || error.is_response()
        || error.is_client()
        || error.is_tls()
        || error.is_transport_shutdown()
        || handshake_refused(error);
    error.is_transient() || error.is_timeout() || !for_good
}

/// lettre reports a failed TLS handshake (a certificate that does not verify,
/// no protocol in common) as a connection error: rustls's error is inside, as
/// an I/O error of kind `InvalidData`, where a refused or broken connection has
/// a kind of its own.
fn handshake_refused(error: &SmtpError) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData) {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The pooled transport to the relay of `settings`.
fn transport(settings: &MailSettings) -> pal::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let config = |e: SmtpError| Error::new(ErrorKind::Config, format!("SMTP TLS: {e}"));
    let tls = match settings.security {
        Security::Plaintext => Tls::None,
        security => {
            let mut parameters = TlsParameters::builder(settings.host.clone());
            if let Some((_, pem)) = &settings.ca {
                parameters = parameters
                    .certificate_store(CertificateStore::None)
                    .add_root_certificate(Certificate::from_pem(pem).map_err(config)?);
            }
            let parameters = parameters.build_rustls().map_err(config)?;
            match security {
                Security::Implicit => Tls::Wrapper(parameters),
                _ => Tls::Required(parameters),
            }
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.clone())
        .port(settings.port)
        .tls(tls)
        .timeout(Some(settings.timeout))
        .pool_config(PoolConfig::new().max_size(SESSIONS as u32));
    if let Some(login) = &settings.login {
        builder = builder.credentials(Credentials::new(login.user.clone(), login.password.expose_secret().to_string()));
    }
    Ok(builder.build())
}
