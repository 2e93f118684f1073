//! The README's main command (`./dev demo`): runs the marketplace lifecycle on the local stack
//! with the sample events in `events/` and prints every email that came out.

use aws_lambda_events::event::sqs::SqsEvent;
use marketplace_aws::report_files::statement_object_key;
use marketplace_reports::attribute::parse_export_line;
use marketplace_reports::delivery::Resend;
use marketplace_reports::ReportPlan;
use marketplace_tests::sent_emails;
use nightly_reports::app::{run_job, AwsContext, JobRequest, Source};
use nightly_reports::cli::Delivery;
use nightly_reports::statement_run::{run_statements, StatementRequest};

fn load(name: &str) -> anyhow::Result<SqsEvent> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn print_new_emails(seen: &mut usize) {
    let emails = sent_emails();
    for email in &emails[*seen..] {
        println!("──────────────────────────────────────────────────────────────────────");
        println!("From:     {}", email.from);
        println!("Reply-To: {}", email.reply_to);
        println!("To:       {}", email.to.join(", "));
        println!("Subject:  {}", email.subject);
        for (name, data) in &email.attachments {
            println!("Attached: {name} ({} bytes)", data.len());
        }
        for (content_id, content_type, data) in &email.inline {
            println!("Inline:   <{content_id}> ({content_type}, {} bytes)", data.len());
        }
        println!();
        println!("{}", email.text.trim_end());
    }
    *seen = emails.len();
}

enum Step {
    Signup,
    Mpa,
    Publish,
    /// The sample publish request again, as the portal would send it later: a new event id and time.
    PublishAgain,
    /// The report job's MPA campaign alone.
    Campaign,
}

