//! One page of a partition's items at a time, in sort-key order, for the reports API: its rows
//! (`PROVIDER#<id>` with a date range) and the team's summaries (`SUMMARY#<date>`). A page
//! starts strictly after the previous page's last sort key and reads one item beyond its limit,
//! so the last page never hands out a token to an empty one.

use aws_sdk_dynamodb::types::AttributeValue as Av;
use marketplace_reports::Item;

use super::table::ReportsTable;
use crate::attributes::report_item;
use crate::sdk_error::AwsError;

/// Which items of one partition a page holds.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery<'a> {
    /// The partition (`pk`).
    pub pk: &'a str,
    /// `lo ≤ sk ≤ hi`, when given.
    pub sk_range: Option<(&'a str, &'a str)>,
    /// Only the items strictly after this sort key.
    pub after_sk: Option<&'a str>,
    /// At most this many items (all when `None`).
    pub limit: Option<usize>,
}

/// One page of a partition's items, in sort-key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemPage {
    /// At most the limit asked for.
    pub items: Vec<Item>,
    /// Whether more items follow the last one.
    pub more: bool,
}

impl ReportsTable {
    /// The items of one partition `query` asks for.
    pub async fn page(&self, query: PageQuery<'_>) -> Result<ItemPage, AwsError> {
        let PageQuery { pk, sk_range, after_sk, limit } = query;
        let mut items: Vec<Item> = Vec::new();
        let mut start = after_sk.map(|sk| {
            [("pk".to_owned(), Av::S(pk.to_owned())), ("sk".to_owned(), Av::S(sk.to_owned()))].into_iter().collect()
        });
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":pk", Av::S(pk.to_owned()))
                .set_exclusive_start_key(start.take());
            query = match sk_range {
                Some((lo, hi)) => query
                    .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                    .expression_attribute_values(":lo", Av::S(lo.to_owned()))
                    .expression_attribute_values(":hi", Av::S(hi.to_owned())),
                None => query.key_condition_expression("pk = :pk"),
            };
            if let Some(limit) = limit {
                query = query.limit(i32::try_from(limit + 1 - items.len()).unwrap_or(i32::MAX));
            }
            let out = query.send().await.map_err(AwsError::dynamo("Query", &self.table))?;
            items.extend(out.items.unwrap_or_default().into_iter().map(report_item));
            match out.last_evaluated_key {
                Some(key) if limit.is_none_or(|l| items.len() <= l) => start = Some(key),
                _ => break,
            }
        }
        let more = limit.is_some_and(|l| items.len() > l);
        if let Some(limit) = limit {
            items.truncate(limit);
        }
        Ok(ItemPage { items, more })
    }
}
