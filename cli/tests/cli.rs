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
    // acme has no address: its VAT invoice is numbered and held, and the operator is told
    // (filed with acme); no invoice e-mail until KSeF accepts it.
    assert_eq!(
        kinds,
        ["proforma", "payment-confirmation", "operator-alert"]
    );
    assert_eq!(emails[2]["document"], "FV/2026/02/0001");
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

#[test]
fn a_folder_of_statements_imports_each_new_file_once_and_lists_what_is_no_statement() {
    let cli = Cli::new();
    onboard(&cli);
    cli.ok(&["run", "daily", "--date", "2026-02-21"]);
    let folder = tempfile::tempdir().unwrap();
    // MT940 as PKO BP exports it: Windows-1250, `~` subfields.
    let mt940 = b":20:MT940\r\n:25:/PL94105015041000009031876543\r\n:60F:C260223PLN0,00\r\n\
:61:2602240224C150,06S034NONREF//S7A2602240010001\r\n\
:86:034~00PRZELEW PRZYCHODZ\xa5CY~20pf 2026/02/1 op\xb3ata~32ACME\r\n:62F:C260224PLN150,06\r\n-\r\n";
    std::fs::write(folder.path().join("2026-02-24.sta"), mt940).unwrap();
    std::fs::write(folder.path().join("kopia.sta"), mt940).unwrap();
    std::fs::write(folder.path().join("notatki.txt"), "do zrobienia").unwrap();
    let dir = folder.path().to_str().unwrap();
    let out = cli.run(&[
        "bank",
        "import",
        dir,
        "--encoding",
        "windows-1250",
        "--json",
    ]);
    assert!(
        !out.status.success(),
        "a file that is no statement is reported"
    );
    let view: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results: Vec<&str> = view["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["imported", "already-imported"]);
    assert_eq!(
        view["files"][0]["report"]["matched"][0]["document"],
        "PF/2026/02/0001"
    );
    assert!(view["refused"][0]
        .as_str()
        .unwrap()
        .contains("notatki.txt: not a bank statement"));
    std::fs::remove_file(folder.path().join("notatki.txt")).unwrap();
    let text = cli.ok(&["bank", "import", dir]);
    assert!(
        text.starts_with("2 file(s): 0 imported, 2 already imported, 0 refused"),
        "{text}"
    );
    assert_eq!(
        cli.json(&["documents", "--tenant", "acme"])[0]["status"],
        "paid"
    );
    let err = cli.refused(&["bank", "import", dir, "--encoding", "koi8-r"]);
    assert!(err.contains("unknown encoding `koi8-r`"), "{err}");
}

impl Cli {
    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_renewals"))
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .env_remove("RENEWALS_CATALOG")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("renewals.sqlite3")
    }

    /// An argument error: exit status 2 and exactly one line on stderr, `renewals: …`.
    fn bad_argument(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line: {err}"
        );
        assert!(err.starts_with("renewals: "), "{err}");
        err
    }
}

/// Runs the binary for at most `secs` seconds (a server that does not refuse keeps running).
fn run_for(dir: &std::path::Path, args: &[&str], secs: u64) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_renewals"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            return (None, "still running".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_jobs_and_serve_refuse_a_data_folder_that_was_never_initialised() {
    let cli = Cli::new();
    for job in ["daily", "expiry"] {
        let err = cli.refused(&["run", job, "--date", "2026-02-21"]);
        assert!(err.contains("renewals init"), "{err}");
    }
    let (code, err) = run_for(cli.dir.path(), &["serve", "--addr", "127.0.0.1:0"], 10);
    assert_eq!(code, Some(1), "serve refuses: {err}");
    assert!(err.contains("renewals init"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!cli.db().exists(), "no database created by a refusal");
}

#[test]
fn renewals_init_or_the_first_tenant_creates_the_store_and_the_jobs_then_run() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    assert!(cli.db().exists());
    cli.ok(&["run", "daily", "--date", "2026-02-21"]);
    cli.ok(&["init"]); // again: it is already there, nothing changes
    let other = Cli::new();
    onboard(&other);
    other.ok(&["run", "expiry", "--date", "2026-02-21"]);
}

