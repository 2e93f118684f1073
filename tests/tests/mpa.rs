//! MPA approval against the local stack: every transition, authorisation, out-of-order events,
//! duplicate delivery and a 50-way approve/reject race.

use marketplace_domain::provider::MpaStatus;
use marketplace_tests::*;
use serde_json::json;

const V: &str = "2026-01";

#[tokio::test]
async fn acceptance_is_recorded_and_both_sides_are_told() {
    let app = app().await;
    let (provider, address) = signed_up_provider(&app, "mpa-accept").await;

    assert!(run_mpa(&app, &[mpa_accepted(&provider, V)]).await.is_empty());

    let mpa = stored_provider(&app, &provider).await.unwrap().mpa.expect("MPA recorded");
    assert_eq!(mpa.status, MpaStatus::PendingApproval);
    assert_eq!(mpa.version, V);
    assert_eq!(mpa.accepted_by.email, format!("legal-{provider}@provider.example"));
    assert_eq!(mpa.accepted_at.to_rfc3339(), "2026-11-25T10:00:00+00:00");

    let receipts: Vec<_> = emails_to(&address).into_iter().filter(|e| e.subject.starts_with("MPA version")).collect();
    assert_eq!(receipts.len(), 1);
    assert!(
        receipts[0].to.contains(&format!("legal-{provider}@provider.example")),
        "the accepting person gets the receipt too"
    );
    assert!(receipts[0].text.contains("accepted version 2026-01"));
    let reviews = team_emails_about(&provider);
    assert_eq!(reviews.len(), 1);
    assert!(reviews[0].subject.starts_with("Review MPA acceptance"));
    assert!(reviews[0].html.contains("Acme Software &lt;GmbH&gt;"));
}

#[tokio::test]
async fn approval_lets_the_provider_publish_and_is_emailed() {
    let app = app().await;
    let (provider, address) = signed_up_provider(&app, "mpa-approve").await;
    assert!(run_mpa(&app, &[mpa_accepted(&provider, V)]).await.is_empty());
    let approve = mpa_decision(&provider, V, true, "marketplace-team");

    assert!(run_mpa(&app, std::slice::from_ref(&approve)).await.is_empty());
    assert!(run_mpa(&app, &[approve]).await.is_empty(), "redelivery is a no-op");

    let stored = stored_provider(&app, &provider).await.unwrap();
    let mpa = stored.mpa.as_ref().unwrap();
    assert_eq!(mpa.status, MpaStatus::Approved);
    assert_eq!(mpa.decided_by.as_deref(), Some("team-member-9"));
    assert!(stored.mpa_approved_on(V));
    let approvals: Vec<_> = emails_to(&address).into_iter().filter(|e| e.subject.starts_with("MPA approved")).collect();
    assert_eq!(approvals.len(), 1, "one approval email despite the redelivery");
    assert!(approvals[0].text.contains("You can now publish products"));
    // Audit entries sort by event time (EventBridge gives seconds), then event id: two events in
    // the same second have no defined order, so compare the entries, not their order.
    let mut actions: Vec<String> =
        provider_items(&provider).await.iter().map(|i| attr_s(i, "action")).filter(|a| a.starts_with("Mpa")).collect();
    actions.sort();
    assert_eq!(actions, vec!["MpaAccepted", "MpaApproved"]);
}

#[tokio::test]
async fn rejection_quotes_the_reason_and_a_new_acceptance_starts_a_new_review() {
    let app = app().await;
    let (provider, address) = signed_up_provider(&app, "mpa-reject").await;
    assert!(run_mpa(&app, &[mpa_accepted(&provider, V)]).await.is_empty());
    assert!(run_mpa(&app, &[mpa_decision(&provider, V, false, "marketplace-team")]).await.is_empty());

    let mpa = stored_provider(&app, &provider).await.unwrap().mpa.unwrap();
    assert_eq!(mpa.status, MpaStatus::Rejected);
    assert_eq!(mpa.rejection_reason.as_deref(), Some("Section 4 <tax form> is missing.\nPlease upload it."));
    let rejections: Vec<_> =
        emails_to(&address).into_iter().filter(|e| e.subject.starts_with("MPA not approved")).collect();
    assert_eq!(rejections.len(), 1);
    assert!(rejections[0].text.contains("> Section 4 <tax form> is missing.\n> Please upload it."));
    assert!(rejections[0].html.contains("Section 4 &lt;tax form&gt; is missing.<br>Please upload it."));

    assert!(run_mpa(&app, &[mpa_accepted(&provider, V)]).await.is_empty());
    assert_eq!(stored_provider(&app, &provider).await.unwrap().mpa.unwrap().status, MpaStatus::PendingApproval);
    assert_eq!(team_emails_about(&provider).len(), 2, "a second review request");
    assert!(run_mpa(&app, &[mpa_decision(&provider, V, true, "marketplace-team")]).await.is_empty());
    assert!(stored_provider(&app, &provider).await.unwrap().mpa_approved_on(V));
}

