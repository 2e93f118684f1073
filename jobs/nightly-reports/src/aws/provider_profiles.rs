//! What the MPA campaign reads from the `Marketplace` table: the MPA's versions (the
//! `MPA` / `VERSIONS` item, `marketplace_aws::mpa_versions`) and every provider record
//! (`PROVIDER#<id>` / `PROFILE`).
//!
//! The table has no index of profiles, so the records come from one paged **Scan** filtered on
//! `sk = PROFILE`: it reads (and is billed for) every item of the table, but returns only the
//! profiles, a page (≤ 1 MB read) at a time, each page handed on before the next is read, so
//! the run holds one page plus what the caller keeps. At 10,000 providers with their products,
//! audit trails and outbox items (a few MB) that is a handful of pages a night.

use aws_sdk_dynamodb::types::AttributeValue as Av;
use marketplace_aws::attributes::from_item;
use marketplace_aws::mpa_versions::{MPA_PK, VERSIONS_SK};
use marketplace_aws::sdk_error::AwsError;
use marketplace_aws::DynamoProviderStore;
use marketplace_core::agreement::MpaVersions;
use marketplace_core::provider::Provider;
use marketplace_core::DomainError;

/// The stored MPA versions; `None` while only the configuration's first version exists.
pub async fn stored_mpa_versions(marketplace: &DynamoProviderStore) -> Result<Option<MpaVersions>, DomainError> {
    marketplace.get_item(MPA_PK.into(), VERSIONS_SK.into()).await?.map(|item| from_item(&item)).transpose()
}

/// Hands every provider record to `each`, a Scan page at a time (`page_limit`: `Limit` of every
/// page; `None`: DynamoDB's 1 MB pages). A record that does not read as a provider is skipped
/// and counted (logged by its key, never its content). Returns (pages read, records skipped).
pub async fn each_provider(
    marketplace: &DynamoProviderStore,
    page_limit: Option<i32>,
    mut each: impl FnMut(Provider),
) -> Result<(usize, usize), AwsError> {
    let table = marketplace.table();
    let mut pages = marketplace
        .client()
        .scan()
        .table_name(table)
        .filter_expression("sk = :profile")
        .expression_attribute_values(":profile", Av::S("PROFILE".into()))
        .set_limit(page_limit)
        .into_paginator()
        .send();
    let (mut read, mut skipped) = (0, 0);
    while let Some(page) = pages.next().await {
        let page = page.map_err(AwsError::dynamo("Scan", table))?;
        read += 1;
        for item in page.items() {
            match from_item::<Provider>(item) {
                Ok(provider) => each(provider),
                Err(_) => {
                    // The error may quote a field's value (an address): only the key is logged.
                    let key = item.get("pk").and_then(|v| v.as_s().ok()).map_or("?", String::as_str);
                    tracing::warn!(key, "provider record unreadable: left out of the MPA campaign");
                    skipped += 1;
                }
            }
        }
    }
    Ok((read, skipped))
}