#[test]
fn an_empty_database_file_is_an_error_not_a_fresh_install() {
    let cli = Cli::new();
    std::fs::write(cli.db(), b"").unwrap();
    let err = cli.refused(&["run", "daily", "--date", "2026-02-21"]);
    assert!(err.contains("empty"), "{err}");
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
    assert!(err.contains("empty"), "{err}");
    assert_eq!(
        std::fs::metadata(cli.db()).unwrap().len(),
        0,
        "left as it was"
    );
}

#[test]
fn a_damaged_database_is_refused_at_start_by_the_integrity_check() {
    let cli = Cli::new();
    onboard(&cli);
    // Garble a table the daily run does not read: only a check of the whole file sees it.
    let (root, page_size): (i64, i64) = {
        let db = rusqlite::Connection::open(cli.db()).unwrap();
        db.execute("INSERT INTO reviews (key, body) VALUES ('k', '{}')", [])
            .unwrap();
        let root = db
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'reviews'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let size = db.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        db.pragma_update(None, "journal_mode", "DELETE").unwrap();
        (root, size)
    };
    let mut bytes = std::fs::read(cli.db()).unwrap();
    let at = ((root - 1) * page_size) as usize;
    bytes[at..at + 16].copy_from_slice(&[0xAB; 16]);
    std::fs::write(cli.db(), bytes).unwrap();
    let err = cli.refused(&["run", "daily", "--date", "2026-02-21"]);
    assert!(err.contains("integrity"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_p24_base_url_the_daily_run_registers_links_and_charges_cards_at_przelewy24() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let p24 = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/transaction/register"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"data": {"token": "TOKEN-CLI-1"}, "responseCode": 0}),
        ))
        .mount(&p24)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/card/charge"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"data": {"orderId": 1}, "responseCode": 0})),
        )
        .expect(1)
        .mount(&p24)
        .await;
    let uri = p24.uri();
    let mail = tokio::task::spawn_blocking({
        move || {
            let cli = Cli::new();
            let env = [("P24_BASE_URL", uri.as_str())];
            onboard(&cli);
            cli.ok(&[
                "tenant",
                "add",
                "--id",
                "karta",
                "--name",
                "Karta sp. z o.o.",
                "--nip",
                "7010001453",
                "--email",
                "faktury@karta.pl",
                "--payment-method",
                "card",
                "--card-ref",
                "REF-KARTA",
            ]);
            cli.ok(&[
                "subscription",
                "add",
                "--tenant",
                "karta",
                "--product",
                "business-basic",
                "--seats",
                "1",
                "--term",
                "monthly",
                "--start",
                "2026-01-31",
            ]);
            let out = cli.run_env(&["run", "daily", "--date", "2026-02-21", "--json"], &env);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(summary["card_charges"], 1, "{summary}");
            let acme: Vec<_> = std::fs::read_dir(cli.dir.path().join("outbox"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.to_string_lossy().contains("-acme-proforma"))
                .map(|p| std::fs::read(p).unwrap())
                .collect();
            assert_eq!(acme.len(), 1);
            let mail = String::from_utf8_lossy(&acme[0]).replace("=\r\n", "");
            // `pay` plays Przelewy24 offline even when P24_BASE_URL is set.
            let paid = cli.run_env(
                &[
                    "pay",
                    "--document",
                    "PF/2026/02/0001",
                    "--date",
                    "2026-02-23",
                ],
                &env,
            );
            assert!(
                paid.status.success(),
                "{}",
                String::from_utf8_lossy(&paid.stderr)
            );
            mail
        }
    })
    .await
    .unwrap();
    assert!(
        mail.contains(&format!("{}/trnRequest/TOKEN-CLI-1", p24.uri())),
        "the mock's link in the pro-forma e-mail"
    );
    let requests = p24.received_requests().await.unwrap();
    let registers: Vec<Value> = requests
        .iter()
        .filter(|r| r.url.path() == "/api/v1/transaction/register")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let sessions: Vec<&str> = registers
        .iter()
        .map(|r| r["sessionId"].as_str().unwrap())
        .collect();
    assert!(sessions.contains(&"PF-2026-02-0001-1"), "{sessions:?}");
    assert!(
        registers.iter().any(|r| r["methodRefId"] == "REF-KARTA"),
        "the card charge registered with the card's reference: {registers:?}"
    );
    assert_eq!(
        requests.len(),
        registers.len() + 1,
        "register calls and one card charge; nothing from `pay`"
    );
}

