//! What Android's answers mean: the SENT broadcast's result code, the delivery report's
//! status, and how the answers for the parts of one message add up to its outcome.
//!
//! Pure functions and data, so they are tested without a JVM; the JNI glue only collects the
//! numbers.

use relay_core::TransportResult;
use relay_core::protocol::failure;

/// `android.app.Activity.RESULT_OK`: the SENT broadcast's "handed to the network".
pub const RESULT_OK: i32 = -1;

/// What one part's SENT broadcast said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    Sent,
    /// A stable code from `relay_protocol::failure` (or `unknown_<n>`).
    Failed(String),
}

/// Maps the SENT broadcast's result code (`Activity.RESULT_OK` or `SmsManager.RESULT_ERROR_*`).
/// Codes Android added later (RESULT_RIL_*, RESULT_NETWORK_*, …) keep their number.
pub fn send_result(code: i32) -> SendResult {
    let failed = match code {
        RESULT_OK => return SendResult::Sent,
        1 => failure::GENERIC_FAILURE,
        2 => failure::RADIO_OFF,
        3 => failure::NULL_PDU,
        4 => failure::NO_SERVICE,
        5 => failure::LIMIT_EXCEEDED,
        6 => failure::FDN_CHECK_FAILURE,
        7 => failure::SHORT_CODE_NOT_ALLOWED,
        8 => failure::SHORT_CODE_NEVER_ALLOWED,
        other => return SendResult::Failed(format!("unknown_{other}")),
    };
    SendResult::Failed(failed.to_owned())
}

/// What one part's delivery report said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryReport {
    Delivered,
    /// The centre is still trying (GSM TP-Status 0x20..0x3F, CDMA temporary error): not final.
    Pending,
    Failed {
        status: i32,
    },
}

/// The format a delivery PDU comes in (`"3gpp"` GSM/UMTS/LTE, `"3gpp2"` CDMA).
pub const FORMAT_3GPP2: &str = "3gpp2";

/// Maps `SmsMessage.getStatus()` of a delivery report. GSM 03.40 TP-Status: below 0x20
/// delivered, 0x20..0x3F still trying, 0x40 and above failed. For 3GPP2 Android puts the
/// CDMA error class and status in bits 16..31 (`(errorClass << 8 | status) << 16`): error
/// class 0 delivered, 2 temporary, 3 (and the reserved 1) permanent.
pub fn delivery_report(status: i32, format: &str) -> DeliveryReport {
    if format == FORMAT_3GPP2 {
        return match (status >> 24) & 0x03 {
            0 => DeliveryReport::Delivered,
            2 => DeliveryReport::Pending,
            _ => DeliveryReport::Failed { status },
        };
    }
    match status {
        s if (0..0x20).contains(&s) => DeliveryReport::Delivered,
        s if (0x20..0x40).contains(&s) => DeliveryReport::Pending,
        _ => DeliveryReport::Failed { status },
    }
}

/// The answers heard so far for one message's parts, and what they add up to. A message is
/// sent when every part was sent, failed as soon as any part failed (to send, or to be
/// delivered), delivered when every part was delivered. A part's delivery report implies it
/// was sent (reports can overtake each other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    count: u32,
    sent: Vec<bool>,
    delivered: Vec<bool>,
    /// Reported to the sink already (`Sent` and the final one), so nothing is said twice.
    said_sent: bool,
    finished: bool,
}

impl Parts {
    pub fn new(count: u32) -> Self {
        let count = count.max(1);
        let n = usize::try_from(count).unwrap_or(1);
        Parts { count, sent: vec![false; n], delivered: vec![false; n], said_sent: false, finished: false }
    }

