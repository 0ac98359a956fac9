//! Subscription plans and the limits each one grants.
//!
//! Plans are part of the server, not of the database, so that changing a limit is a release
//! rather than a migration; an account stores only its plan's name.

use serde::Serialize;
use utoipa::ToSchema;

/// What an account on a plan may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Limits {
    /// Sustained API requests per second per key.
    pub requests_per_second: u32,
    /// Requests a key may make at once above the sustained rate.
    pub burst: u32,
    /// Messages the account may queue per day (`null`: no cap).
    pub messages_per_day: Option<u32>,
    /// Devices the account may pair (`null`: no cap).
    pub max_devices: Option<u32>,
    /// One-time codes the account may send per hour (`null`: no cap).
    pub otp_per_hour: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub name: &'static str,
    pub limits: Limits,
}

pub const DEFAULT_PLAN: &str = "standard";

pub const PLANS: &[Plan] = &[
    Plan {
        name: "starter",
        limits: Limits {
            requests_per_second: 5,
            burst: 20,
            messages_per_day: Some(1_000),
            max_devices: Some(2),
            otp_per_hour: Some(100),
        },
    },
    Plan {
        name: "standard",
        limits: Limits {
            requests_per_second: 50,
            burst: 100,
            messages_per_day: Some(20_000),
            max_devices: Some(10),
            otp_per_hour: Some(1_000),
        },
    },
    Plan {
        name: "business",
        limits: Limits {
            requests_per_second: 200,
            burst: 400,
            messages_per_day: Some(200_000),
            max_devices: Some(50),
            otp_per_hour: Some(10_000),
        },
    },
    Plan {
        name: "unlimited",
        limits: Limits {
            requests_per_second: 100_000,
            burst: 100_000,
            messages_per_day: None,
            max_devices: None,
            otp_per_hour: None,
        },
    },
];

pub fn find(name: &str) -> Option<&'static Plan> {
    PLANS.iter().find(|p| p.name == name)
}

/// The plan for a stored name; an unknown stored name (a plan retired since) gets the default.
pub fn for_account(name: &str) -> &'static Plan {
    find(name).or_else(|| find(DEFAULT_PLAN)).unwrap_or(&PLANS[0])
}

pub fn names() -> Vec<&'static str> {
    PLANS.iter().map(|p| p.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_plan_exists() {
        assert_eq!(for_account(DEFAULT_PLAN).name, DEFAULT_PLAN);
    }

    #[test]
    fn a_retired_plan_name_falls_back_to_the_default() {
        assert_eq!(for_account("gold-2019").name, DEFAULT_PLAN);
    }
}