/// `batch`'s events as new requests made at `time` (new event ids): the sample publish request
/// made again after the withdrawal.
fn made_again(mut batch: SqsEvent, time: &str) -> anyhow::Result<SqsEvent> {
    for record in &mut batch.records {
        let mut body: serde_json::Value = serde_json::from_str(record.body.as_deref().unwrap_or("{}"))?;
        body["id"] = format!("{}-again", body["id"].as_str().unwrap_or_default()).into();
        body["time"] = time.into();
        record.body = Some(body.to_string());
        record.message_id = record.message_id.as_ref().map(|id| format!("{id}-again"));
    }
    Ok(batch)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    marketplace_aws::telemetry::init();
    let app = marketplace_tests::app().await;
    let mut seen = 0;

    let steps: [(&str, &str, Step); 6] = [
        ("1. sign-up notification: ProviderAccountCreated", "provider-account-created.json", Step::Signup),
        ("2. MPA accepted by the provider: MpaAccepted", "mpa-accepted.json", Step::Mpa),
        ("3. MPA approved by the marketplace team: MpaApproved", "mpa-approved.json", Step::Mpa),
        ("4. product publishing: ProductPublishRequested", "product-publish-requested.json", Step::Publish),
        ("4a. the provider withdraws the product: ProductWithdrawn", "product-withdrawn.json", Step::Publish),
        (
            "4b. and publishes it again: ProductPublishRequested, a day later",
            "product-publish-requested.json",
            Step::PublishAgain,
        ),
    ];
    for (title, file, step) in steps {
        println!("\n== {title} (events/{file})");
        let batch = match step {
            Step::PublishAgain => made_again(load(file)?, "2026-11-27T09:00:00Z")?,
            _ => load(file)?,
        };
        let response = match step {
            Step::Signup => app.handle(&signup_notification::SignupNotification, batch).await,
            Step::Mpa => app.handle(&mpa_approval::MpaApproval, batch).await,
            Step::Publish | Step::PublishAgain => app.handle(&product_publishing::ProductPublishing, batch).await,
            Step::Campaign => anyhow::bail!("{title}: the campaign is a run of the report job, not a portal event"),
        };
        anyhow::ensure!(response.batch_item_failures.is_empty(), "{title} failed: {response:?}");
        print_new_emails(&mut seen);
    }

    let logs = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../jobs/nightly-reports/tests/fixtures/reports-2026-02-14/deployment-logs-export.json");
    println!("\n== 5. deployments: the deployment engine's logs go into the DeploymentLogs table ({})", logs.display());
    let aws = AwsContext::from_env().await?;
    let items = std::fs::read_to_string(&logs)?
        .lines()
        .map(parse_export_line)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", logs.display()))?;
    println!("loaded {} deployment log items", aws.logs.load(items).await?);

    println!("\n== 6. nightly reports for 2026-02-14 (read by day-shard queries, stored, emailed)");
    let out = std::path::PathBuf::from("out/reports");
    // The earlier nights of the month, stored but not emailed: the 14th's email charts them.
    let earlier = JobRequest {
        plan: ReportPlan::new("2026-02-01".parse()?, "2026-02-13".parse()?)?,
        source: Source::Table,
        partition: None,
        out: out.clone(),
        delivery: Delivery { store: true, send: false, resend: false },
        parallelism: 8,
    };
    let stored = run_job(&earlier, &Resend::Nothing, Some(&aws)).await?;
    println!("earlier nights 2026-02-01..13 stored (not emailed): {} report items", stored.items_stored);
    let request = JobRequest {
        plan: ReportPlan::single("2026-02-14".parse()?),
        source: Source::Table,
        partition: None,
        out: out.clone(),
        delivery: Delivery { store: true, send: true, resend: false },
        parallelism: 8,
    };
    let summary = run_job(&request, &Resend::Nothing, Some(&aws)).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    let summary_csv = out.join("2026-02-14/marketplace-summary.csv");
    println!("\n{}:\n{}", summary_csv.display(), std::fs::read_to_string(&summary_csv)?);
    let acme_csv = out.join("2026-02-14/providers/acme-software/deployments.csv");
    println!("{}:\n{}", acme_csv.display(), std::fs::read_to_string(&acme_csv)?);
    let report_emails_from = seen;
    print_new_emails(&mut seen);
    // The provider's 30-day chart, as its email carries it inline.
    let chart_email = sent_emails()
        .into_iter()
        .skip(report_emails_from)
        .find(|e| e.subject.ends_with("deployment report for 2026-02-14") && !e.inline.is_empty());
    if let Some(email) = chart_email {
        let dir = std::path::PathBuf::from("out/emails");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("acme-software-2026-02-14-chart.png");
        std::fs::write(&path, &email.inline[0].2)?;
        println!("\nThe chart in the report email to {} is saved as {}", email.to.join(", "), path.display());
        println!("The email's text body:\n\n{}", email.text.trim_end());
    }

    // A statement needs a finished daily run of every day of its month: the rest of February.
    let rest = JobRequest {
        plan: ReportPlan::new("2026-02-15".parse()?, "2026-02-28".parse()?)?,
        source: Source::Table,
        partition: None,
        out: out.clone(),
        delivery: Delivery { store: true, send: false, resend: false },
        parallelism: 8,
    };
    let stored = run_job(&rest, &Resend::Nothing, Some(&aws)).await?;
    println!("\nlater nights 2026-02-15..28 stored (not emailed): {} report items", stored.items_stored);

    println!("\n== 7. monthly statement for 2026-02 (what the schedule on the 1st runs: {{\"mode\": \"statement\"}})");
    let month = "2026-02".parse()?;
    let request =
        StatementRequest { month, out: out.clone(), send: true, resend: Default::default(), scan_page_limit: None };
    let summary = run_statements(&request, &aws).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    if let Some(files) = &aws.files {
        println!("stored: s3://{}/{}", files.bucket(), statement_object_key(month, "acme-software"));
    }
    println!("stored: Reports item PROVIDER#acme-software / STATEMENT#2026-02");
    print_new_emails(&mut seen);

    println!("\n== 8. the provider reads its reports through the reports API (events/api-*.json through the handler)");
    let reader = reports_api::AwsReportReader::from_env().await?;
    let today = chrono::Utc::now().date_naive();
    for file in [
        "api-provider-reports.json",
        "api-provider-statement.json",
        "api-provider-report-files.json",
        "api-other-provider.json",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(file);
        let request = reports_api::lambda_http::request::from_str(&std::fs::read_to_string(&path)?)?;
        let response = reports_api::handle(&reader, today, &request).await;
        println!("\n{} {} (events/{file}) -> {}", request.method(), request.uri().path(), response.status());
        if let reports_api::lambda_http::Body::Text(text) = response.body() {
            println!("{}", serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(text)?)?);
        }
    }

    println!(
        "\n== 8a. SES reports that the report email bounced: the email-feedback function (events/ses-bounce.json)"
    );
    let bounce: aws_lambda_events::event::sns::SnsEvent = serde_json::from_str(&std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/ses-bounce.json"),
    )?)?;
    let counters = marketplace_portal::metrics::Counters::default();
    let (counts, result) = email_feedback::handle(&app, app.services(&counters), bounce).await;
    result?;
    println!("{}", serde_json::to_string_pretty(&counts)?);
    if let Some(provider) = marketplace_tests::stored_provider(&app, "acme-software").await {
        println!(
            "the provider record's undeliverable addresses: {}",
            serde_json::to_string_pretty(&provider.undeliverable)?
        );
    }
    println!("(until the contact changes, no email goes to it: portal emails are suppressed, reports and statements recorded as suppressed)");
    print_new_emails(&mut seen);

    // A provider's later life: its contact changes (the former and the new contact are told), the
    // team publishes a new MPA version (no email itself: the report job's campaign asks the
    // providers approved on an older one), and the team offboards the provider.
    let later: [(&str, &str, Step); 4] = [
        ("9. the provider's contact changes: ProviderContactChanged", "provider-contact-changed.json", Step::Signup),
        ("10. a new MPA version is published: MpaVersionPublished", "mpa-version-published.json", Step::Mpa),
        ("10a. the MPA campaign: the report job asks the providers approved on an older version to accept it ({\"mode\": \"mpa_campaign\"})", "", Step::Campaign),
        ("11. the team offboards the provider: ProviderOffboarded", "provider-offboarded.json", Step::Signup),
    ];
    for (title, file, step) in later {
        println!("\n== {title}{}", if file.is_empty() { String::new() } else { format!(" (events/{file})") });
        let response = match step {
            Step::Campaign => {
                let campaign = nightly_reports::app::mpa_campaign::run_mpa_campaign(&aws, &Resend::Nothing).await?;
                println!("{}", serde_json::to_string_pretty(&campaign)?);
                print_new_emails(&mut seen);
                continue;
            }
            Step::Signup => app.handle(&signup_notification::SignupNotification, load(file)?).await,
            _ => app.handle(&mpa_approval::MpaApproval, load(file)?).await,
        };
        anyhow::ensure!(response.batch_item_failures.is_empty(), "{title} failed: {response:?}");
        print_new_emails(&mut seen);
    }
    Ok(())
}
