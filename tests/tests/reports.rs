//! Nightly reports against the local stack: the golden deployment logs are loaded into the
//! DeploymentLogs table, the job reads them back by day-shard queries, writes the CSVs, stores
//! report items, emails providers and the team — and a re-run sends nothing twice.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use marketplace_reports::attribute::parse_export_line;
use marketplace_reports::delivery::Resend;
use marketplace_reports::AttributeValue as AttributeValueD;
use marketplace_reports::ReportPlan;
use marketplace_tests::reports::*;
use marketplace_tests::*;
use nightly_reports::app::{handle_scheduled, run_job, AppError, AwsContext, JobRequest, ScheduledRun, Source};
use nightly_reports::cli::Delivery;

fn first_column(csv: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(csv).lines().skip(1).map(|l| l.split(',').next().unwrap_or_default().to_owned()).collect()
}

async fn query(table: &str, index: Option<&str>, key: &str, value: &str) -> Vec<HashMap<String, AttributeValue>> {
    let mut q = dynamodb()
        .await
        .query()
        .table_name(table)
        .key_condition_expression(format!("{key} = :v"))
        .expression_attribute_values(":v", AttributeValue::S(value.into()));
    if let Some(index) = index {
        q = q.index_name(index);
    }
    let mut items = q.send().await.expect("query").items.unwrap_or_default();
    items.sort_by_key(|i| format!("{}{}", attr_s(i, "pk"), attr_s(i, "sk")));
    items
}

const PROVIDERS: [&str; 3] = ["acme-software", "globex-labs", "initech"];

fn report_emails(address: &str) -> Vec<SentEmail> {
    emails_to(address).into_iter().filter(|e| e.subject.contains("2026-02-14")).collect()
}

