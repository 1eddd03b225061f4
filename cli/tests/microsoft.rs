//! The CLI with Partner Center configured (`PARTNER_CENTER_*` pointing at the HTTP
//! stand-in): links, the commands they cause, their JSON, and reconciliation.

use renewals_microsoft::standin::{PartnerCenterStandIn, CLIENT_ID, CLIENT_SECRET};
use std::process::{Command, Output};

const CID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const SID: &str = "a4c1340d-6911-4758-bba3-0c4c6007d161";

fn run(dir: &std::path::Path, pc: &PartnerCenterStandIn, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_renewals"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("RENEWALS_CATALOG")
        .env("PARTNER_CENTER_BASE_URL", &pc.base_url)
        .env("PARTNER_CENTER_TOKEN_URL", pc.token_url())
        .env("PARTNER_CENTER_CLIENT_ID", CLIENT_ID)
        .env("PARTNER_CENTER_CLIENT_SECRET", CLIENT_SECRET)
        .output()
        .unwrap()
}

fn json(out: Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_off_reaches_partner_center_and_the_commands_and_the_drift_are_listed() {
    let pc = PartnerCenterStandIn::start().await;
    pc.add_subscription(CID, SID, 10, chrono::Utc::now() - chrono::Duration::days(3));
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let run = |args: &[&str]| {
        let (dir, pc, args) = (
            dir.to_path_buf(),
            pc.clone(),
            args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        );
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&dir, &pc, &args)
        })
    };
    let t = json(
        run(&[
            "tenant",
            "add",
            "--id",
            "acme",
            "--name",
            "Acme",
            "--nip",
            "5260001246",
            "--email",
            "f@acme.example.pl",
            "--microsoft-tenant",
            CID,
            "--json",
        ])
        .await
        .unwrap(),
    );
    assert_eq!(t["microsoft_tenant"], CID);
    let s = json(
        run(&[
            "subscription",
            "add",
            "--tenant",
            "acme",
            "--product",
            "business-basic",
            "--seats",
            "10",
            "--term",
            "monthly",
            "--start",
            "2026-01-31",
            "--microsoft-subscription",
            SID,
            "--json",
        ])
        .await
        .unwrap(),
    );
    assert_eq!(s["microsoft_subscription"], SID);
    let out = run(&["renewal", "off", "--subscription", "acme-1"])
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pc.subscription(CID, SID)["autoRenewEnabled"], false);
    assert!(pc.calls().iter().all(|c| c.authorized));

    let cmds = json(
        run(&["microsoft", "commands", "--tenant", "acme", "--json"])
            .await
            .unwrap(),
    );
    assert_eq!(
        cmds,
        serde_json::json!([{"id": "auto_renew:acme-1:off:2026-02-28", "subscription": "acme-1",
            "microsoft_subscription": SID, "kind": "auto_renew", "payload": {"enabled": false},
            "status": "done", "attempts": 1, "last_error": null}])
    );

    // Microsoft's quantity and term differ from ours: reported, exit 1, nothing changed.
    let patches = pc.changes();
    let out = run(&["microsoft", "sync", "--json"]).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["checked"], 1);
    let fields: Vec<_> = report["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].clone())
        .collect();
    assert_eq!(fields, ["term_end"], "{report}");
    assert_eq!(pc.changes(), patches);
}
