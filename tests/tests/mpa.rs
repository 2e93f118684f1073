//! MPA approval against the local stack: every transition, authorisation, out-of-order events,
//! duplicate delivery and a 50-way approve/reject race.

use marketplace_core::provider::MpaStatus;
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
    let mpa_link = "The Marketplace Provider Agreement, version 2026-01: https://marketplace.example.com/legal/mpa";
    assert!(receipts[0].text.contains(mpa_link), "{}", receipts[0].text);
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
    assert!(approvals[0].html.contains("<a href=\"https://marketplace.example.com/legal/mpa\">"));
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
        ("acceptance by another provider's user", {
            let mut e = mpa_accepted(&provider, V);
            e["detail"]["actor"]["provider_id"] = json!("someone-else");
            e
        }),
        ("acceptance by the marketplace team", {
            let mut e = mpa_accepted(&provider, V);
            e["detail"]["actor"] = json!({"id": "user-1", "role": "marketplace-team"});
            e
        }),
        ("acceptance in someone else's name", {
            let mut e = mpa_accepted(&provider, V);
            e["detail"]["actor"]["id"] = json!("user-2");
            e
        }),
    ];
    for (name, event) in cases {
        let report = mpa_report(&app, &[event]).await;
        assert_eq!(rejected(&report), vec!["m0"], "{name}: rejected for good");
        assert!(retried(&report).is_empty(), "{name}: not retried");
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
        let report = mpa_report(&app, &[event]).await;
        assert_eq!(rejected(&report), vec!["m0"], "{name}: rejected for good");
        assert!(retried(&report).is_empty(), "{name}: not retried");
        assert_eq!(stored_provider(&app, &provider).await.unwrap(), pending, "{name}: nothing written");
    }
    let decisions = emails_to(&address)
        .into_iter()
        .filter(|e| e.subject.starts_with("MPA approved") || e.subject.starts_with("MPA not"))
        .count();
    assert_eq!(decisions, 0);
}

#[tokio::test]
async fn an_unknown_provider_is_retried_not_recorded() {
    let app = app().await;
    let provider = unique("mpa-ghost");
    // Its sign-up may still be on its way through the other queue.
    let report = mpa_report(&app, &[mpa_accepted(&provider, V)]).await;
    assert_eq!(retried(&report), vec!["m0"]);
    assert!(rejected(&report).is_empty());
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
        futures::future::join_all(events.iter().map(|e| async move { mpa_report(app, std::slice::from_ref(e)).await }))
            .await;

    let won =
        |r: &marketplace_aws::BatchReport| matches!(r.records[0].outcome, marketplace_aws::RecordOutcome::Processed(_));
    let winners = results.iter().filter(|r| won(r)).count();
    assert_eq!(winners, 1, "exactly one decision wins");
    assert!(
        results.iter().filter(|r| !won(r)).all(|r| rejected(r) == vec!["m0"]),
        "every loser is a permanent conflict"
    );
    let winner = &events[results.iter().position(won).unwrap()];
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

    let report = mpa_report(&app, &[mpa_accepted(&provider, V)]).await;
    assert_eq!(rejected(&report), vec!["m0"], "the old version is no longer accepted");
    assert!(run_mpa(&app, &[mpa_accepted(&provider, "2027-01")]).await.is_empty());
    assert!(run_mpa(&app, &[mpa_decision(&provider, "2027-01", true, "marketplace-team")]).await.is_empty());
    assert!(stored_provider(&app, &provider).await.unwrap().mpa_approved_on("2027-01"));
}

/// The user who accepted (not the contact) gets the decision too: exactly once per address,
/// through redeliveries and a batch holding the event twice; the email's raw MIME names both.
#[tokio::test]
async fn decisions_reach_the_user_who_accepted_exactly_once() {
    let app = app().await;
    for approve in [true, false] {
        let (provider, contact) = signed_up_provider(&app, if approve { "mpa-acc-ok" } else { "mpa-acc-no" }).await;
        let acceptor = format!("legal-{provider}@provider.example");
        assert!(run_mpa(&app, &[mpa_accepted(&provider, V)]).await.is_empty());
        let decision = mpa_decision(&provider, V, approve, "marketplace-team");
        assert!(run_mpa(&app, std::slice::from_ref(&decision)).await.is_empty());
        assert!(run_mpa(&app, std::slice::from_ref(&decision)).await.is_empty(), "redelivery");
        assert!(run_mpa(&app, &[decision.clone(), decision]).await.is_empty(), "twice in one batch");

        let subject = if approve { "MPA approved" } else { "MPA not approved" };
        let to_acceptor: Vec<_> = emails_to(&acceptor).into_iter().filter(|e| e.subject.starts_with(subject)).collect();
        let to_contact: Vec<_> = emails_to(&contact).into_iter().filter(|e| e.subject.starts_with(subject)).collect();
        assert_eq!(to_acceptor.len(), 1, "{subject}: exactly one copy for the user who accepted");
        assert_eq!(to_contact.len(), 1, "{subject}: exactly one for the contact");
        assert_eq!(to_acceptor[0].to, [contact.clone(), acceptor.clone()], "one message to both");
        // Both people are named: the contact Jane Doe accepted through a user also called Jane Doe
        // in these fixtures, so the greeting names her once.
        assert!(to_acceptor[0].text.starts_with("Hello Jane Doe,"), "{}", to_acceptor[0].text);
        let ledger: Vec<_> = provider_items(&provider)
            .await
            .into_iter()
            .filter(|i| {
                attr_s(i, "sk").starts_with("EMAIL#")
                    && attr_s(i, "kind").starts_with(if approve { "mpa-approved" } else { "mpa-rejected" })
            })
            .collect();
        assert_eq!(ledger.len(), 1, "one outbox intent covers both addresses");
        assert_eq!(attr_s(&ledger[0], "status"), "SENT");
    }
}
