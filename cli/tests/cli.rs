//! The `renewals` command as an operator uses it: JSON shapes of DESIGN.md §3, and refused
//! actions that exit non-zero with one line that says why, changing nothing.

use serde_json::Value;
use std::process::{Command, Output};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_renewals"))
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .env_remove("RENEWALS_CATALOG")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    /// A refusal: non-zero exit and exactly one line on stderr.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should have been refused");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        err
    }
}

fn onboard(cli: &Cli) {
    cli.ok(&[
        "tenant",
        "add",
        "--id",
        "acme",
        "--name",
        "ACME sp. z o.o.",
        "--nip",
        "526-000-12-46",
        "--email",
        "faktury@acme.pl",
        "--payment-method",
        "transfer",
    ]);
    cli.ok(&[
        "subscription",
        "add",
        "--tenant",
        "acme",
        "--product",
        "business-basic",
        "--seats",
        "4",
        "--term",
        "monthly",
        "--start",
        "2026-01-31",
    ]);
}

#[test]
fn the_catalog_lists_the_four_plans_with_both_terms_and_a_perpetual_product() {
    let cli = Cli::new();
    let catalog = cli.json(&["catalog"]);
    let products = catalog.as_array().unwrap();
    for sku in [
        "business-basic",
        "business-standard",
        "business-premium",
        "apps-for-business",
    ] {
        let p = products.iter().find(|p| p["sku"] == sku).unwrap();
        assert_eq!(p["kind"], "subscription");
        assert!(p["prices"]["monthly"].as_str().unwrap().contains('.'));
        assert!(p["prices"]["annual"].is_string());
    }
    assert!(products.iter().any(|p| p["kind"] == "perpetual"));
}

#[test]
fn a_whole_renewal_through_the_cli_state_survives_between_invocations() {
    let cli = Cli::new();
    onboard(&cli);
    let sub = cli.json(&["subscription", "show", "--id", "acme-1"]);
    assert_eq!(sub["status"], "active");
    assert_eq!(
        (sub["period_start"].as_str(), sub["period_end"].as_str()),
        (Some("2026-01-31"), Some("2026-02-28"))
    );
    let run = cli.json(&["run", "daily", "--date", "2026-02-21"]);
    assert_eq!(run["proformas_issued"], 1);
    let docs = cli.json(&["documents", "--tenant", "acme"]);
    let pf = &docs[0];
    assert_eq!(pf["number"], "PF/2026/02/0001");
    assert_eq!(pf["kind"], "proforma");
    // 4 × 30.50 = 122.00 net, 28.06 VAT, 150.06 gross.
    assert_eq!(
        (pf["net"].as_str(), pf["vat"].as_str(), pf["gross"].as_str()),
        (Some("122.00"), Some("28.06"), Some("150.06"))
    );
    assert_eq!(pf["currency"], "PLN");
    assert!(pf["payment"]["session_id"].is_string());
    assert_eq!(pf["lines"][0]["subscription"], "acme-1");
    cli.ok(&[
        "pay",
        "--document",
        "PF/2026/02/0001",
        "--date",
        "2026-02-23",
    ]);
    cli.ok(&[
        "pay",
        "--document",
        "PF/2026/02/0001",
        "--date",
        "2026-02-23",
    ]); // a repeat is the same payment
    cli.json(&["run", "daily", "--date", "2026-02-28"]);
    let sub = cli.json(&["subscription", "show", "--id", "acme-1"]);
    assert_eq!(
        (sub["period_start"].as_str(), sub["period_end"].as_str()),
        (Some("2026-02-28"), Some("2026-03-31"))
    );
    let emails = cli.json(&["emails", "--tenant", "acme"]);
    let kinds: Vec<&str> = emails
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["proforma", "payment-confirmation"]);
    assert_eq!(emails[0]["document"], "PF/2026/02/0001");
    assert_eq!(emails[0]["to"], "faktury@acme.pl");
}

