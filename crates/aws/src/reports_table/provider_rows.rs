//! A provider's stored daily report rows of a date range, every page: `pk = PROVIDER#<id> AND sk
//! BETWEEN DAY#<first> AND DAY#<last>~` (the portal's own read). The report email's 30-day chart
//! reads the days before its date, the monthly statement the days of its month.

use chrono::NaiveDate;
use marketplace_core::DomainError;
use marketplace_reports::statement::StoredRow;
use marketplace_reports::storage::day_key;

use super::table::{KeyQuery, ReportsTable};
use crate::attributes::report_item;
use crate::sdk_error::AwsError;

impl ReportsTable {
    /// `provider_id`'s stored report rows from `first` through `last`, oldest first.
    pub async fn provider_rows(
        &self,
        provider_id: &str,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<StoredRow>, AwsError> {
        let query = KeyQuery::on("pk", format!("PROVIDER#{provider_id}")).sk_between(day_key::days(first, last));
        let read = |item| {
            StoredRow::from_item(&report_item(item)).map_err(|e| DomainError::infra("read stored report rows", e))
        };
        Ok(self.query(query).await?.into_iter().map(read).collect::<Result<_, _>>()?)
    }
}
