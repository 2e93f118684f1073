//! Monthly statements in the `Reports` table and the report-files bucket: the month's daily rows
//! of one provider in (one paged `Query`), the statement item (`PROVIDER#<id>` /
//! `STATEMENT#<yyyy-mm>`, a plain `PutItem`) and its CSV object
//! (`statements/<yyyy-mm>/providers/<id>/statement.csv`) out. Key design in
//! `marketplace_reports::storage`; both writes carry no run timestamp, so a re-run of
//! the month writes identical items and bytes.

use std::collections::HashMap;
use std::path::Path;

use aws_sdk_dynamodb::types::AttributeValue as Av;
use marketplace_aws::attributes::{from_item, to_item};
use marketplace_core::DomainError;
use marketplace_reports::attribute::Item;
use marketplace_reports::statement::{Month, Statement, StoredRow};
use marketplace_reports::storage::{statement_sk, StatementItem};

use super::{dynamo, from_sdk, AwsError, ReportFileStore, ReportsTable};

/// The object key of a provider's statement CSV: `statements/<yyyy-mm>/providers/<id>/statement.csv`.
pub fn statement_object_key(month: Month, provider_id: &str) -> String {
    format!("statements/{month}/providers/{provider_id}/statement.csv")
}

impl ReportsTable {
    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The provider's daily report rows of `month`, every page:
    /// `pk = PROVIDER#<id> AND sk BETWEEN DAY#<first day> AND DAY#<last day>~`.
    pub async fn daily_rows(&self, provider_id: &str, month: Month) -> Result<Vec<StoredRow>, AwsError> {
        let items: Vec<HashMap<String, Av>> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", Av::S(format!("PROVIDER#{provider_id}")))
            .expression_attribute_values(":lo", Av::S(format!("DAY#{}", month.first_day())))
            .expression_attribute_values(":hi", Av::S(format!("DAY#{}~", month.last_day())))
            .set_limit(self.page_limit)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(dynamo("Query", &self.table))?;
        items
            .iter()
            .map(|item| {
                let neutral: Item = item.iter().map(|(k, v)| (k.clone(), from_sdk(v))).collect();
                StoredRow::from_item(&neutral).map_err(|e| AwsError::Domain(DomainError::infra("read daily rows", e)))
            })
            .collect()
    }

    /// Puts the statement item (the same content overwrites itself unchanged).
    pub async fn store_statement(&self, statement: &Statement) -> Result<(), AwsError> {
        let item = to_item(&StatementItem::new(statement))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo("PutItem", &self.table))?;
        Ok(())
    }

    /// The stored statement of `provider_id` for `month`, if a run stored one.
    pub async fn statement(&self, provider_id: &str, month: Month) -> Result<Option<StatementItem>, AwsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", Av::S(format!("PROVIDER#{provider_id}")))
            .key("sk", Av::S(statement_sk(month)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo("GetItem", &self.table))?;
        Ok(out.item.as_ref().map(from_item).transpose()?)
    }
}

impl ReportFileStore {
    /// Uploads the statement CSV at `path` to [`statement_object_key`]; returns the key.
    pub async fn upload_statement(&self, month: Month, provider_id: &str, path: &Path) -> Result<String, AwsError> {
        let key = statement_object_key(month, provider_id);
        self.put_file(&key, path).await?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_objects_live_under_their_month_and_provider() {
        let month: Month = "2026-02".parse().expect("month");
        assert_eq!(statement_object_key(month, "acme"), "statements/2026-02/providers/acme/statement.csv");
    }
}
