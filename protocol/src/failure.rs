//! Stable failure codes with a reason a person understands.
//!
//! Android's send results (`SmsManager.RESULT_ERROR_*`) and a delivery report's TP-Status map
//! to these names; a code Android adds later is kept as `unknown_<n>` with its number.

pub const GENERIC_FAILURE: &str = "generic_failure";
pub const RADIO_OFF: &str = "radio_off";
pub const NULL_PDU: &str = "null_pdu";
pub const NO_SERVICE: &str = "no_service";
pub const LIMIT_EXCEEDED: &str = "limit_exceeded";
pub const FDN_CHECK_FAILURE: &str = "fdn_check_failure";
pub const SHORT_CODE_NOT_ALLOWED: &str = "short_code_not_allowed";
pub const SHORT_CODE_NEVER_ALLOWED: &str = "short_code_never_allowed";
pub const DELIVERY_FAILED: &str = "delivery_failed";
pub const PERMISSION_DENIED: &str = "permission_denied";
pub const EXPIRED: &str = "expired";
pub const DEVICE_UNPAIRED: &str = "device_unpaired";
/// The phone restarted after handing the message to its radio and before hearing the result,
/// and its radio cannot say whether it went out. Never resent automatically.
pub const OUTCOME_UNKNOWN: &str = "outcome_unknown";

/// The reason for a code, in words.
pub fn reason(code: &str) -> String {
    let known = match code {
        GENERIC_FAILURE => "The phone's radio reported a generic failure while sending.",
        RADIO_OFF => "The phone's radio is off (airplane mode?).",
        NULL_PDU => "The phone could not encode the message (null PDU).",
        NO_SERVICE => "The phone has no mobile service.",
        LIMIT_EXCEEDED => {
            "Android refused: the app passed the per-app SMS limit. Lower the device's pacing or raise \
             sms_outgoing_check_max_count."
        }
        FDN_CHECK_FAILURE => "The SIM's fixed dialing numbers do not allow this number.",
        SHORT_CODE_NOT_ALLOWED => "Android asked to confirm sending to a premium short code and was not answered.",
        SHORT_CODE_NEVER_ALLOWED => "Android is set never to send to this premium short code.",
        DELIVERY_FAILED => "The network reported that the message cannot be delivered.",
        PERMISSION_DENIED => "The app lacks the SEND_SMS permission.",
        EXPIRED => "The message's time to live ran out before a phone could send it.",
        DEVICE_UNPAIRED => "The device holding the message was unpaired before it reported.",
        OUTCOME_UNKNOWN => {
            "The phone restarted while handing the message to its radio; whether it went out is unknown. \
             Check with the recipient before sending it again."
        }
        other => {
            return match other.strip_prefix("unknown_") {
                Some(n) => format!("The phone reported an unrecognised send result ({n})."),
                None => format!("The phone reported the failure {other}."),
            };
        }
    };
    known.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_words_and_unknown_codes_keep_their_number() {
        assert!(reason(LIMIT_EXCEEDED).contains("limit"));
        assert!(reason("unknown_133").contains("133"));
    }
}
