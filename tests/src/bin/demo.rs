//! The README's main command (`./dev demo`): runs the marketplace lifecycle on the local stack
//! with the sample events in `events/` and prints every email that came out.

use aws_lambda_events::event::sqs::SqsEvent;
use marketplace_tests::sent_emails;

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
        println!();
        println!("{}", email.text.trim_end());
    }
    *seen = emails.len();
}

enum Step {
    Signup,
    Mpa,
    Publish,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    marketplace_aws::telemetry::init();
    let app = marketplace_tests::app().await;
    let mut seen = 0;

    let steps: [(&str, &str, Step); 4] = [
        ("1. sign-up notification: ProviderAccountCreated", "provider-account-created.json", Step::Signup),
        ("2. MPA accepted by the provider: MpaAccepted", "mpa-accepted.json", Step::Mpa),
        ("3. MPA approved by the marketplace team: MpaApproved", "mpa-approved.json", Step::Mpa),
        ("4. product publishing: ProductPublishRequested", "product-publish-requested.json", Step::Publish),
    ];
    for (title, file, step) in steps {
        println!("\n== {title} (events/{file})");
        let batch = load(file)?;
        let response = match step {
            Step::Signup => signup_notification::handle(&app, batch).await,
            Step::Mpa => mpa_approval::handle(&app, batch).await,
            Step::Publish => product_publishing::handle(&app, batch).await,
        };
        anyhow::ensure!(response.batch_item_failures.is_empty(), "{title} failed: {response:?}");
        print_new_emails(&mut seen);
    }
    Ok(())
}