#[test]
fn a_card_tenant_without_a_card_reference_is_refused_and_nothing_is_added() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    fn add<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
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
        ];
        args.extend_from_slice(extra);
        args
    }
    let err = cli.refused(&add(&["--payment-method", "card"]));
    assert!(err.contains("--card-ref"), "{err}");
    let err = cli.refused(&add(&["--payment-method", "card", "--card-ref", " "]));
    assert!(err.contains("card"), "{err}");
    cli.ok(&add(&["--payment-method", "card", "--card-ref", "REF-1"]));
}

#[test]
fn dates_outside_2000_to_2099_and_malformed_numbers_are_refused_in_one_line_saying_what_is_expected(
) {
    let cli = Cli::new();
    onboard(&cli);
    let seats_add = |seats: &str, date: &str| {
        cli.bad_argument(&[
            "seats",
            "add",
            "--subscription",
            "acme-1",
            "--seats",
            seats,
            "--date",
            date,
        ])
    };
    let err = seats_add("2", "26-03-10");
    assert!(err.contains("YYYY-MM-DD"), "{err}");
    let err = seats_add("2", "2100-01-01");
    assert!(err.contains("2099-12-31"), "{err}");
    for seats in ["-1", "1.5", "abc", "0"] {
        let err = seats_add(seats, "2026-02-10");
        assert!(err.contains("seat"), "{seats}: {err}");
        assert!(!err.contains("Usage"), "{err}");
    }
    for amount in ["-5", "abc", "1.5", "0"] {
        let err = cli.bad_argument(&[
            "pay",
            "--document",
            "PF/2026/02/0001",
            "--date",
            "2026-02-23",
            "--amount",
            amount,
        ]);
        assert!(err.contains("grosze"), "{amount}: {err}");
        let err = cli.bad_argument(&[
            "payment",
            "record",
            "--document",
            "PF/2026/02/0001",
            "--amount",
            amount,
            "--date",
            "2026-02-25",
            "--reference",
            "X1",
            "--representative",
            "Anna",
        ]);
        assert!(err.contains("grosze"), "{amount}: {err}");
    }
    let err = cli.bad_argument(&["tenant", "add", "--id", "x"]);
    assert!(err.contains("--name"), "names what is missing: {err}");
    cli.bad_argument(&["no-such-command"]);
    let help = cli.ok(&["--help"]);
    assert!(help.contains("Usage:"), "{help}");
    assert!(cli.ok(&["--version"]).starts_with("renewals "));
}

