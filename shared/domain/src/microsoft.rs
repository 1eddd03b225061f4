//! What must happen at Microsoft (Partner Center, New Commerce) when we decide something that
//! changes what the customer has. The domain says what; an outbox in the shell carries it out.

use crate::error::ParseError;
use crate::subscription::SubscriptionId;
use serde::{Deserialize, Serialize};

/// Days from the start of a term (purchase or renewal) during which Microsoft takes a
/// cancellation with a prorated refund.
pub const CANCELLATION_WINDOW_DAYS: i64 = 7;

/// One command for Microsoft's side of a linked subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MicrosoftCommand {
    /// One command per cause (e.g. `quantity:ZAM/2026/02/0001:acme-1`): committing the same
    /// cause twice stores it once.
    pub key: String,
    pub subscription: SubscriptionId,
    /// The customer's Microsoft tenant id.
    pub customer: String,
    /// The linked Microsoft subscription id.
    pub microsoft_subscription: String,
    pub action: MicrosoftAction,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MicrosoftAction {
    /// A paid seat order: the quantity goes up by `add`, to `to` (our seat count after the
    /// order). Carried out only while Microsoft's quantity is below `to`, so a retry after a
    /// lost answer never raises it twice.
    Quantity { add: u32, to: u32 },
    /// The next term's product and seats (`scheduledNextTermInstructions`), set before the
    /// term ends.
    Schedule {
        product: String,
        seats: u32,
        /// Whether `product` differs from the current one (a plan change at renewal).
        #[serde(default)]
        new_product: bool,
    },
    /// `autoRenewEnabled` false: Microsoft stops renewing (renewal off, plan change now).
    AutoRenew { enabled: bool },
    /// Cancel the renewed term (`status` `deleted`) inside its cancellation window: a
    /// non-payer suspended at end + grace.
    /// Buy a subscription (cart + checkout) like `microsoft_subscription` (its offer, billing
    /// cycle and term): a repurchase after suspension (the old one can no longer be
    /// reactivated), or the new plan of a plan change now (`product`). The new Microsoft
    /// subscription is linked to `subscription`.
    /// A plan change now names our new product (its offer replaces the old one's).
    Purchase {
        seats: u32,
        #[serde(default)]
        product: Option<String>,
    },
    Cancel {
        /// The day Microsoft's 7-day window closes (at its start, UTC): the renewed term
        /// began on our period end. `None` for a command stored without it.
        #[serde(default)]
        window_closes: Option<chrono::NaiveDate>,
    },
}

impl MicrosoftAction {
    /// The kind as DESIGN §3 names it.
    pub fn kind(&self) -> &'static str {
        match self {
            MicrosoftAction::Quantity { .. } => "quantity",
            MicrosoftAction::Schedule { .. } => "schedule",
            MicrosoftAction::AutoRenew { .. } => "auto_renew",
            MicrosoftAction::Purchase { .. } => "purchase",
            MicrosoftAction::Cancel { .. } => "cancel",
        }
    }
}

/// A Microsoft tenant or subscription id as a person typed it: a GUID, kept in lowercase.
pub fn parse_guid(s: &str) -> Result<String, ParseError> {
    let s = s.trim();
    let groups: Vec<&str> = s.split('-').collect();
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(ParseError::MicrosoftId(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_microsoft_id_is_a_guid() {
        assert_eq!(
            parse_guid("A4C1340D-6911-4758-BBA3-0C4C6007D161").unwrap(),
            "a4c1340d-6911-4758-bba3-0c4c6007d161"
        );
        for bad in [
            "",
            "acme",
            "a4c1340d69114758bba30c4c6007d161",
            "a4c1340d-6911-4758-bba3-0c4c6007d16g",
        ] {
            assert!(parse_guid(bad).is_err(), "{bad}");
        }
    }
}
