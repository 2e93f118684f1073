//! How a product is billed: the listing's plans name it and every deployment log carries it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingModel {
    Hourly,
    Monthly,
    OneTime,
    Usage,
}

impl BillingModel {
    /// Every model (the published contract lists their names).
    pub const ALL: [BillingModel; 4] =
        [BillingModel::Hourly, BillingModel::Monthly, BillingModel::OneTime, BillingModel::Usage];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hourly" => Some(BillingModel::Hourly),
            "monthly" => Some(BillingModel::Monthly),
            "one_time" => Some(BillingModel::OneTime),
            "usage" => Some(BillingModel::Usage),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BillingModel::Hourly => "hourly",
            BillingModel::Monthly => "monthly",
            BillingModel::OneTime => "one_time",
            BillingModel::Usage => "usage",
        }
    }

    /// The model in words, for emails.
    pub fn in_words(self) -> &'static str {
        match self {
            BillingModel::Hourly => "Charged by the hour",
            BillingModel::Monthly => "Monthly subscription",
            BillingModel::OneTime => "One-time purchase",
            BillingModel::Usage => "Pay per use",
        }
    }
}

impl std::str::FromStr for BillingModel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        BillingModel::parse(s).ok_or(())
    }
}

impl std::fmt::Display for BillingModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
