//! `renewals`: the operator's tool over the same shared code as the Lambda functions.

mod app;
mod demo;
mod panel;
mod serve;
mod simulate;

// The CLI's hot paths (`serve`, `simulate`, the runs) allocate many small, short-lived
// values (JSON, templates, rows): mimalloc serves them with less CPU than glibc's malloc.
// The Lambda functions keep the system allocator (smaller binaries, one request at a time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{anyhow, Context};
use app::{open_service, Open, Output};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use renewals_app::config::Defaults;
use renewals_app::fanout::{self, Sizes};
use renewals_app::views;
use renewals_domain::{
    parse_date, DocumentNumber, EmailAddress, Job, Locale, Nip, PaymentMethod, SubscriptionId,
    Tenant, TenantId, Term,
};
use renewals_local::sqlite::Durability;
use renewals_przelewy24::P24Settings;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "renewals",
    about = "Licence renewals for a Microsoft 365 reseller",
    version
)]
struct Cli {
    /// Folder of the embedded database and the `outbox/` of e-mails.
    #[arg(long, global = true, default_value = ".renewals", value_name = "DIR")]
    data_dir: PathBuf,
    /// Use this DynamoDB table (endpoint, region and credentials from the standard AWS
    /// environment) instead of the embedded store; e-mails then go out through SES.
    #[arg(long, global = true, value_name = "TABLE")]
    dynamodb_table: Option<String>,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the embedded database in the data folder (the first `tenant add` does it too).
    Init,
    /// List the products and their net prices per seat.
    Catalog,
    /// Customers: add one.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Subscriptions: add one, show one.
    #[command(subcommand)]
    Subscription(SubscriptionCmd),
    /// Run a scheduled job (what the Lambda functions do every morning).
    #[command(subcommand)]
    Run(RunCmd),
    /// Seats: add some now, or reduce from the next period.
    #[command(subcommand)]
    Seats(SeatsCmd),
    /// Change a subscription's plan.
    #[command(subcommand)]
    Plan(PlanCmd),
    /// Stop a subscription from renewing.
    #[command(subcommand)]
    Renewal(RenewalCmd),
    /// A tenant's pro-formas, orders and VAT invoices.
    Documents {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
    },
    /// One document: its PDF, or a VAT invoice's FA(3) XML.
    #[command(subcommand)]
    Document(DocumentCmd),
    /// VAT invoices at KSeF: send the pending ones, ask about the sent ones.
    #[command(subcommand)]
    Ksef(KsefCmd),
    /// A tenant's audit log: who changed what, when and from which document, oldest first.
    Audit {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
    },
    /// E-mails sent to a tenant.
    Emails {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
    },
    /// Play Przelewy24: send a signed notification for a document through the webhook handler.
    Pay {
        /// The document's number, e.g. PF/2026/02/0001.
        #[arg(long, value_name = "NUMBER")]
        document: String,
        /// The business date of the payment (YYYY-MM-DD).
        #[arg(long, value_parser = date, value_name = "DATE")]
        date: NaiveDate,
        /// Amount in grosze, a whole number above 0 (default: the document's gross).
        #[arg(long, value_parser = grosze, allow_negative_numbers = true, value_name = "GROSZE")]
        amount: Option<i64>,
    },
    /// Payments seen outside Przelewy24.
    #[command(subcommand)]
    Payment(PaymentCmd),
    /// Microsoft's side (Partner Center): the commands our decisions caused.
    #[command(subcommand)]
    Microsoft(MicrosoftCmd),
    /// Bank statements.
    #[command(subcommand)]
    Bank(BankCmd),
    /// Operators of the web panel (`/admin`).
    #[command(subcommand)]
    Operator(OperatorCmd),
    /// Serve `POST /webhooks/przelewy24` and the web panel on the embedded store.
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
        addr: String,
    },
    /// A scripted season in `<data-dir>/demo` (made afresh), told as a timeline.
    Demo,
    /// A test clock at scale with invariant checks, in `<data-dir>/simulate` (made afresh).
    Simulate {
        /// How many tenants to create.
        #[arg(long, value_parser = at_least_one, value_name = "N")]
        tenants: u32,
        /// How many months to run, day by day.
        #[arg(long, value_parser = at_least_one, value_name = "M")]
        months: u32,
        /// Seed of the behaviour mix (same seed, same run).
        #[arg(long, default_value_t = 42, value_name = "S")]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum TenantCmd {
    /// Add a customer (creates the embedded database on first use).
    Add(TenantAdd),
    /// Change a customer's name, e-mail or address (only what is given).
    Update(TenantUpdateArgs),
}

