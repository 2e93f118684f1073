//! Monthly statement items: `PROVIDER#<id>` / `STATEMENT#<yyyy-mm>`, a plain `PutItem` that
//! carries no run timestamp, so a re-run of the month writes an identical item.

use aws_sdk_dynamodb::types::AttributeValue as Av;
use marketplace_reports::statement::{Month, Statement};
use marketplace_reports::storage::{statement_sk, StatementItem};

use super::table::ReportsTable;
use crate::attributes::{from_item, to_item};
use crate::sdk_error::AwsError;

impl ReportsTable {
    /// Puts the statement item (the same content overwrites itself unchanged).
    pub async fn store_statement(&self, statement: &Statement) -> Result<(), AwsError> {
        self.put(to_item(&StatementItem::new(statement))?).await
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
            .map_err(AwsError::dynamo("GetItem", &self.table))?;
        Ok(out.item.as_ref().map(from_item).transpose()?)
    }
}
