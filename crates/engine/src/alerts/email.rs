//! Email delivery over SMTP: STARTTLS before logging in unless the channel turns it off (a local
//! relay), a plain-text message whose subject says what happened.

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use tentacle_domain::alerts::ChannelTarget;
use tentacle_store::AlertChannel;

use super::{Outgoing, SEND_TIMEOUT};

pub(super) async fn send(channel: &AlertChannel, message: &Outgoing) -> Result<(), String> {
    let ChannelTarget::Email {
        smtp_host,
        smtp_port,
        starttls,
        username,
        from,
        to,
    } = &channel.target
    else {
        return Err("not an email channel".to_string());
    };
    let mailbox = |address: &str, field: &str| {
        address
            .parse::<Mailbox>()
            .map_err(|e| format!("{field} {address:?} is not an address: {e}"))
    };
    let mut builder = Message::builder()
        .from(mailbox(from, "from")?)
        .subject(&message.subject)
        .header(ContentType::TEXT_PLAIN);
    for address in to {
        builder = builder.to(mailbox(address, "to")?);
    }
    if let Some(id) = message.id {
        // The same id on a repeat (see the module docs of `alerts`) lets a mail system tell it.
        builder = builder.message_id(Some(format!("<tentacle-alert-{id}@tentacle>")));
    }
    let email = builder
        .body(message.text.clone())
        .map_err(|e| format!("cannot build the email: {e}"))?;

    let transport = if *starttls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(smtp_host)
            .map_err(|e| format!("cannot use SMTP server {smtp_host}: {e}"))?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp_host.as_str())
    };
    let mut transport = transport.port(*smtp_port).timeout(Some(SEND_TIMEOUT));
    if let (Some(username), Some(password)) = (username, &channel.password) {
        transport = transport.credentials(Credentials::new(
            username.clone(),
            password.expose_secret().to_string(),
        ));
    }
    transport
        .build()
        .send(email)
        .await
        .map(|_| ())
        .map_err(|e| format!("SMTP server {smtp_host}:{smtp_port} refused or failed: {e}"))
}