#[test]
fn an_email_address_must_be_one_mailbox() {
    let cli = Cli::new();
    cli.ok(&["init"]);
    for email in [
        "a,attacker@evil.example",
        "a@acme.pl, b@evil.example",
        "Jan <a@acme.pl>",
    ] {
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
            email,
        ]);
        assert!(err.contains("e-mail"), "{email}: {err}");
    }
    let out = cli.run_env(
        &["run", "daily", "--date", "2026-02-21"],
        &[("RENEWALS_OPERATOR_EMAIL", "ops@x.pl,evil@x.pl")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("RENEWALS_OPERATOR_EMAIL"),
        "{err}"
    );
    let out = cli.run_env(
        &["run", "daily", "--date", "2026-02-21"],
        &[(
            "RENEWALS_BANK_ACCOUNT",
            "PL61 1090 1014 0000 0712 1981 2875",
        )],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("RENEWALS_BANK_ACCOUNT"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn help_lists_the_allowed_values() {
    let cli = Cli::new();
    let help = cli.ok(&["tenant", "add", "--help"]);
    for values in ["pl, en", "blik, transfer, card"] {
        assert!(help.contains(values), "{help}");
    }
    let help = cli.ok(&["subscription", "add", "--help"]);
    assert!(help.contains("monthly, annual"), "{help}");
    let err = cli.bad_argument(&[
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
        "--locale",
        "de",
    ]);
    assert!(err.contains("pl") && err.contains("en"), "{err}");
}

#[test]
fn demo_with_json_prints_its_timeline_as_json() {
    let cli = Cli::new();
    let timeline = cli.json(&["demo"]);
    let days = timeline["days"].as_array().unwrap();
    assert!(days.iter().any(|d| d["date"] == "2026-02-04"
        && d["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().contains("kwiatkowski pays"))));
    assert!(timeline["subscriptions"].as_array().unwrap().len() >= 4);
}

#[test]
fn simulate_keeps_its_store_in_the_data_folder_and_draws_no_progress_off_a_terminal() {
    let cli = Cli::new();
    let out = cli.run(&["simulate", "--tenants", "3", "--months", "1", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "nothing on stderr off a terminal");
    assert!(cli.dir.path().join("simulate/renewals.sqlite3").exists());
}

#[test]
fn writing_to_a_closed_pipe_ends_quietly() {
    let cli = Cli::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_renewals"))
        .arg("--data-dir")
        .arg(cli.dir.path())
        .arg("catalog")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before anything is written
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "quiet: {err}");
}

#[test]
fn a_run_whose_emails_fail_exits_1_and_says_they_stay_in_the_outbox() {
    let cli = Cli::new();
    onboard(&cli);
    // A folder where the message file goes: the outbox cannot write it.
    let blocker = cli.dir.path().join("outbox/0000001-acme-proforma.eml");
    std::fs::create_dir_all(blocker.join("x")).unwrap();
    let out = cli.run(&["run", "daily", "--date", "2026-02-21", "--json"]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["emails_failed"], 1);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("1 e-mail") && err.contains("outbox"), "{err}");
    std::fs::remove_dir_all(&blocker).unwrap();
    // Not again at once: its next attempt waits 15 minutes.
    let summary = cli.json(&["run", "daily", "--date", "2026-02-21"]);
    assert_eq!(summary["emails_sent"], 0, "not before its pause");
    // Once the pause has passed (moved here instead of waiting), the next run sends it.
    let db = rusqlite::Connection::open(cli.dir.path().join("renewals.sqlite3")).unwrap();
    db.execute("UPDATE outbox SET next_attempt = 0 WHERE sent = 0", [])
        .unwrap();
    let summary = cli.json(&["run", "daily", "--date", "2026-02-21"]);
    assert_eq!(summary["emails_sent"], 1, "delivered by the next run");
}

#[test]
fn tenant_update_changes_the_address_and_refuses_in_one_line() {
    let cli = Cli::new();
    onboard(&cli);
    let out = cli.ok(&[
        "tenant",
        "update",
        "--id",
        "acme",
        "--address",
        "ul. Prosta 1",
        "--address2",
        "00-001 Warszawa",
        "--country",
        "pl",
    ]);
    assert_eq!(out.trim(), "tenant acme updated");
    assert_eq!(
        cli.json(&["tenant", "update", "--id", "acme", "--name", "ACME S.A."]),
        serde_json::json!({"id": "acme", "invoices_released": 0})
    );
    let err = cli.refused(&["tenant", "update", "--id", "acme"]);
    assert!(err.contains("nothing to update"), "{err}");
    let err = cli.refused(&["tenant", "update", "--id", "acme", "--country", "Polska"]);
    assert!(err.contains("country"), "{err}");
    let err = cli.refused(&["tenant", "update", "--id", "nobody", "--name", "X"]);
    assert!(err.contains("nobody"), "{err}");
    let err = cli.refused(&[
        "tenant",
        "add",
        "--id",
        "beta",
        "--name",
        "Beta",
        "--nip",
        "526-000-12-46",
        "--email",
        "faktury@beta.pl",
        "--address",
        "Hauptstraße 5",
        "--country",
        "Deutschland",
    ]);
    assert!(err.contains("country"), "{err}");
}

#[test]
fn document_pdf_writes_the_pdf_the_proforma_email_attaches() {
    let cli = Cli::new();
    onboard(&cli);
    cli.json(&["run", "daily", "--date", "2026-02-21"]);
    let file = cli.dir.path().join("pf.pdf");
    let file_s = file.to_str().unwrap();
    let written = cli.json(&[
        "document",
        "pdf",
        "--number",
        "PF/2026/02/0001",
        "--out",
        file_s,
    ]);
    assert_eq!(written["number"], "PF/2026/02/0001");
    let pdf = std::fs::read(&file).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(written["bytes"], pdf.len());
    // The same document, the same bytes.
    cli.ok(&[
        "document",
        "pdf",
        "--number",
        "PF/2026/02/0001",
        "--out",
        file_s,
    ]);
    assert_eq!(std::fs::read(&file).unwrap(), pdf);

    let text = Command::new("pdftotext")
        .args(["-layout", file_s, "-"])
        .output()
        .expect("pdftotext (Debian: poppler-utils; scripts/test installs it)");
    let text = String::from_utf8(text.stdout).unwrap();
    let text: String = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    for expected in [
        "nr PF/2026/02/0001",
        "ACME sp. z o.o.",
        "NIP: 5260001246",
        // The seller, from RENEWALS_SELLER_NIP / RENEWALS_SELLER_ADDRESS (local defaults).
        "NIP: 5260250274",
        "ul. Przykładowa 1",
        "4 30,50 zł 122,00 zł 23%",
        "VAT 23% 28,06 zł",
        "Razem brutto 150,06 zł",
        "Tytuł przelewu PF/2026/02/0001",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // The pro-forma e-mail in the outbox carries it, named after the number.
    let eml = std::fs::read_dir(cli.dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-acme-proforma.eml"))
        .expect("the pro-forma e-mail");
    let eml = std::fs::read_to_string(eml).unwrap();
    assert!(eml.contains("multipart/mixed"), "{eml}");
    assert!(eml.contains("application/pdf"), "{eml}");
    assert!(eml.contains("PF-2026-02-0001.pdf"), "{eml}");

    let err = cli.refused(&[
        "document",
        "pdf",
        "--number",
        "PF/2026/02/0099",
        "--out",
        file_s,
    ]);
    assert!(err.contains("PF/2026/02/0099"), "{err}");
}

#[test]
fn a_vat_invoice_waits_for_the_address_then_its_xml_and_pdf_come_out_as_stored_and_accepted() {
    use sha2::{Digest, Sha256};
    let cli = Cli::new();
    onboard(&cli); // acme has no address
    cli.ok(&["run", "daily", "--date", "2026-02-21"]);
    cli.ok(&[
        "pay",
        "--document",
        "PF/2026/02/0001",
        "--date",
        "2026-02-23",
    ]);

    let invoice = |cli: &Cli| {
        let docs = cli.json(&["documents", "--tenant", "acme"]);
        docs.as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "vat_invoice")
            .cloned()
            .expect("the payment's invoice is listed with the documents")
    };
    let held = invoice(&cli);
    assert_eq!(held["number"], "FV/2026/02/0001");
    assert_eq!(held["invoice_type"], "ZAL");
    assert_eq!(held["settles"], "PF/2026/02/0001");
    // 4 × 30.50 zł (Business Basic) = 122.00 net; 23 % of it = 28.06; gross 150.06.
    assert_eq!(
        (&held["net"], &held["vat"], &held["gross"]),
        (
            &Value::from("122.00"),
            &Value::from("28.06"),
            &Value::from("150.06")
        )
    );
    assert_eq!(held["ksef"]["status"], "awaiting_buyer_data");
    let err = cli.refused(&["document", "xml", "--number", "FV/2026/02/0001"]);
    assert!(err.contains("waits for the buyer's address"), "{err}");

    // Released today (the real day: `tenant update` has no --date), it is dated today.
    let today = || renewals_domain::business_date(chrono::Utc::now()).to_string();
    let before = today();
    let updated = cli.json(&[
        "tenant",
        "update",
        "--id",
        "acme",
        "--address",
        "ul. Prosta 1",
        "--address2",
        "00-001 Warszawa",
    ]);
    let released_on = [before, today()];
    assert_eq!(updated["invoices_released"], 1);
    let accepted = invoice(&cli);
    assert_eq!(accepted["ksef"]["status"], "accepted", "{accepted}");
    let ksef_number = accepted["ksef"]["number"].as_str().unwrap().to_string();
    assert_eq!(ksef_number.len(), 35, "{ksef_number}");

    let out = cli.run(&["document", "xml", "--number", "FV/2026/02/0001"]);
    assert!(out.status.success());
    let sha = Sha256::digest(&out.stdout)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    assert_eq!(
        accepted["sha256"],
        sha.as_str(),
        "printed byte for byte as stored"
    );
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.contains("<AdresL1>ul. Prosta 1</AdresL1>"), "{xml}");
    assert!(
        released_on
            .iter()
            .any(|day| xml.contains(&format!("<P_1>{day}</P_1>"))),
        "dated the day it was released, {released_on:?}: {xml}"
    );
    assert!(
        xml.contains("<DataZaplaty>2026-02-23</DataZaplaty>"),
        "the payment's day: {xml}"
    );

    let err = cli.refused(&["document", "xml", "--number", "PF/2026/02/0001"]);
    assert!(err.contains("not a VAT invoice"), "{err}");
    let err = cli.refused(&["document", "xml", "--number", "FV/2026/02/0002"]);
    assert!(err.contains("no VAT invoice FV/2026/02/0002"), "{err}");

    let file = cli.dir.path().join("fv.pdf");
    let file_s = file.to_str().unwrap();
    cli.ok(&[
        "document",
        "pdf",
        "--number",
        "FV/2026/02/0001",
        "--out",
        file_s,
    ]);
    let text = Command::new("pdftotext")
        .args(["-layout", file_s, "-"])
        .output()
        .expect("pdftotext (Debian: poppler-utils; scripts/test installs it)");
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("FV/2026/02/0001"), "{text}");
    assert!(
        text.contains(&ksef_number),
        "the KSeF number is printed: {text}"
    );

    let emails = cli.json(&["emails", "--tenant", "acme"]);
    let kinds: Vec<&str> = emails
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "invoice").count(),
        1,
        "{kinds:?}"
    );
    let sync = cli.json(&["ksef", "sync"]);
    assert_eq!(
        (&sync["sent"], &sync["accepted"]),
        (&Value::from(0), &Value::from(0))
    );
}

#[test]
fn the_audit_log_says_who_did_what_from_which_document_once() {
    let cli = Cli::new();
    onboard(&cli);
    cli.ok(&["run", "daily", "--date", "2026-02-21"]);
    for _ in 0..2 {
        // The second notification is the same payment: nothing new is logged.
        cli.ok(&[
            "pay",
            "--document",
            "PF/2026/02/0001",
            "--date",
            "2026-02-23",
        ]);
    }
    let log = cli.json(&["audit", "--tenant", "acme"]);
    let log = log.as_array().unwrap();
    let lines: Vec<(&str, &str, Option<&str>)> = log
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["document"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("cli", "tenant_added", None),
            ("cli", "subscription_added", None),
            ("job:daily", "proforma_issued", Some("PF/2026/02/0001")),
            (
                "provider:przelewy24",
                "payment_settled",
                Some("PF/2026/02/0001")
            ),
            (
                "provider:przelewy24",
                "invoice_issued",
                Some("PF/2026/02/0001")
            ),
        ]
    );
    assert_eq!(log[2]["subscription"], "acme-1");
    assert!(log[2]["summary"]
        .as_str()
        .unwrap()
        .contains("150.06 PLN brutto"));
    assert!(log.iter().all(|e| e["at"].is_string()));
    let text = cli.ok(&["audit", "--tenant", "acme"]);
    assert!(
        text.contains("Wystawiono pro-formę PF/2026/02/0001"),
        "{text}"
    );
    let err = cli.refused(&["audit", "--tenant", "nobody"]);
    assert!(err.contains("nobody"), "{err}");
}
