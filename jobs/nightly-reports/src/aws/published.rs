//! Which providers get a monthly statement: those with a published product, or a withdrawn one
//! (a withdrawn product was published, and the deployments customers started before its
//! withdrawal keep running and keep being billed: its provider's statement must still come).
//!
//! Products live in the `Marketplace` table as `PROVIDER#<id>` / `PRODUCT#<product id>` items
//! (`item_type = product`, `status = Published` once published, `Withdrawn` once withdrawn;
//! `marketplace_portal` crate docs). The table has no index by status, so this is one paged
//! **Scan** with a filter and a projection: `item_type = product AND status IN (Published,
//! Withdrawn)`, projecting only `provider_id`.
//! A Scan reads (and is billed for) every item of the table — profiles, products, audit
//! trails, email outbox items — but it runs once a month, in the background, and returns only
//! provider ids; adding a sparse status index to the table for one monthly read would cost a
//! write on every product change instead. Pages are followed to the end (`Limit` per page is
//! configurable so tests cross page boundaries).

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue as Av;
use marketplace_aws::sdk_error::AwsError;
use marketplace_aws::DynamoProviderStore;

/// Ids of the providers with at least one published (or withdrawn) product, sorted. `page_limit`: `Limit`
/// of every Scan page (`None`: DynamoDB's 1 MB pages).
pub async fn providers_with_published_products(
    marketplace: &DynamoProviderStore,
    page_limit: Option<i32>,
) -> Result<BTreeSet<String>, AwsError> {
    let table = marketplace.table();
    let items: Vec<_> = marketplace
        .client()
        .scan()
        .table_name(table)
        .filter_expression("item_type = :product AND #status IN (:published, :withdrawn)")
        .projection_expression("provider_id")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":product", Av::S("product".into()))
        .expression_attribute_values(":published", Av::S("Published".into()))
        .expression_attribute_values(":withdrawn", Av::S("Withdrawn".into()))
        .set_limit(page_limit)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(AwsError::dynamo("Scan", table))?;
    Ok(items.iter().filter_map(|item| item.get("provider_id").and_then(|v| v.as_s().ok()).cloned()).collect())
}