#[derive(Args)]
struct TenantUpdateArgs {
    /// The tenant's id.
    #[arg(long)]
    id: String,
    /// The customer's registered name.
    #[arg(long)]
    name: Option<String>,
    /// The billing e-mail address: one mailbox.
    #[arg(long)]
    email: Option<String>,
    /// Address line 1 (FA(3) `AdresL1`), e.g. the street.
    #[arg(long, value_name = "LINE1")]
    address: Option<String>,
    /// Address line 2 (`AdresL2`), e.g. postcode and city; empty clears it.
    #[arg(long, value_name = "LINE2")]
    address2: Option<String>,
    /// Country code (`KodKraju`), e.g. PL.
    #[arg(long, value_name = "CC")]
    country: Option<String>,
}

#[derive(Args)]
struct TenantAdd {
    /// The tenant's id: 1–40 lowercase letters, digits and dashes.
    #[arg(long)]
    id: String,
    /// The customer's registered name.
    #[arg(long)]
    name: String,
    /// The customer's NIP (10 digits, dashes and a PL prefix allowed).
    #[arg(long)]
    nip: String,
    /// The billing e-mail address: one mailbox.
    #[arg(long)]
    email: String,
    /// Language of the e-mails.
    #[arg(long, default_value = "pl", value_parser = ["pl", "en"])]
    locale: String,
    /// How the customer pays.
    #[arg(long, default_value = "blik", value_parser = ["blik", "transfer", "card"])]
    payment_method: String,
    /// Address line 1 (FA(3) `AdresL1`), e.g. the street; needed before a VAT invoice can go out.
    #[arg(long, default_value = "", value_name = "LINE1")]
    address: String,
    /// Address line 2 (`AdresL2`), e.g. postcode and city.
    #[arg(long, value_name = "LINE2")]
    address2: Option<String>,
    /// Country code (`KodKraju`).
    #[arg(long, default_value = "PL", value_name = "CC")]
    country: String,
    /// Przelewy24 card reference (refId) for automatic payments; required with `card`.
    #[arg(long, value_name = "REF")]
    card_ref: Option<String>,
    /// The customer's Microsoft tenant id (Partner Center customer id).
    #[arg(long, value_name = "GUID")]
    microsoft_tenant: Option<String>,
}

#[derive(Subcommand)]
enum SubscriptionCmd {
    /// Add a subscription to a tenant.
    Add {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
        /// The product's SKU (see `renewals catalog`).
        #[arg(long, value_name = "SKU")]
        product: String,
        /// Number of seats.
        #[arg(long, value_parser = seats, allow_negative_numbers = true, value_name = "N")]
        seats: u32,
        /// Length of each period.
        #[arg(long, value_parser = ["monthly", "annual"])]
        term: String,
        /// First day of the first period (YYYY-MM-DD).
        #[arg(long, value_parser = date, value_name = "DATE")]
        start: NaiveDate,
        /// Links an existing Microsoft subscription (the tenant needs --microsoft-tenant).
        #[arg(long, value_name = "GUID")]
        microsoft_subscription: Option<String>,
    },
    /// Show a subscription.
    Show {
        /// The subscription's id, e.g. acme-1.
        #[arg(long, value_name = "SUB")]
        id: String,
    },
}

#[derive(Subcommand)]
enum KsefCmd {
    /// Send pending invoices and poll KSeF for the sent ones (the daily run does it too).
    Sync,
}

#[derive(Subcommand)]
enum MicrosoftCmd {
    /// A tenant's Microsoft-side commands and their state.
    Commands {
        /// The tenant's id.
        #[arg(long, value_name = "ID")]
        tenant: String,
    },
    /// Reconciliation: read every linked Microsoft subscription and report drift
    /// (quantity, status, term end, auto-renew). Changes nothing on either side.
    Sync,
}

#[derive(Subcommand)]
enum RunCmd {
    /// Pro-formas, reminders, overdue notices and period starts due by the date.
    Daily {
        /// The business date to run for (YYYY-MM-DD; default: today in Warsaw).
        #[arg(long, value_parser = date, value_name = "DATE")]
        date: Option<NaiveDate>,
    },
    /// Suspensions and expired orders due by the date.
    Expiry {
        /// The business date to run for (YYYY-MM-DD; default: today in Warsaw).
        #[arg(long, value_parser = date, value_name = "DATE")]
        date: Option<NaiveDate>,
    },
}

#[derive(Subcommand)]
enum SeatsCmd {
    /// Add seats now: an order for the rest of the period, active once paid.
    Add {
        /// The subscription's id, e.g. acme-1.
        #[arg(long, value_name = "SUB")]
        subscription: String,
        /// How many seats to add.
        #[arg(long, value_parser = seats, allow_negative_numbers = true, value_name = "N")]
        seats: u32,
        /// The business date of the change (YYYY-MM-DD).
        #[arg(long, value_parser = date, value_name = "DATE")]
        date: NaiveDate,
    },
    /// Reduce seats from the next period (the reseller's representative decides).
    Reduce {
        /// The subscription's id, e.g. acme-1.
        #[arg(long, value_name = "SUB")]
        subscription: String,
        /// Seats from the next period (at least 1).
        #[arg(long, value_parser = seat_count, allow_negative_numbers = true, value_name = "N")]
        to: i64,
        /// Who at the reseller agreed to it.
        #[arg(long, value_name = "NAME")]
        representative: String,
        /// The business date of the change (YYYY-MM-DD).
        #[arg(long, value_parser = date, value_name = "DATE")]
        date: NaiveDate,
    },
}