#[tokio::test]
async fn refused_commands_change_nothing_and_send_nothing() {
    let app = app().await;
    let (provider, address) = signed_up_provider(&app, "mpa-refused").await;
    let mut no_reason = mpa_decision(&provider, V, false, "marketplace-team");
    no_reason["detail"].as_object_mut().unwrap().remove("reason");
    let mut bad_acceptance = mpa_accepted(&provider, V);
    bad_acceptance["detail"]["accepted_by"]["email"] = json!("nobody");
    bad_acceptance["detail"]["accepted_at"] = json!("yesterday");

    let cases = [
        ("approval before any acceptance", mpa_decision(&provider, V, true, "marketplace-team")),
        ("rejection before any acceptance", mpa_decision(&provider, V, false, "marketplace-team")),
        ("acceptance of an old version", mpa_accepted(&provider, "2025-01")),
        ("acceptance with a bad address and time", bad_acceptance),
    ];
    for (name, event) in cases {
        assert_eq!(run_mpa(&app, &[event]).await, vec!["m0"], "{name}");
        assert!(stored_provider(&app, &provider).await.unwrap().mpa.is_none(), "{name}: nothing written");
    }

    assert!(run_mpa(&app, &[mpa_accepted(&provider, V)]).await.is_empty());
    let pending = stored_provider(&app, &provider).await.unwrap();
    let cases = [
        ("approval by a provider", mpa_decision(&provider, V, true, "provider")),
        ("rejection without a reason", no_reason),
        ("approval of another version", mpa_decision(&provider, "2025-01", true, "marketplace-team")),
        ("second acceptance while pending", mpa_accepted(&provider, V)),
    ];
    for (name, event) in cases {
        assert_eq!(run_mpa(&app, &[event]).await, vec!["m0"], "{name}");
        assert_eq!(stored_provider(&app, &provider).await.unwrap(), pending, "{name}: nothing written");
    }
    let decisions = emails_to(&address)
        .into_iter()
        .filter(|e| e.subject.starts_with("MPA approved") || e.subject.starts_with("MPA not"))
        .count();
    assert_eq!(decisions, 0);
}

#[tokio::test]
async fn an_unknown_provider_gets_an_error_not_a_record() {
    let app = app().await;
    let provider = unique("mpa-ghost");
    assert_eq!(run_mpa(&app, &[mpa_accepted(&provider, V)]).await, vec!["m0"]);
    assert!(provider_items(&provider).await.is_empty());
    assert!(team_emails_about(&provider).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_decisions_have_exactly_one_winner() {
    let app = app().await;
    let (provider, address) = signed_up_provider(&app, "mpa-race").await;
    assert!(run_mpa(&app, &[mpa_accepted(&provider, V)]).await.is_empty());

    let events: Vec<_> = (0..50).map(|i| mpa_decision(&provider, V, i % 2 == 0, "marketplace-team")).collect();
    let app = &app;
    let results =
        futures::future::join_all(events.iter().map(|e| async move { run_mpa(app, std::slice::from_ref(e)).await }))
            .await;

    let winners = results.iter().filter(|failed| failed.is_empty()).count();
    assert_eq!(winners, 1, "exactly one decision wins");
    let winner = &events[results.iter().position(|f| f.is_empty()).unwrap()];
    let mpa = stored_provider(app, &provider).await.unwrap().mpa.unwrap();
    assert_eq!(mpa.decided_event.as_deref(), winner["id"].as_str());
    let expected = if winner["detail-type"] == "MpaApproved" { MpaStatus::Approved } else { MpaStatus::Rejected };
    assert_eq!(mpa.status, expected);
    let decision_emails = emails_to(&address)
        .into_iter()
        .filter(|e| e.subject.starts_with("MPA approved") || e.subject.starts_with("MPA not approved"))
        .count();
    assert_eq!(decision_emails, 1, "exactly one decision email");
    let decisions = provider_items(&provider)
        .await
        .iter()
        .filter(|i| matches!(attr_s(i, "action").as_str(), "MpaApproved" | "MpaRejected"))
        .count();
    assert_eq!(decisions, 1, "exactly one decision in the audit trail");
}

#[tokio::test]
async fn a_new_mpa_version_requires_a_new_acceptance_and_approval() {
    let mut app = app().await;
    let (provider, _address) = approved_provider(&app, "mpa-bump").await;
    app.config.mpa_current_version = "2027-01".into();
    assert!(!stored_provider(&app, &provider).await.unwrap().mpa_approved_on("2027-01"));

    assert_eq!(run_mpa(&app, &[mpa_accepted(&provider, V)]).await, vec!["m0"], "the old version is no longer accepted");
    assert!(run_mpa(&app, &[mpa_accepted(&provider, "2027-01")]).await.is_empty());
    assert!(run_mpa(&app, &[mpa_decision(&provider, "2027-01", true, "marketplace-team")]).await.is_empty());
    assert!(stored_provider(&app, &provider).await.unwrap().mpa_approved_on("2027-01"));
}
