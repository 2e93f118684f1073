//! Support for the tests that email many providers' reports: provider records with contact
//! addresses of their own, one export line per provider, and counts of what the emulator's SES
//! received per address.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use aws_sdk_dynamodb::types::AttributeValue;
use marketplace_core::provider::{Provider, ProviderStatus};
use marketplace_portal::product::{Product, ProductStatus, PublishOutcome};

use crate::{dynamodb, sent_emails, unique};

/// `count` provider ids, `prefix` and a suffix of their own, in order.
pub fn provider_ids(prefix: &str, count: usize) -> Vec<String> {
    let suffix = unique(prefix).replace(|c: char| !c.is_ascii_alphanumeric(), "");
    (0..count).map(|i| format!("{prefix}{i:02}-{suffix}")).collect()
}

/// The contact address of provider `id`.
pub fn address(id: &str) -> String {
    format!("sends-{id}@provider.example")
}

/// Provider `id`'s record; a `broken` one has an address SES (and moto) refuses.
pub fn provider(id: &str, broken: bool) -> Provider {
    Provider {
        provider_id: id.into(),
        account_alias: format!("{id}-prod"),
        company_name: format!("{id} Inc"),
        contact_name: format!("Contact of {id}"),
        // SES (and moto) refuses an address without a domain.
        contact_email: if broken { format!("sends-{id}-without-domain") } else { address(id) },
        status: ProviderStatus::PortalAccountCreated,
        created_at: chrono::Utc::now(),
        created_by: "team-member-7".into(),
        created_by_event: unique("evt"),
        version: 1,
        mpa: None,
        representative: None,
        ..Provider::example()
    }
}

async fn put(table: &str, mut item: HashMap<String, AttributeValue>, pk: String, sk: &str, item_type: &str) {
    item.insert("pk".into(), AttributeValue::S(pk));
    item.insert("sk".into(), AttributeValue::S(sk.into()));
    item.insert("item_type".into(), AttributeValue::S(item_type.into()));
    dynamodb().await.put_item().table_name(table).set_item(Some(item)).send().await.expect("put item");
}

/// Stores the provider records in `table` (the one at index `broken`, if any, with a rejected
/// address); with `published`, each with one published product.
pub async fn store_providers(table: &str, ids: &[String], broken: Option<usize>, published: bool) {
    for (i, id) in ids.iter().enumerate() {
        let pk = format!("PROVIDER#{id}");
        let item = marketplace_aws::attributes::to_item(&provider(id, Some(i) == broken)).expect("item");
        put(table, item, pk.clone(), "PROFILE", "provider").await;
        if published {
            let product = Product {
                provider_id: id.clone(),
                product_id: "listed-product".into(),
                status: ProductStatus::Published,
                listing: None,
                requested_listing: None,
                requested_name: None,
                refusal_reasons: Vec::new(),
                refused_for_mpa_only: false,
                published_at: None,
                withdrawal: None,
                updated_at: chrono::Utc::now(),
                last_event: unique("evt"),
                last_outcome: PublishOutcome::Published,
                version: 1,
            };
            let item = marketplace_aws::attributes::to_item(&product).expect("item");
            put(table, item, pk, "PRODUCT#listed-product", "product").await;
        }
    }
}

/// How many emails each address got whose subject contains `needle` (one read of the
/// emulator's mail).
pub fn emails_per_address(needle: &str) -> BTreeMap<String, usize> {
    let mut per = BTreeMap::new();
    for email in sent_emails().into_iter().filter(|e| e.subject.contains(needle)) {
        for to in email.to {
            *per.entry(to).or_default() += 1;
        }
    }
    per
}

/// An export file with one deployment log per provider, on `date`.
pub fn export_file(ids: &[String], date: &str) -> PathBuf {
    let lines: String = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                r#"{{"Item": {{"pk": {{"S": "DAY#{date}#01"}}, "sk": {{"S": "{date}T10:00:00Z#d-{id}"}}, "deployment_id": {{"S": "d-{id}"}}, "provider_id": {{"S": "{id}"}}, "product_id": {{"S": "db"}}, "product_name": {{"S": "DB"}}, "customer_alias": {{"S": "CUST{i}"}}, "started_at": {{"S": "{date}T09:00:00Z"}}, "finished_at": {{"S": "{date}T10:00:00Z"}}, "status": {{"S": "SUCCEEDED"}}, "errors": {{"L": []}}, "billing_model": {{"S": "monthly"}}, "quantity": {{"N": "1"}}, "unit_price": {{"N": "49.99"}}, "currency": {{"S": "USD"}}, "provider_share": {{"N": "0.8"}}}}}}"#
            ) + "\n"
        })
        .collect();
    let path = std::env::temp_dir().join(unique("sends-export")).with_extension("json");
    std::fs::write(&path, lines).expect("export file");
    path
}

/// A date of its own for a test (the team's ledger entry and summary are per date), so that the
/// test also passes again on a stack that ran it before.
pub fn date_of_its_own() -> chrono::NaiveDate {
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default().unsigned_abs();
    let day: chrono::NaiveDate = "2001-01-01".parse().expect("date");
    day + chrono::Days::new(nanos % 7000)
}