#[derive(Subcommand)]
enum PlanCmd {
    /// Change the product: at the next renewal, or now with an order for the rest of the period.
    Change {
        /// The subscription's id, e.g. acme-1.
        #[arg(long, value_name = "SUB")]
        subscription: String,
        /// The new product's SKU.
        #[arg(long, value_name = "SKU")]
        product: String,
        /// From the next period.
        #[arg(long, conflicts_with = "now", required_unless_present = "now")]
        at_renewal: bool,
        /// From today: a new subscription and an order; the old one stops renewing.
        #[arg(long)]
        now: bool,
        /// The business date of the change (YYYY-MM-DD).
        #[arg(long, value_parser = date, value_name = "DATE")]
        date: NaiveDate,
    },
}

#[derive(Subcommand)]
enum PaymentCmd {
    /// Record a bank transfer seen on the account; it activates like a Przelewy24 payment.
    Record {
        /// The document the transfer pays, e.g. PF/2026/02/0001.
        #[arg(long, value_name = "NUMBER")]
        document: String,
        /// Amount in grosze, a whole number above 0.
        #[arg(long, value_parser = grosze, allow_negative_numbers = true, value_name = "GROSZE")]
        amount: i64,
        /// The date the money arrived (YYYY-MM-DD).
        #[arg(long, value_parser = date, value_name = "DATE")]
        date: NaiveDate,
        /// The bank's reference of the transfer: recording it again changes nothing.
        #[arg(long, value_name = "TEXT")]
        reference: String,
        /// Who saw the transfer.
        #[arg(long, value_name = "NAME")]
        representative: String,
    },
}

#[derive(Subcommand)]
enum OperatorCmd {
    /// Let a representative of the reseller sign in to `/admin` by a link sent to EMAIL.
    Add {
        /// The operator's e-mail address: sign-in links go there.
        #[arg(long)]
        email: String,
        /// The operator's name, recorded with what they decide (e.g. applying a held payment).
        #[arg(long)]
        name: String,
    },
    /// DynamoDB: write the panel's lookup items (billing address → tenant, the tenant list)
    /// for accounts created before they existed. Safe to run again.
    Backfill,
}

#[derive(Subcommand)]
enum BankCmd {
    /// Import bank statements (camt.053 XML or MT940): settle what matches, list the rest for
    /// review. A folder imports every file in it not imported before (known by content).
    Import {
        /// A statement file, or a folder of them.
        #[arg(value_name = "FILE|FOLDER")]
        file: PathBuf,
        /// The code page of MT940 files: utf-8, windows-1250 or iso-8859-2 (default: detected).
        #[arg(long, value_parser = encoding, value_name = "NAME")]
        encoding: Option<renewals_bank::Encoding>,
    },
}

#[derive(Subcommand)]
enum DocumentCmd {
    /// Print a VAT invoice's FA(3) XML exactly as stored (and as sent to KSeF).
    Xml {
        /// The invoice's number, e.g. FV/2026/02/0001.
        #[arg(long, value_name = "NUMBER")]
        number: String,
    },
    /// Write a document's PDF, the one its e-mails attach (a VAT invoice with its KSeF
    /// number and QR code once KSeF accepted it).
    Pdf {
        /// The document's number, e.g. PF/2026/02/0001 or FV/2026/02/0001.
        #[arg(long, value_name = "NUMBER")]
        number: String,
        /// Where to write the PDF.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum RenewalCmd {
    /// Turn renewal off: the subscription ends with its period.
    Off {
        /// The subscription's id, e.g. acme-1.
        #[arg(long, value_name = "SUB")]
        subscription: String,
    },
}

/// `--encoding`: a statement's code page.
fn encoding(s: &str) -> Result<renewals_bank::Encoding, String> {
    s.parse()
}

/// `--date`: the domain's date (YYYY-MM-DD, 2000–2099).
fn date(s: &str) -> Result<NaiveDate, String> {
    parse_date(s).map_err(|e| e.to_string())
}

/// `--seats`: a whole number of seats within the domain's bounds.
fn seats(s: &str) -> Result<u32, String> {
    renewals_domain::subscription::parse_seats(seat_count(s)?).map_err(|e| e.to_string())
}

/// A whole number of seats, not yet checked against the bounds.
fn seat_count(s: &str) -> Result<i64, String> {
    s.trim().parse().map_err(|_| {
        format!(
            "invalid seat count `{s}`: expected a whole number of seats between {} and {}",
            renewals_domain::subscription::MIN_SEATS,
            renewals_domain::subscription::MAX_SEATS
        )
    })
}

/// `--amount`: grosze, a whole number above 0.
fn grosze(s: &str) -> Result<i64, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "invalid amount `{s}`: expected grosze, a whole number above 0, e.g. 15006 for 150,06 zł"
        )),
    }
}

