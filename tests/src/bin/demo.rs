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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    marketplace_aws::telemetry::init();
    let app = marketplace_tests::app().await;
    let mut seen = 0;

    println!("== 1. sign-up notification: ProviderAccountCreated");
    let response = signup_notification::handle(&app, load("provider-account-created.json")?).await;
    anyhow::ensure!(response.batch_item_failures.is_empty(), "sign-up failed: {response:?}");
    print_new_emails(&mut seen);
    Ok(())
}