    /// The message is known to be sent already (reported before a restart).
    pub fn mark_sent(&mut self) {
        self.sent.iter_mut().for_each(|s| *s = true);
        self.said_sent = true;
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// True once a final outcome (delivered or failed) was produced.
    pub fn finished(&self) -> bool {
        self.finished
    }

    fn index(&self, part: u32) -> Option<usize> {
        (part < self.count).then(|| usize::try_from(part).ok()).flatten()
    }

    /// One part's SENT answer; returns what to report now, if anything.
    pub fn on_sent(&mut self, part: u32, result: &SendResult, detail: &str) -> Vec<TransportResult> {
        if self.finished {
            return Vec::new();
        }
        let Some(i) = self.index(part) else {
            tracing::warn!(part, parts = self.count, "SENT answer for a part out of range");
            return Vec::new();
        };
        match result {
            SendResult::Sent => {
                self.sent[i] = true;
                self.progress()
            }
            SendResult::Failed(code) => {
                self.finished = true;
                let mut reason = failure::reason(code);
                if self.count > 1 {
                    reason.push_str(&format!(" (part {} of {})", part + 1, self.count));
                }
                if !detail.is_empty() {
                    reason.push_str(&format!(" [{detail}]"));
                }
                vec![TransportResult::Failed { code: code.clone(), reason }]
            }
        }
    }

    /// One part's delivery report; returns what to report now, if anything.
    pub fn on_delivery(&mut self, part: u32, report: DeliveryReport) -> Vec<TransportResult> {
        if self.finished {
            return Vec::new();
        }
        let Some(i) = self.index(part) else {
            tracing::warn!(part, parts = self.count, "delivery report for a part out of range");
            return Vec::new();
        };
        match report {
            DeliveryReport::Pending => Vec::new(),
            DeliveryReport::Delivered => {
                self.sent[i] = true;
                self.delivered[i] = true;
                self.progress()
            }
            DeliveryReport::Failed { status } => {
                self.finished = true;
                let mut reason = failure::reason(failure::DELIVERY_FAILED);
                reason.push_str(&format!(" (status 0x{status:02x}"));
                if self.count > 1 {
                    reason.push_str(&format!(", part {} of {}", part + 1, self.count));
                }
                reason.push(')');
                vec![TransportResult::Failed { code: failure::DELIVERY_FAILED.to_owned(), reason }]
            }
        }
    }

    fn progress(&mut self) -> Vec<TransportResult> {
        let mut out = Vec::new();
        if !self.said_sent && self.sent.iter().all(|s| *s) {
            self.said_sent = true;
            out.push(TransportResult::Sent);
        }
        if self.delivered.iter().all(|d| *d) {
            self.finished = true;
            out.push(TransportResult::Delivered);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: &str) -> SendResult {
        SendResult::Failed(code.to_owned())
    }

    #[test]
    fn every_documented_send_result_code_has_its_stable_name() {
        let expected = [
            (-1, SendResult::Sent),
            (1, failed("generic_failure")),
            (2, failed("radio_off")),
            (3, failed("null_pdu")),
            (4, failed("no_service")),
            (5, failed("limit_exceeded")),
            (6, failed("fdn_check_failure")),
            (7, failed("short_code_not_allowed")),
            (8, failed("short_code_never_allowed")),
            (0, failed("unknown_0")),
            (9, failed("unknown_9")),
            (133, failed("unknown_133")),
        ];
        for (code, want) in expected {
            assert_eq!(send_result(code), want, "result code {code}");
        }
    }

    #[test]
    fn gsm_tp_status_splits_into_delivered_pending_and_failed() {
        for s in [0x00, 0x01, 0x02, 0x1f] {
            assert_eq!(delivery_report(s, "3gpp"), DeliveryReport::Delivered, "status {s:#x}");
        }
        for s in [0x20, 0x21, 0x25, 0x3f] {
            assert_eq!(delivery_report(s, "3gpp"), DeliveryReport::Pending, "status {s:#x}");
        }
        for s in [0x40, 0x41, 0x45, 0x60, 0x65, 0x7f, 0xff] {
            assert_eq!(delivery_report(s, "3gpp"), DeliveryReport::Failed { status: s }, "status {s:#x}");
        }
    }

    #[test]
    fn cdma_status_is_read_from_its_error_class() {
        assert_eq!(delivery_report(0x0002 << 16, FORMAT_3GPP2), DeliveryReport::Delivered);
        assert_eq!(delivery_report(0x0204 << 16, FORMAT_3GPP2), DeliveryReport::Pending);
        assert_eq!(delivery_report(0x0304 << 16, FORMAT_3GPP2), DeliveryReport::Failed { status: 0x0304 << 16 });
    }

    #[test]
    fn a_message_is_sent_when_every_part_is_and_delivered_when_every_part_is() {
        let mut p = Parts::new(3);
        assert!(p.on_sent(0, &SendResult::Sent, "").is_empty());
        assert!(p.on_sent(2, &SendResult::Sent, "").is_empty());
        assert_eq!(p.on_sent(1, &SendResult::Sent, ""), vec![TransportResult::Sent]);
        assert!(p.on_delivery(1, DeliveryReport::Delivered).is_empty());
        assert!(p.on_delivery(0, DeliveryReport::Pending).is_empty());
        assert!(p.on_delivery(0, DeliveryReport::Delivered).is_empty());
        assert!(!p.finished());
        assert_eq!(p.on_delivery(2, DeliveryReport::Delivered), vec![TransportResult::Delivered]);
        assert!(p.finished());
        assert!(p.on_delivery(2, DeliveryReport::Delivered).is_empty(), "nothing after the end");
    }

    #[test]
    fn one_failed_part_fails_the_message_once() {
        let mut p = Parts::new(2);
        assert!(p.on_sent(0, &SendResult::Sent, "").is_empty());
        let out = p.on_sent(1, &send_result(4), "");
        let [TransportResult::Failed { code, reason }] = out.as_slice() else { panic!("{out:?}") };
        assert_eq!(code, "no_service");
        assert!(reason.contains("part 2 of 2"), "{reason}");
        assert!(p.finished());
        assert!(p.on_sent(1, &SendResult::Sent, "").is_empty());
    }

    #[test]
    fn a_failed_delivery_report_fails_a_sent_message() {
        let mut p = Parts::new(1);
        assert_eq!(p.on_sent(0, &SendResult::Sent, ""), vec![TransportResult::Sent]);
        let out = p.on_delivery(0, delivery_report(0x41, "3gpp"));
        let [TransportResult::Failed { code, reason }] = out.as_slice() else { panic!("{out:?}") };
        assert_eq!(code, "delivery_failed");
        assert!(reason.contains("0x41"), "{reason}");
    }

    #[test]
    fn delivery_reports_that_overtake_sent_answers_count_as_sent() {
        let mut p = Parts::new(1);
        assert_eq!(
            p.on_delivery(0, DeliveryReport::Delivered),
            vec![TransportResult::Sent, TransportResult::Delivered]
        );
    }

    #[test]
    fn parts_out_of_range_are_ignored() {
        let mut p = Parts::new(1);
        assert!(p.on_sent(5, &SendResult::Sent, "").is_empty());
        assert!(!p.finished());
    }
}
