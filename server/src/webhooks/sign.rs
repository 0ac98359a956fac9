//! Standard Webhooks signatures, made by the specification's own Rust implementation.

use standardwebhooks::Webhook;

#[derive(Debug, thiserror::Error)]
#[error("cannot sign the webhook: {0}")]
pub struct SignError(String);

/// The `webhook-signature` header: `v1,<base64>` for each secret, separated by a space (the
/// current secret first; the previous one too during a rotation's overlap).
pub fn signature_header(secrets: &[&str], msg_id: &str, timestamp: i64, body: &str) -> Result<String, SignError> {
    let mut parts = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let wh = Webhook::new(secret).map_err(|e| SignError(e.to_string()))?;
        parts.push(wh.sign(msg_id, timestamp, body.as_bytes()).map_err(|e| SignError(e.to_string()))?);
    }
    Ok(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_example_signs_as_published() {
        // The example of the Standard Webhooks test suite.
        let header = signature_header(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn both_secrets_sign_during_a_rotation() {
        let a = crate::webhooks::secret::new_signing_secret();
        let b = crate::webhooks::secret::new_signing_secret();
        let header = signature_header(&[&a, &b], "evt_1", 1_700_000_000, "{}").unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
    }
}