/// The same emails read the emulator's documented way (`GET /moto-api/data.json`, `ses` →
/// `RawMessage` → `raw_data`), as a cross-check of the shared fast helper.
fn report_emails_from_data_json(address: &str) -> Vec<SentEmail> {
    let url = format!("{}/moto-api/data.json", moto_endpoint());
    let data: serde_json::Value = ureq::get(&url).call().expect("data.json").into_json().expect("json");
    let mut raws: Vec<&str> = Vec::new();
    fn collect<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(raw) = m.get("raw_data").and_then(|r| r.as_str()) {
                    out.push(raw);
                }
                m.values().for_each(|x| collect(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    collect(&data["ses"]["RawMessage"], &mut raws);
    raws.into_iter()
        .map(|r| parse_email(r.as_bytes()))
        .filter(|e| e.to.iter().any(|t| t == address) && e.subject.contains("2026-02-14"))
        .collect()
}

/// The objects under `reports/<date>/` of the report-files bucket, by key below that prefix,
/// limited to the golden providers and the team (other tests put other providers' files there).
async fn report_objects(date: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let bucket = std::env::var("REPORT_FILES_BUCKET").expect("REPORT_FILES_BUCKET: the local stack creates the bucket");
    let sdk = marketplace_aws::sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let prefix = format!("reports/{date}/");
    let mut objects = std::collections::BTreeMap::new();
    let mut pages = s3.list_objects_v2().bucket(&bucket).prefix(&prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        for object in page.expect("list objects").contents.unwrap_or_default() {
            let key = object.key.unwrap_or_default();
            let name = key.strip_prefix(&prefix).unwrap_or(&key).to_owned();
            let ours =
                name.starts_with("team/") || PROVIDERS.iter().any(|p| name.starts_with(&format!("providers/{p}/")));
            if !ours {
                continue;
            }
            let body = s3.get_object().bucket(&bucket).key(&key).send().await.expect("get object").body;
            objects.insert(name, body.collect().await.expect("body").into_bytes().to_vec());
        }
    }
    objects
}

#[tokio::test]
async fn nightly_reports_from_the_table_are_written_stored_and_emailed_exactly_once() {
    let app = app().await;
    // Provider records give the report emails their recipients.
    let addresses: Vec<String> = PROVIDERS.iter().map(|p| format!("reports-{p}@provider.example")).collect();
    // (Fixed ids, because the golden CSVs name them: on a re-used emulator the sign-up finds the
    // provider already there, which is fine.)
    for (p, a) in PROVIDERS.iter().zip(&addresses) {
        app.handle(&signup_notification::SignupNotification, batch_of(&[signup_event(p, a)])).await;
        assert!(stored_provider(&app, p).await.is_some());
    }
    let aws = AwsContext::from_env().await.expect("local stack env");
    let reports_table = std::env::var("REPORTS_TABLE").expect("REPORTS_TABLE");
    // A fresh delivery ledger for the date, and email counts measured as deltas, so the test
    // also passes against an emulator that ran it before.
    for item in query(&reports_table, None, "pk", "DELIVERY#2026-02-14").await {
        dynamodb()
            .await
            .delete_item()
            .table_name(&reports_table)
            .key("pk", AttributeValue::S(attr_s(&item, "pk")))
            .key("sk", AttributeValue::S(attr_s(&item, "sk")))
            .send()
            .await
            .expect("delete ledger item");
    }
    // A row a previous run stored for a product that the logs no longer have.
    dynamodb()
        .await
        .put_item()
        .table_name(&reports_table)
        .item("pk", AttributeValue::S("PROVIDER#acme-software".into()))
        .item("sk", AttributeValue::S("DAY#2026-02-14#PRODUCT#withdrawn#USD".into()))
        .item("gsi1pk", AttributeValue::S("DAY#2026-02-14".into()))
        .item("gsi1sk", AttributeValue::S("PROVIDER#acme-software#PRODUCT#withdrawn#USD".into()))
        .send()
        .await
        .expect("put stale row");
    // Earlier days previous nights stored: the chart of the 14th's email shows the 29 days
    // before it from the table (the 16 January is its first day; the 15th is outside), the 14th
    // from the run.
    for (date, deployments, revenue) in
        [("2026-01-15", "100", "999.00"), ("2026-01-16", "1", "5.00"), ("2026-02-10", "3", "30.00")]
    {
        dynamodb()
            .await
            .put_item()
            .table_name(&reports_table)
            .set_item(Some(stored_report_row("acme-software", date, deployments, revenue)))
            .send()
            .await
            .expect("put an earlier day's row");
    }
    let before: Vec<usize> = addresses.iter().map(|a| report_emails(a).len()).collect();
    let team_before = team_emails_about("summary for 2026-02-14").len();
    let items = std::fs::read_to_string(fixture().join("deployment-logs-export.json"))
        .expect("fixture")
        .lines()
        .map(|l| parse_export_line(l).expect("export line"))
        .collect();
    assert_eq!(aws.logs.load(items).await.expect("load"), 34);

    let out = std::env::temp_dir().join(unique("reports-out"));
    let request = JobRequest {
        plan: ReportPlan::single("2026-02-14".parse().expect("date")),
        source: Source::Table,
        partition: None,
        out: out.clone(),
        delivery: Delivery { store: true, send: true, resend: false },
        parallelism: 4,
    };
    let summary = run_job(&request, &Resend::Nothing, Some(&aws)).await.expect("first run");
    assert_eq!((summary.counted, summary.rejected), (27, 2), "{summary:?}");
    assert_eq!(summary.emails_sent, 4, "three providers and the team");
    assert_eq!(summary.items_stored, 4 + 3, "four product rows and three summary rows");

    // CSVs: byte for byte as the independently computed golden files (reject reasons are free text).
    let expected = files_under(&fixture().join("expected/2026-02-14"));
    let written = files_under(&out.join("2026-02-14"));
    assert_eq!(written.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (path, bytes) in &expected {
        if path == "rejected.csv" {
            assert_eq!(first_column(&written[path]), first_column(bytes));
        } else {
            assert_eq!(String::from_utf8_lossy(&written[path]), String::from_utf8_lossy(bytes), "{path}");
        }
    }

    // The same files in the report-files bucket, byte for byte, provider files under
    // `providers/<id>/`, the team's under `team/`.
    assert_eq!(summary.files_uploaded, written.len());
    let in_bucket = report_objects("2026-02-14").await;
    let expected_keys: std::collections::BTreeSet<String> =
        written.keys().map(|p| if p.starts_with("providers/") { p.clone() } else { format!("team/{p}") }).collect();
    assert_eq!(in_bucket.keys().cloned().collect::<std::collections::BTreeSet<_>>(), expected_keys);
    for (path, bytes) in &written {
        let key = if path.starts_with("providers/") { path.clone() } else { format!("team/{path}") };
        assert_eq!(&in_bucket[&key], bytes, "{key}");
    }

    // Stored items: a provider's date range, the team's summary and the by-date index.
    let acme = query(&reports_table, None, "pk", "PROVIDER#acme-software").await;
    let acme: Vec<_> = acme.iter().filter(|i| attr_s(i, "sk").starts_with("DAY#2026-02-14#")).collect();
    assert_eq!(acme.len(), 2, "the stale row of a withdrawn product is gone");
    assert_eq!(attr_s(acme[1], "product_id"), "acme-vault");
    assert_eq!(attr_s(acme[1], "billable_revenue"), "1200.77");
    assert_eq!(attr_s(acme[1], "remuneration_value"), "840.54");
    assert_eq!(acme[1].get("deployments").and_then(|v| v.as_n().ok()).map(String::as_str), Some("4"));
    let summary_items = query(&reports_table, None, "pk", "SUMMARY#2026-02-14").await;
    assert_eq!(
        summary_items.iter().map(|i| attr_s(i, "billable_revenue")).collect::<Vec<_>>(),
        ["1204.63", "49.99", "145"]
    );
    let by_date = query(&reports_table, Some("ByDate"), "gsi1pk", "DAY#2026-02-14").await;
    assert_eq!(by_date.len(), 4);
    let initech_on_the_14th = || async {
        let items = query(&reports_table, None, "pk", "PROVIDER#initech").await;
        items.into_iter().filter(|i| attr_s(i, "sk").starts_with("DAY#2026-02-14#")).collect::<Vec<_>>()
    };
    let stored_before = (initech_on_the_14th().await, summary_items);

    // Emails: one per provider with its three CSVs attached, one summary to the team.
    for ((p, a), n) in PROVIDERS.iter().zip(&addresses).zip(&before) {
        let mails = report_emails(a);
        assert_eq!(mails.len(), n + 1, "{p}");
        let mail = &mails[*n];
        let names: Vec<_> = mail.attachments.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["2026-02-14-deployments.csv", "2026-02-14-errors.csv", "2026-02-14-month-to-date.csv"]);
        // The error rows left memory during the run (spill) and came back for the attachment.
        for (k, file) in ["deployments.csv", "errors.csv", "month-to-date.csv"].iter().enumerate() {
            assert_eq!(mail.attachments[k].1, expected[&format!("providers/{p}/{file}")], "{p} {file} attachment");
        }
        assert!(!mail.html.is_empty() && !mail.text.is_empty());
    }
    let acme_mail = &report_emails(&addresses[0])[before[0]];
    let via_data_json = report_emails_from_data_json(&addresses[0]);
    assert_eq!(via_data_json.len(), before[0] + 1);
    assert_eq!(via_data_json[before[0]].attachments, acme_mail.attachments);
    assert!(acme_mail.text.contains("1204.63") && acme_mail.html.contains("843.24"), "totals in the bodies");
    assert_the_provider_email_fulfils_the_seed(acme_mail, &app.config);
    // The chart's read, one item per page: the same rows across page boundaries.
    let charts = nightly_reports::aws::chart_source::StoredReportCharts::new(&aws.reports).with_page_limit(1);
    let first: chrono::NaiveDate = "2026-01-16".parse().expect("date");
    let rows = charts.stored_rows("acme-software", first, "2026-02-13".parse().expect("date")).await.expect("rows");
    let dates: Vec<String> = rows.iter().map(|r| r.report_date.to_string()).collect();
    assert_eq!(dates, ["2026-01-16", "2026-02-10"]);
    let team = team_emails_about("summary for 2026-02-14");
    assert_eq!(team.len(), team_before + 1);
    assert_eq!(team[team_before].attachments[0].1, expected["marketplace-summary.csv"]);

    // Re-run: byte-identical files and items, nothing sent again.
    let again = run_job(&request, &Resend::Nothing, Some(&aws)).await.expect("second run");
    assert_eq!((again.emails_sent, again.emails_already_sent), (0, 4));
    assert_eq!(files_under(&out.join("2026-02-14")), written);
    let in_bucket_again = report_objects("2026-02-14").await;
    assert_eq!(in_bucket_again, in_bucket, "the re-run overwrote the objects with the same bytes");
    let stored_after = (initech_on_the_14th().await, query(&reports_table, None, "pk", "SUMMARY#2026-02-14").await);
    assert_eq!(stored_after, stored_before);
    for (a, n) in addresses.iter().zip(&before) {
        assert_eq!(report_emails(a).len(), n + 1, "nothing sent twice");
    }
    assert_eq!(team_emails_about("summary for 2026-02-14").len(), team_before + 1);

    // An explicit re-send sends once more.
    let resend = JobRequest { delivery: Delivery { store: false, send: true, resend: true }, ..request.clone() };
    assert_eq!(run_job(&resend, &Resend::All, Some(&aws)).await.expect("resend").emails_sent, 4);
    assert_eq!(report_emails(&addresses[0]).len(), before[0] + 2);
}

/// A report row as a night stores it (`marketplace_reports::storage`), product
/// `acme-vault` in USD, remuneration 70 %.
fn stored_report_row(provider: &str, date: &str, deployments: &str, revenue: &str) -> HashMap<String, AttributeValue> {
    let revenue_d: rust_decimal::Decimal = revenue.parse().expect("amount");
    let remuneration = (revenue_d * rust_decimal::Decimal::new(7, 1)).round_dp(2);
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: &str| AttributeValue::N(v.to_owned());
    [
        ("pk", s(&format!("PROVIDER#{provider}"))),
        ("sk", s(&format!("DAY#{date}#PRODUCT#acme-vault#USD"))),
        ("kind", s("report")),
        ("report_date", s(date)),
        ("provider_id", s(provider)),
        ("product_id", s("acme-vault")),
        ("product_name", s("Acme Vault")),
        ("currency", s("USD")),
        ("deployments", n(deployments)),
        ("succeeded", n(deployments)),
        ("failed", n("0")),
        ("errors_in_succeeded", n("0")),
        ("errors_in_failed", n("0")),
        ("billable_revenue", s(revenue)),
        ("remuneration_value", s(&format!("{remuneration:.2}"))),
        ("marketplace_fee", s(&format!("{:.2}", revenue_d - remuneration))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The provider's report email as the seed promises it: the contact greeted by name, the company
/// in the subject, month-to-date totals, the amounts explained, the portal's files page, the
/// 30-day chart as an inline PNG (with its table in both parts), and the representative last.
fn assert_the_provider_email_fulfils_the_seed(mail: &SentEmail, config: &marketplace_core::PortalConfig) {
    assert_eq!(mail.subject, "Acme Software <GmbH>: your marketplace deployment report for 2026-02-14");
    assert!(mail.text.starts_with("Hello Jane Doe,\n"), "{}", mail.text);
    assert!(
        mail.text.contains(
            "Month to date (2026-02-01 to 2026-02-14):\n\nCurrency | Deployments | Billable revenue | Your remuneration | Marketplace fee\nUSD | 10 | 1206.16 | 844.31 | 361.85\n"
        ),
        "the month-to-date file's rows summed: {}",
        mail.text
    );
    for line in marketplace_reports::email::MONEY_EXPLAINED {
        assert!(mail.text.contains(line), "{line}");
    }
    assert!(mail.text.contains(&format!("{}/reports/2026-02-14", config.portal_url.trim_end_matches('/'))));
    assert!(mail.text.contains("GET /providers/acme-software/reports/2026-02-14/files"));
    let representative = marketplace_core::provider::reports_help_line(None, config);
    assert!(mail.text.ends_with(&format!("{representative}\n\n-- \nThe Marketplace team <{}>\n", config.team_inbox)));

    // The chart: one inline PNG, referenced by its Content-ID from the HTML part.
    let cid = marketplace_reports::email::chart_content_id("2026-02-14");
    assert_eq!(mail.inline.len(), 1, "one inline part");
    let (content_id, content_type, png) = &mail.inline[0];
    assert_eq!((content_id.as_str(), content_type.as_str()), (cid.as_str(), "image/png"));
    assert!(mail.html.contains(&format!("src=\"cid:{cid}\"")), "{}", mail.html);
    let decoder = png::Decoder::new(std::io::Cursor::new(png.as_slice()));
    let mut reader = decoder.read_info().expect("a PNG");
    let (width, height) = (reader.info().width, reader.info().height);
    assert_eq!((width, height), (nightly_reports::chart::WIDTH, nightly_reports::chart::HEIGHT));
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    reader.next_frame(&mut pixels).expect("the PNG decodes");
    assert!(pixels.iter().any(|&b| b != pixels[0]), "not a blank image");
    // Its figures in the text part: the stored 10th and the run's 14th, and the 30-day totals.
    let row = |date: &str| -> Vec<String> {
        mail.text
            .lines()
            .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .find(|cells| cells.first().is_some_and(|c| c == date))
            .unwrap_or_default()
    };
    assert_eq!(row("2026-01-15"), Vec::<String>::new(), "before the chart's 30 days");
    assert_eq!(row("2026-01-16"), ["2026-01-16", "1", "5.00"], "the chart's first day");
    assert_eq!(row("2026-01-17"), ["2026-01-17", "0", "0.00"]);
    assert_eq!(row("2026-02-10"), ["2026-02-10", "3", "30.00"]);
    assert_eq!(row("2026-02-14"), ["2026-02-14", "6", "1204.63"]);
    assert_eq!(row("Total"), ["Total", "10", "1239.63"]);
    assert!(mail.text.contains("Chart of deployments and billable revenue per day from 2026-01-16 to 2026-02-14"));
}

#[tokio::test]
async fn a_night_reads_only_its_day_and_a_backfill_must_cover_the_later_dates() {
    moto_endpoint();
    let mut aws = AwsContext::from_env().await.expect("local stack env");
    // Pages of two items: every paged read (day shards, month sums, marks, stale keys) crosses
    // page boundaries.
    aws.logs = aws.logs.clone().with_page_limit(2);
    aws.reports = aws.reports.clone().with_page_limit(2);
    let month = "2025-07-";
    assert_eq!(aws.logs.load(golden_logs_in(month)).await.expect("load"), 34);
    let date = |d: &str| format!("{month}{d}").parse::<chrono::NaiveDate>().expect("date");
    let out = std::env::temp_dir().join(unique("reports-mtd"));

    // The first night ever: no stored month sums, so it reads the month so far (13 days).
    let first =
        run_job(&table_run(ReportPlan::single(date("13")), &out), &Resend::Nothing, Some(&aws)).await.expect("13th");
    assert_eq!((first.days_read, first.items), (13, 15), "{first:?}");

    // A log of the 13th arrives after the 13th was reported.
    let late = golden_logs_in(month)
        .into_iter()
        .find(|i| matches!(i.get("finished_at"), Some(AttributeValueD::S(s)) if s.starts_with(&format!("{month}13"))))
        .map(|mut item| {
            item.insert("deployment_id".into(), AttributeValueD::S("late-13".into()));
            let sk = format!("{month}13T23:59:59Z#late-13");
            item.insert("sk".into(), AttributeValueD::S(sk));
            item
        })
        .expect("a log of the 13th");
    let late_product = match late.get("product_id") {
        Some(AttributeValueD::S(p)) => p.clone(),
        _ => panic!("product id"),
    };
    aws.logs.load(vec![late]).await.expect("load the late log");
    // The next night reads its own day only, and its month-to-date is still right to the cent.
    let next =
        run_job(&table_run(ReportPlan::single(date("14")), &out), &Resend::Nothing, Some(&aws)).await.expect("14th");
    assert_eq!((next.days_read, next.items), (1, 14), "{next:?}");
    // No day is read twice: the late log is named from the DeploymentLogs stream by the late-logs
    // function, which this test does not run (tests/tests/late_logs.rs does).
    assert_eq!((next.late_logs.clone(), next.late_log_count), (vec![], 0), "{next:?}");
    let expected = files_under(&fixture().join("expected/2026-02-14"));
    let shifted = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace("2026-02-", month);
    let written = files_under(&out.join(format!("{month}14")));
    for (path, bytes) in &expected {
        if path != "rejected.csv" {
            assert_eq!(String::from_utf8_lossy(&written[path]), shifted(bytes), "{path}");
        }
    }

    // Re-running the 13th alone would leave the 14th's month-to-date stale: refused, naming it.
    let refused = run_job(&table_run(ReportPlan::single(date("13")), &out), &Resend::Nothing, Some(&aws)).await;
    match refused {
        Err(AppError::LaterDatesReported { later, through, .. }) => {
            assert_eq!((later, through), (vec![date("14")], date("14")))
        }
        other => panic!("expected a refusal naming the 14th, got {other:?}"),
    }

    // The backfill the refusal asked for: the 14th's month-to-date now includes the late log.
    let backfill =
        run_job(&table_run(ReportPlan::new(date("13"), date("14")).expect("plan"), &out), &Resend::Nothing, Some(&aws))
            .await
            .expect("backfill 13..14");
    assert_eq!(backfill.days_read, 14, "no month sums before the 13th: the month so far, through the 14th");
    let mtd = |dir: &str| -> u64 {
        let tree = files_under(&out.join(format!("{month}{dir}")));
        tree.iter()
            .filter(|(p, _)| p.ends_with("month-to-date.csv"))
            .flat_map(|(_, b)| String::from_utf8_lossy(b).lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
            .filter(|l| l.contains(&format!(",{late_product},")))
            .map(|l| l.split(',').nth(6).and_then(|n| n.parse::<u64>().ok()).expect("deployments column"))
            .sum()
    };
    let expected_mtd: u64 = expected
        .iter()
        .filter(|(p, _)| p.ends_with("month-to-date.csv"))
        .flat_map(|(_, b)| String::from_utf8_lossy(b).lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| l.contains(&format!(",{late_product},")))
        .map(|l| l.split(',').nth(6).and_then(|n| n.parse::<u64>().ok()).expect("deployments column"))
        .sum();
    assert_eq!(mtd("14"), expected_mtd + 1, "the late log counts in the 14th's month to date");

    // And the night after builds on the re-derived sums: one day read, the late log still in.
    let after =
        run_job(&table_run(ReportPlan::single(date("15")), &out), &Resend::Nothing, Some(&aws)).await.expect("15th");
    assert_eq!((after.days_read, after.late_log_count), (1, 0), "{after:?}");
}

#[tokio::test]
async fn a_rejected_address_stops_no_other_delivery_and_concurrent_runs_send_each_report_once() {
    let app = app().await;
    let suffix = unique("r").replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let ids: Vec<String> = PROVIDERS.iter().map(|p| format!("{p}-{suffix}")).collect();
    let addresses: Vec<String> = ids.iter().map(|p| format!("reports-{p}@provider.example")).collect();
    for (p, a) in ids.iter().zip(&addresses) {
        app.handle(&signup_notification::SignupNotification, batch_of(&[signup_event(p, a)])).await;
        assert!(stored_provider(&app, p).await.is_some());
    }
    // SES refuses initech's address (moto, like SES, rejects an address without a domain).
    let marketplace = std::env::var("MARKETPLACE_TABLE").expect("MARKETPLACE_TABLE");
    dynamodb()
        .await
        .update_item()
        .table_name(&marketplace)
        .key("pk", AttributeValue::S(format!("PROVIDER#{}", ids[2])))
        .key("sk", AttributeValue::S("PROFILE".into()))
        .update_expression("SET contact_email = :broken")
        .expression_attribute_values(":broken", AttributeValue::S("reports-without-domain".into()))
        .send()
        .await
        .expect("break the address");

    // The golden logs, in a month of their own, for this test's providers.
    let month = "2025-08-";
    let items: Vec<_> = std::fs::read_to_string(fixture().join("deployment-logs-export.json"))
        .expect("fixture")
        .lines()
        .map(|l| {
            let mut line = l.replace("2026-02-", month);
            for (p, id) in PROVIDERS.iter().zip(&ids) {
                line = line.replace(&format!("\"{p}\""), &format!("\"{id}\""));
            }
            parse_export_line(&line.replace("\"d-", &format!("\"d-{suffix}-"))).expect("export line")
        })
        .collect();
    let aws = AwsContext::from_env().await.expect("local stack env");
    aws.logs.load(items).await.expect("load");
    let date: chrono::NaiveDate = format!("{month}14").parse().expect("date");
    let out = std::env::temp_dir().join(unique("reports-recipients"));
    let request = JobRequest {
        plan: ReportPlan::single(date),
        source: Source::Table,
        partition: None,
        out: out.clone(),
        delivery: Delivery { store: false, send: true, resend: false },
        parallelism: 4,
    };

    // Two runs of the same date at once, through the real delivery ledger.
    let (a, b) =
        tokio::join!(run_job(&request, &Resend::Nothing, Some(&aws)), run_job(&request, &Resend::Nothing, Some(&aws)));
    let mut sent = 0;
    for result in [a, b] {
        match result {
            Err(AppError::Undelivered(summary)) => {
                assert!(
                    summary.failed_deliveries.iter().all(|f| f.contains(&ids[2])),
                    "only initech is named: {:?}",
                    summary.failed_deliveries
                );
                sent += summary.emails_sent;
            }
            // The other run may have found initech's claim taken (in doubt) and failed nothing.
            Ok(summary) => {
                assert_eq!(summary.failed_deliveries.len(), 0);
                sent += summary.emails_sent;
            }
            Err(e) => panic!("unexpected failure: {e}"),
        }
    }
    assert_eq!(sent, 3, "acme, globex and the team, once between both runs");
    for a in &addresses[..2] {
        let mails: Vec<_> = emails_to(a).into_iter().filter(|e| e.subject.contains(&date.to_string())).collect();
        assert_eq!(mails.len(), 1, "{a} got its report exactly once");
    }
    let team = team_emails_about(&format!("summary for {date}"));
    assert_eq!(team.len(), 1, "the team summary went out once despite initech");

    // Fixed address: the next run delivers initech only (its failed claim was released).
    dynamodb()
        .await
        .update_item()
        .table_name(&marketplace)
        .key("pk", AttributeValue::S(format!("PROVIDER#{}", ids[2])))
        .key("sk", AttributeValue::S("PROFILE".into()))
        .update_expression("SET contact_email = :fixed")
        .expression_attribute_values(":fixed", AttributeValue::S(addresses[2].clone()))
        .send()
        .await
        .expect("fix the address");
    let retry = run_job(&request, &Resend::Nothing, Some(&aws)).await.expect("retry");
    assert_eq!((retry.emails_sent, retry.emails_already_sent), (1, 3), "{retry:?}");

    // An operator's re-send of one provider through the Lambda payload.
    let payload: ScheduledRun =
        serde_json::from_value(serde_json::json!({"date": date, "resend": [ids[0]]})).expect("payload");
    let result = handle_scheduled(&payload, &aws, &out, 4).await.expect("resend run");
    assert_eq!((result["emails_sent"].as_u64(), result["emails_already_sent"].as_u64()), (Some(1), Some(3)));
    let acme: Vec<_> = emails_to(&addresses[0]).into_iter().filter(|e| e.subject.contains(&date.to_string())).collect();
    assert_eq!(acme.len(), 2, "acme's report re-sent");
    let bad = serde_json::from_value::<ScheduledRun>(serde_json::json!({"date": date, "resend": "everyone"}))
        .expect("parses");
    assert!(matches!(
        handle_scheduled(&bad, &aws, &out, 4).await,
        Err(AppError::Config(marketplace_core::DomainError::Invalid(_)))
    ));
}
