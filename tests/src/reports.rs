//! Support for the report job's tests: the golden deployment logs, table runs of the job, and
//! private tables with template.yaml's keys.

use std::path::{Path, PathBuf};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use marketplace_reports::attribute::parse_export_line;
use marketplace_reports::{Item, ReportPlan};
use nightly_reports::app::{JobRequest, Source};
use nightly_reports::cli::Delivery;

use crate::{dynamodb, unique};

/// The golden report fixture's directory (`jobs/nightly-reports/tests/fixtures/reports-2026-02-14`).
pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../jobs/nightly-reports/tests/fixtures/reports-2026-02-14")
}

/// The golden deployment logs moved to `month` (`YYYY-MM-`), so that a test has the month (its
/// month sums and report rows) to itself on a shared emulator.
pub fn golden_logs_in(month: &str) -> Vec<Item> {
    std::fs::read_to_string(fixture().join("deployment-logs-export.json"))
        .expect("fixture")
        .lines()
        .map(|l| parse_export_line(&l.replace("2026-02-", month)).expect("export line"))
        .collect()
}

/// A run of the job for `plan` from the DeploymentLogs table: files under `out`, report items
/// stored, nothing emailed.
pub fn table_run(plan: ReportPlan, out: &Path) -> JobRequest {
    JobRequest {
        plan,
        source: Source::Table,
        partition: None,
        out: out.to_owned(),
        delivery: Delivery { store: true, send: false, resend: false },
        parallelism: 4,
    }
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().expect("key")
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().expect("attr")
}

/// A fresh table with template.yaml's keys (`pk`/`sk`; with `by_date`, the `ByDate` index), for
/// a test that scans a whole table (the statement run scans `Marketplace`).
pub async fn private_table(prefix: &str, by_date: bool) -> String {
    let name = unique(prefix);
    let mut create = dynamodb()
        .await
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute("pk"))
        .attribute_definitions(string_attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range));
    if by_date {
        create = create
            .attribute_definitions(string_attribute("gsi1pk"))
            .attribute_definitions(string_attribute("gsi1sk"))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name("ByDate")
                    .key_schema(key("gsi1pk", KeyType::Hash))
                    .key_schema(key("gsi1sk", KeyType::Range))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .expect("index"),
            );
    }
    create.send().await.expect("create table");
    name
}

/// Every key under `prefix` in the report-files bucket (`REPORT_FILES_BUCKET`).
pub async fn keys_under(prefix: &str) -> std::collections::BTreeSet<String> {
    let bucket = std::env::var("REPORT_FILES_BUCKET").expect("REPORT_FILES_BUCKET: the local stack creates the bucket");
    let sdk = marketplace_aws::sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let mut keys = std::collections::BTreeSet::new();
    let mut pages = s3.list_objects_v2().bucket(&bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        keys.extend(page.expect("list objects").contents.unwrap_or_default().into_iter().filter_map(|o| o.key));
    }
    keys
}