/// `simulate`'s sizes: a whole number, at least 1.
fn at_least_one(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "invalid number `{s}`: expected a whole number, at least 1"
        )),
    }
}

/// clap's argument error as one line: what is wrong and what is expected, without the usage.
fn argument_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::ValueValidation {
        if let (Some(ContextValue::String(arg)), Some(source)) =
            (e.get(ContextKind::InvalidArg), std::error::Error::source(e))
        {
            let flag = arg.split(' ').next().unwrap_or(arg);
            return format!("{flag}: {source}");
        }
    }
    let text = e.render().to_string();
    let text = text.split("\nUsage:").next().unwrap_or(&text);
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string()
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RENEWALS_LOG")
                .unwrap_or_else(|_| "off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            eprintln!("renewals: {}", argument_error(&e));
            return ExitCode::from(2);
        }
    };
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("renewals: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line: a refusal says why and what is possible instead;
/// an unexpected failure names its causes too (e.g. the table does not exist).
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let out = Output { json: cli.json };
    let dir = cli.data_dir;
    let target = app::Target {
        dir: dir.clone(),
        table: cli.dynamodb_table.clone(),
    };
    let embedded_only = |refusal: &str| -> anyhow::Result<()> {
        match &target.table {
            Some(_) => Err(anyhow!("{refusal}")),
            None => Ok(()),
        }
    };
    match cli.command {
        Command::Init => {
            embedded_only(
                "init creates the embedded store; the DynamoDB table comes from the SAM stack (infra/template.yaml)",
            )?;
            let path = app::database(&dir);
            let existed = path.exists();
            app::open_store(&dir, Durability::Normal, true)?;
            let verb = if existed {
                "is already initialised"
            } else {
                "initialised"
            };
            out.print(
                &serde_json::json!({"data_dir": dir, "created": !existed}),
                || format!("{} {verb} ({})", dir.display(), path.display()),
            );
        }
        Command::Catalog => {
            let settings = renewals_app::config::Settings::from_env(Defaults::Local)?;
            let products = views::catalog(&settings.catalog);
            out.print(&products, || {
                products
                    .iter()
                    .map(|p| {
                        let prices: Vec<String> = p
                            .prices
                            .iter()
                            .map(|(t, m)| format!("{t} {m} zł"))
                            .collect();
                        format!("{:<28} {:<34} {}", p.sku, p.name, prices.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Tenant(TenantCmd::Add(t)) => {
            let tenant = Tenant {
                id: TenantId::parse(&t.id)?,
                name: non_empty(&t.name, "tenant name")?,
                nip: Nip::parse(&t.nip)?,
                address: t.address.trim().to_string(),
                address2: t
                    .address2
                    .as_deref()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
                country: renewals_domain::parse_country(&t.country)?,
                email: EmailAddress::parse(&t.email)?,
                locale: Locale::parse(&t.locale)?,
                payment_method: PaymentMethod::parse(&t.payment_method)?,
            };
            // Checked before anything is written: a refused tenant leaves no trace.
            let microsoft_tenant = t
                .microsoft_tenant
                .as_deref()
                .map(renewals_domain::parse_guid)
                .transpose()?;
            let card_ref = t.card_ref.as_deref().map(str::trim);
            if card_ref == Some("") {
                return Err(anyhow!(
                    "the card reference must not be empty: give the Przelewy24 refId as --card-ref REF"
                ));
            }
            if tenant.payment_method == PaymentMethod::Card && card_ref.is_none() {
                return Err(anyhow!(
                    "a card tenant needs its Przelewy24 card reference: add --card-ref REF, or choose --payment-method blik or transfer"
                ));
            }
            let svc = open_service(&target, None, Open::CREATE).await?;
            svc.add_tenant(tenant.clone()).await?;
            if let Some(card_ref) = card_ref {
                svc.set_card(&tenant.id, card_ref).await?;
            }
            if let Some(guid) = &microsoft_tenant {
                svc.link_microsoft_tenant(&tenant.id, guid).await?;
            }
            let mut view = serde_json::json!({"id": tenant.id});
            if let Some(guid) = &microsoft_tenant {
                view["microsoft_tenant"] = guid.clone().into();
            }
            out.print(&view, || match &microsoft_tenant {
                Some(guid) => format!("tenant {} added, Microsoft tenant {guid}", tenant.id),
                None => format!("tenant {} added", tenant.id),
            });
        }
        Command::Tenant(TenantCmd::Update(t)) => {
            let id = TenantId::parse(&t.id)?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            let released = svc
                .update_tenant(
                    &id,
                    renewals_app::TenantUpdate {
                        name: t.name,
                        email: t.email,
                        address: t.address,
                        address2: t.address2,
                        country: t.country,
                    },
                )
                .await?;
            if released > 0 {
                svc.ksef_sync().await?;
                svc.deliver().await?;
            }
            out.print(
                &serde_json::json!({"id": id, "invoices_released": released}),
                || match released {
                    0 => format!("tenant {id} updated"),
                    n => format!("tenant {id} updated; {n} VAT invoice(s) released to KSeF"),
                },
            );
        }
        Command::Subscription(SubscriptionCmd::Add {
            tenant,
            product,
            seats,
            term,
            start,
            microsoft_subscription,
        }) => {
            let tenant = TenantId::parse(&tenant)?;
            let term = Term::parse(&term)?;
            let microsoft_subscription = microsoft_subscription
                .as_deref()
                .map(renewals_domain::parse_guid)
                .transpose()?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            if microsoft_subscription.is_some()
                && svc.account(&tenant).await?.microsoft_tenant.is_none()
            {
                return Err(anyhow!(
                    "tenant {tenant} has no Microsoft tenant linked: add it with `tenant add … --microsoft-tenant GUID` before linking a Microsoft subscription"
                ));
            }
            let id = svc
                .add_subscription(&tenant, &product, seats, term, start)
                .await?;
            if let Some(guid) = &microsoft_subscription {
                svc.link_microsoft_subscription(&id, guid).await?;
            }
            let account = svc.account(&tenant).await?;
            let sub = account.subscription(&id)?;
            let view = views::subscription(&tenant, sub);
            out.print(&view, || {
                format!(
                    "subscription {id}: {} × {product}, {} period {} – {}",
                    view.seats, view.term, view.period_start, view.period_end
                )
            });
        }
        Command::Subscription(SubscriptionCmd::Show { id }) => {
            let id = SubscriptionId::parse(&id)?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            let tenant = svc.tenant_of(&id).await?;
            let account = svc.account(&tenant).await?;
            let sub = account.subscription(&id)?;
            let view = views::subscription(&tenant, sub);
            out.print(&view, || {
                format!(
                    "{} ({}): {} × {}, {}, {}, period {} – {} (last day {}), auto-renew {}",
                    view.id,
                    view.tenant,
                    view.seats,
                    view.product,
                    view.term,
                    view.status,
                    view.period_start,
                    view.period_end,
                    sub.period.last_day(),
                    if view.auto_renew { "on" } else { "off" }
                )
            });
        }
        Command::Run(cmd) => {
            let (job, d) = match cmd {
                RunCmd::Daily { date } => (Job::Daily, date),
                RunCmd::Expiry { date } => (Job::Expiry, date),
            };
            let svc = Arc::new(open_service(&target, None, Open::EXISTING).await?);
            let d = d.unwrap_or_else(|| svc.today());
            // The planner and its workers in this process, as the functions run on AWS.
            let summary = svc
                .run_fanned_out(job, d, fanout::local_workers(), Sizes::default())
                .await?;
            out.print(&summary, || app::summary_line(&summary));
            if let Some(line) = app::attention_line(&summary) {
                eprintln!("renewals: {line}");
            }
            if !summary.failures.is_empty()
                || summary.emails_failed > 0
                || summary.suspensions_held > 0
            {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Seats(SeatsCmd::Add {
            subscription,
            seats,
            date: d,
        }) => {
            let sub = SubscriptionId::parse(&subscription)?;
            let svc = open_service(&target, Some(d), Open::EXISTING).await?;
            let doc = svc.add_seats(&sub, seats, d).await?;
            let view = views::document(&doc);
            out.print(&view, || {
                format!(
                    "order {} for {seats} seat(s) on {sub}: {} zł net, {} zł gross, due {}",
                    view.number, view.net, view.gross, view.due_date
                )
            });
        }
        Command::Seats(SeatsCmd::Reduce {
            subscription,
            to,
            representative,
            date: d,
        }) => {
            let sub = SubscriptionId::parse(&subscription)?;
            if to < 1 {
                return Err(anyhow!(
                    "cannot reduce {sub} to {to} seats: the minimum is 1; turn renewal off to stop it"
                ));
            }
            let to = renewals_domain::subscription::parse_seats(to)?;
            let svc = open_service(&target, Some(d), Open::EXISTING).await?;
            svc.reduce_seats(&sub, to, &representative, d).await?;
            out.print(
                &serde_json::json!({"subscription": sub, "seats_next_period": to}),
                || {
                    format!(
                        "{sub} goes down to {to} seat(s) from its next period ({representative})"
                    )
                },
            );
        }
        Command::Plan(PlanCmd::Change {
            subscription,
            product,
            at_renewal,
            now,
            date: d,
        }) => {
            let sub = SubscriptionId::parse(&subscription)?;
            let svc = open_service(&target, Some(d), Open::EXISTING).await?;
            if now && !at_renewal {
                let doc = svc.change_plan_now(&sub, &product, d).await?;
                let view = views::document(&doc);
                out.print(&view, || {
                    format!(
                        "{sub} stops renewing; new subscription {} of {product} from {d}, order {} ({} zł gross)",
                        doc.lines[0].subscription, view.number, view.gross
                    )
                });
            } else {
                svc.change_plan_at_renewal(&sub, &product, d).await?;
                out.print(
                    &serde_json::json!({"subscription": sub, "product_next_period": product}),
                    || format!("{sub} renews as {product}"),
                );
            }
        }
        Command::Renewal(RenewalCmd::Off { subscription }) => {
            let sub = SubscriptionId::parse(&subscription)?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            svc.renewal_off(&sub).await?;
            out.print(
                &serde_json::json!({"subscription": sub, "auto_renew": false}),
                || format!("renewal of {sub} is off; it ends at the end of its period"),
            );
        }
        Command::Document(DocumentCmd::Xml { number }) => {
            let number = invoice_number(&number)?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            let xml = svc.invoice_xml(&number).await?;
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&xml)
                .and_then(|()| stdout.flush())
                .context("writing the XML to stdout")?;
        }
        Command::Document(DocumentCmd::Pdf { number, out: file }) if number.starts_with("FV") => {
            let number = invoice_number(&number)?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            let stored = svc.vat_invoice(&number).await?;
            let account = svc.account(&stored.invoice.tenant).await?;
            let mark = svc
                .ksef_mark(&stored)
                .map(|(number, qr_url)| renewals_pdf::KsefMark { number, qr_url });
            let pdf = renewals_email::Renderer::from_settings(&svc.settings).invoice_pdf(
                &stored.invoice,
                &account.tenant,
                mark.as_ref(),
            );
            std::fs::write(&file, &pdf).with_context(|| format!("writing {}", file.display()))?;
            out.print(
                &serde_json::json!({
                    "number": number,
                    "file": file.display().to_string(),
                    "bytes": pdf.len(),
                    "ksef_number": stored.submission.ksef_number,
                }),
                || format!("{number}: {} ({} bytes)", file.display(), pdf.len()),
            );
        }
        Command::Document(DocumentCmd::Pdf { number, out: file }) => {
            let number = DocumentNumber::parse(&number)?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            let document = svc
                .store
                .document(&number)
                .await?
                .ok_or_else(|| anyhow!("no document {number}"))?;
            let account = svc.account(&document.tenant).await?;
            let pdf = renewals_email::Renderer::from_settings(&svc.settings)
                .pdf(&document, &account.tenant);
            std::fs::write(&file, &pdf).with_context(|| format!("writing {}", file.display()))?;
            out.print(
                &serde_json::json!({
                    "number": number,
                    "file": file.display().to_string(),
                    "bytes": pdf.len(),
                }),
                || format!("{number}: {} ({} bytes)", file.display(), pdf.len()),
            );
        }
        Command::Documents { tenant } => {
            let tenant = TenantId::parse(&tenant)?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            svc.account(&tenant).await?;
            let docs = svc.store.documents_of(&tenant).await?;
            let invoices = svc.store.invoices_of(&tenant).await?;
            let mut view: Vec<serde_json::Value> = docs
                .iter()
                .map(|d| serde_json::to_value(views::document(d)))
                .collect::<Result<_, _>>()?;
            for i in &invoices {
                view.push(serde_json::to_value(views::invoice(i))?);
            }
            out.print(&view, || {
                let mut lines: Vec<String> = docs
                    .iter()
                    .map(views::document)
                    .map(|d| {
                        format!(
                            "{:<17} {:<9} {:<9} issued {} due {}  {:>10} zł gross",
                            d.number, d.kind, d.status, d.issue_date, d.due_date, d.gross
                        )
                    })
                    .collect();
                lines.extend(invoices.iter().map(views::invoice).map(|i| {
                    format!(
                        "{:<17} {:<9} {:<9} issued {} for {}  {:>10} zł gross  KSeF {}{}",
                        i.number,
                        "invoice",
                        i.invoice_type,
                        i.issue_date,
                        i.settles,
                        i.gross,
                        i.ksef.status,
                        i.ksef
                            .number
                            .as_ref()
                            .map(|n| format!(" {n}"))
                            .unwrap_or_default()
                    )
                }));
                lines.join("\n")
            });
        }
        Command::Microsoft(MicrosoftCmd::Commands { tenant }) => {
            let tenant = TenantId::parse(&tenant)?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            let commands = svc.microsoft_commands(&tenant).await?;
            let view: Vec<_> = commands.iter().map(renewals_app::microsoft::view).collect();
            out.print(&view, || {
                if view.is_empty() {
                    return format!("no Microsoft commands for {tenant}");
                }
                view.iter()
                    .map(|c| {
                        format!(
                            "{:<8} {:<10} {:<8} attempts {}  {}  {}{}",
                            c.subscription,
                            c.kind,
                            c.status,
                            c.attempts,
                            c.payload,
                            c.id,
                            c.last_error
                                .as_deref()
                                .map(|e| format!("  last error: {e}"))
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Ksef(KsefCmd::Sync) => {
            let svc = open_service(&target, None, Open::EXISTING).await?;
            let run = svc.ksef_sync().await?;
            let delivery = svc.deliver().await?;
            out.print(&run, || {
                if !run.connected {
                    return "no KSeF here (KSEF_BASE_URL unset on DynamoDB): invoices wait in their outbox".into();
                }
                format!(
                    "KSeF: {} invoice(s) sent, {} accepted, {} rejected, {} still processing, {} failed ({} parked), {} late alert(s); {} e-mail(s) sent",
                    run.sent, run.accepted, run.rejected, run.processing, run.failed, run.parked, run.late, delivery.sent
                )
            });
            if run.parked + run.rejected > 0 {
                eprintln!("renewals: {} invoice(s) need a person (rejected or parked); the operator was alerted", run.parked + run.rejected);
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Microsoft(MicrosoftCmd::Sync) => {
            if renewals_microsoft::PartnerCenterSettings::from_env()?.is_none() {
                return Err(anyhow!(
                    "microsoft sync reads Partner Center: set PARTNER_CENTER_TOKEN_URL, PARTNER_CENTER_CLIENT_ID and PARTNER_CENTER_CLIENT_SECRET (the offline stand-in has nothing to compare)"
                ));
            }
            let svc = open_service(&target, None, Open::EXISTING).await?;
            let report = svc.microsoft_sync().await?;
            out.print(&report, || {
                let mut lines = vec![format!(
                    "{} linked subscription(s) read, {} difference(s)",
                    report.checked,
                    report.drift.len()
                )];
                for d in &report.drift {
                    lines.push(format!(
                        "  {:<20} {:<11} ours {}  Microsoft {}  ({})",
                        d.subscription, d.field, d.ours, d.microsoft, d.microsoft_subscription
                    ));
                }
                lines.join("\n")
            });
            if !report.drift.is_empty() {
                // Like a run that needs a person: the operator must look.
                std::process::exit(1);
            }
        }
        Command::Audit { tenant } => {
            let tenant = TenantId::parse(&tenant)?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            // The operators' own log (operators added, payments naming no customer) has
            // no account behind it.
            if tenant.as_str() != renewals_app::audit::OPERATORS {
                svc.account(&tenant).await?;
            }
            let log = svc.store.audit_of(&tenant).await?;
            out.print(&log, || {
                log.iter()
                    .map(|e| {
                        format!(
                            "{}  {:<26} {:<22} {:<20} {}",
                            e.at.format("%Y-%m-%d %H:%M:%S"),
                            e.actor.to_string(),
                            e.action,
                            e.document.as_deref().unwrap_or("-"),
                            e.summary
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Emails { tenant } => {
            let tenant = TenantId::parse(&tenant)?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            svc.account(&tenant).await?;
            let emails = svc.store.emails_of(&tenant).await?;
            let view: Vec<_> = emails.iter().map(views::email).collect();
            out.print(&view, || {
                view.iter()
                    .map(|m| format!("{}  {:<21} {}  {}", m.date, m.kind, m.to, m.subject))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Pay {
            document,
            date: d,
            amount,
        } => {
            embedded_only(
                "pay plays Przelewy24 and works only on the embedded store; real payments arrive through the webhook",
            )?;
            let number = DocumentNumber::parse(&document)?;
            let svc = open_service(&target, Some(d), Open::PLAY).await?;
            let doc = svc
                .store
                .document(&number)
                .await?
                .ok_or_else(|| anyhow!("no document {number}"))?;
            let amount = amount.unwrap_or(doc.totals.gross.grosze());
            let account = svc.account(&doc.tenant).await?;
            let p24 = P24Settings::from_env(Defaults::Local)?;
            let method = account.tenant.payment_method;
            let response =
                renewals_przelewy24::offline::pay(&svc, &p24, &doc, amount, method).await;
            // As the webhook's Lambda does after a payment: the invoice goes to KSeF now.
            svc.ksef_sync().await?;
            svc.deliver().await?;
            let after = svc.store.document(&number).await?.expect("still there");
            out.print(
                &serde_json::json!({"http_status": response.status, "response": response.body,
                    "document": number.to_string(), "status": after.status.as_str()}),
                || {
                    format!(
                        "{number}: webhook answered {} {}; document is {}",
                        response.status,
                        response.body,
                        after.status.as_str()
                    )
                },
            );
            if response.status != 200 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Payment(PaymentCmd::Record {
            document,
            amount,
            date: d,
            reference,
            representative,
        }) => {
            let transfer = renewals_app::transfers::Transfer {
                document: DocumentNumber::parse(&document)?,
                amount_grosze: amount,
                date: d,
                reference,
                representative: Some(representative),
            };
            let svc = open_service(&target, Some(transfer.date), Open::EXISTING).await?;
            let settlement = svc.record_transfer(&transfer).await?;
            out.print(&settlement, || app::settlement_line(&document, &settlement));
        }
        Command::Bank(BankCmd::Import { file, encoding }) if !file.is_dir() => {
            // One file: always read (its credits' keys make a repetition change nothing), and
            // noted, so that a folder holding it later skips it.
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let credits = renewals_bank::parse_statement(&bytes, encoding)
                .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            let report = svc.import_statement(&credits).await?;
            let key = renewals_bank::content_key(&bytes);
            svc.store
                .add_bank_note(&key, &file.display().to_string())
                .await?;
            out.print(&report, || app::import_lines(&report));
        }
        Command::Bank(BankCmd::Import { file, encoding }) => {
            // A folder: every file not imported before (by content), in name order; a file
            // that is not a statement is listed and the others go on.
            let files = app::statement_files(&file)?;
            let svc = open_service(&target, None, Open::EXISTING).await?;
            let mut imports = vec![];
            let mut refused = vec![];
            for path in &files {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let name = path.display().to_string();
                match renewals_bank::import_file(&svc, &name, &bytes, encoding).await {
                    Ok(done) => imports.push(done),
                    Err(e @ renewals_bank::FileError::Refused { .. }) => {
                        refused.push(e.to_string())
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let view = app::FolderImport {
                files: &imports,
                refused: &refused,
            };
            out.print(&view, || app::folder_lines(&view));
            if !refused.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Operator(OperatorCmd::Add { email, name }) => {
            panel::add_operator(&target, &email, &name).await?
        }
        Command::Operator(OperatorCmd::Backfill) => match &target.table {
            Some(table) => panel::backfill(table).await?,
            None => return Err(anyhow!("operator backfill is for a DynamoDB table (--dynamodb-table); the embedded store needs none")),
        },
        Command::Serve { addr } => {
            embedded_only(
                "serve works only on the embedded store; in AWS the payment-webhook function answers Przelewy24",
            )?;
            serve::serve(&dir, &addr).await?
        }
        Command::Demo => demo::run(&dir, &out).await?,
        Command::Simulate {
            tenants,
            months,
            seed,
        } => {
            let report = simulate::run(&dir, tenants as usize, months, seed).await?;
            out.print(&report, || serde_json::to_string_pretty(&report).unwrap());
            if !report.invariants_ok {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn non_empty(s: &str, what: &str) -> anyhow::Result<String> {
    let t = s.trim();
    if t.is_empty() {
        Err(anyhow!("{what} must not be empty"))
    } else {
        Ok(t.to_string())
    }
}

/// A VAT invoice's number; a pro-forma's or order's number is named as such.
fn invoice_number(s: &str) -> anyhow::Result<renewals_domain::InvoiceNumber> {
    if DocumentNumber::parse(s).is_ok() {
        return Err(anyhow!(
            "{s} is a pro-forma or an order, not a VAT invoice: only VAT invoices (FV/YYYY/MM/NNNN) have FA(3) XML; see `renewals documents --tenant ID` for its invoice"
        ));
    }
    Ok(renewals_domain::InvoiceNumber::parse(s)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command and every flag says what it is in `--help`.
    #[test]
    fn every_command_and_flag_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(path.clone());
                }
                walk(sub, &path, missing);
            }
        }
        let cli = Cli::command();
        cli.clone().debug_assert();
        let mut missing = vec![];
        walk(&cli, "renewals", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }

    #[test]
    fn an_argument_error_is_one_line_without_the_usage() {
        for args in [
            vec![
                "renewals",
                "seats",
                "add",
                "--subscription",
                "a-1",
                "--seats",
                "x",
            ],
            vec!["renewals", "tenant", "add", "--id", "x"],
            vec!["renewals", "nonsense"],
            vec!["renewals", "run", "daily", "--date", "2026-13-01"],
        ] {
            let e = Cli::try_parse_from(&args).err().expect("refused");
            let line = argument_error(&e);
            assert!(!line.contains('\n') && !line.contains("Usage"), "{line}");
            assert!(!line.starts_with("error"), "{line}");
        }
    }
}