#[test]
fn refused_actions_say_why_in_one_line_and_change_nothing() {
    let cli = Cli::new();
    let err = cli.refused(&[
        "tenant",
        "add",
        "--id",
        "acme",
        "--name",
        "ACME",
        "--nip",
        "5260001247",
        "--email",
        "a@acme.pl",
    ]);
    assert!(err.contains("NIP"), "{err}");
    cli.refused(&["documents", "--tenant", "acme"]);
    onboard(&cli);
    let err = cli.refused(&[
        "tenant",
        "add",
        "--id",
        "acme",
        "--name",
        "ACME",
        "--nip",
        "5260001246",
        "--email",
        "a@acme.pl",
    ]);
    assert!(err.contains("already exists"), "{err}");
    let err = cli.refused(&[
        "subscription",
        "add",
        "--tenant",
        "acme",
        "--product",
        "office-home-business-2021",
        "--seats",
        "1",
        "--term",
        "monthly",
        "--start",
        "2026-01-01",
    ]);
    assert!(err.contains("perpetual"), "{err}");
    let err = cli.refused(&[
        "seats",
        "add",
        "--subscription",
        "acme-1",
        "--seats",
        "2",
        "--date",
        "2026-02-30",
    ]);
    assert!(err.contains("YYYY-MM-DD"), "{err}");
    cli.ok(&["run", "daily", "--date", "2026-02-21"]);
    let err = cli.refused(&[
        "seats",
        "add",
        "--subscription",
        "acme-1",
        "--seats",
        "2",
        "--date",
        "2026-02-22",
    ]);
    assert!(
        err.contains("PF/2026/02/0001") && err.contains("2026-02-28"),
        "{err}"
    );
    let err = cli.refused(&[
        "seats",
        "reduce",
        "--subscription",
        "acme-1",
        "--to",
        "0",
        "--representative",
        "Jan",
        "--date",
        "2026-02-10",
    ]);
    assert!(err.contains("minimum is 1"), "{err}");
    let docs = cli.json(&["documents", "--tenant", "acme"]);
    assert_eq!(
        docs.as_array().unwrap().len(),
        1,
        "nothing issued by the refusals"
    );
    let out = cli.run(&[
        "pay",
        "--document",
        "PF/2026/02/0001",
        "--date",
        "2026-02-23",
        "--amount",
        "100",
    ]);
    assert!(
        out.status.success(),
        "a short payment is accepted for review, not refused"
    );
    let docs = cli.json(&["documents", "--tenant", "acme"]);
    assert_eq!(docs[0]["status"], "issued");
}

/// The same commands against DynamoDB on the local AWS emulator, as an operator would run
/// them against production with `--dynamodb-table`.
#[tokio::test]
async fn the_cli_works_on_a_dynamodb_table() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: run `eval \"$(scripts/moto.sh start)\"` first");
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "eu-central-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("RENEWALS_SENDER_EMAIL", "faktury@cli-dynamodb.example"),
    ];
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("eu-central-1"))
        .test_credentials()
        .load()
        .await;
    let table = format!("renewals-cli-{}", std::process::id());
    renewals_dynamodb::DynamoStore::from_conf(&sdk, table.clone())
        .create_table()
        .await
        .unwrap();
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity("faktury@cli-dynamodb.example")
        .send()
        .await
        .unwrap();
    let run = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_renewals"))
            .arg("--dynamodb-table")
            .arg(&table)
            .args(args)
            .envs(env)
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| -> String {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(&[
        "tenant",
        "add",
        "--id",
        "acme",
        "--name",
        "ACME",
        "--nip",
        "5260001246",
        "--email",
        "faktury@acme.pl",
    ]);
    ok(&[
        "subscription",
        "add",
        "--tenant",
        "acme",
        "--product",
        "business-basic",
        "--seats",
        "4",
        "--term",
        "monthly",
        "--start",
        "2026-01-31",
    ]);
    let summary: Value =
        serde_json::from_str(&ok(&["run", "daily", "--date", "2026-02-21", "--json"])).unwrap();
    assert_eq!(
        (
            summary["proformas_issued"].as_i64(),
            summary["emails_sent"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let docs: Value =
        serde_json::from_str(&ok(&["documents", "--tenant", "acme", "--json"])).unwrap();
    assert_eq!(docs[0]["number"], "PF/2026/02/0001");
    assert_eq!(docs[0]["gross"], "150.06");
    let refused = run(&[
        "pay",
        "--document",
        "PF/2026/02/0001",
        "--date",
        "2026-02-22",
    ]);
    assert!(
        !refused.status.success(),
        "pay is a simulation, refused on DynamoDB"
    );
}

#[test]
fn a_bank_statement_is_imported_once_and_a_transfer_can_be_recorded_by_hand() {
    let cli = Cli::new();
    onboard(&cli);
    cli.ok(&["run", "daily", "--date", "2026-02-21"]);
    let statement = format!(
        "{}/../tests/fixtures/camt053/matched.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let report = cli.json(&["bank", "import", &statement]);
    assert_eq!(report["matched"][0]["document"], "PF/2026/02/0001");
    assert_eq!(
        report["unmatched"].as_array().unwrap().len(),
        2,
        "documents this store does not have"
    );
    let again = cli.json(&["bank", "import", &statement]);
    assert_eq!(
        (
            again["matched"].as_array().unwrap().len(),
            again["already_recorded"].as_i64()
        ),
        (0, Some(3))
    );
    assert_eq!(
        cli.json(&["documents", "--tenant", "acme"])[0]["status"],
        "paid"
    );
    let err = cli.refused(&["bank", "import", "Cargo.toml"]);
    assert!(err.contains("Cargo.toml"), "{err}");
    let err = cli.refused(&[
        "payment",
        "record",
        "--document",
        "PF/2026/02/0009",
        "--amount",
        "100",
        "--date",
        "2026-02-25",
        "--reference",
        "X1",
        "--representative",
        "Anna Nowak",
    ]);
    assert!(err.contains("no document PF/2026/02/0009"), "{err}");
}
