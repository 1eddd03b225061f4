//! `renewals`: the operator's tool over the same shared code as the Lambda functions.

mod app;
mod demo;
mod serve;
mod simulate;

use anyhow::{anyhow, Context};
use app::{open_service, Output};
use clap::{Args, Parser, Subcommand};
use renewals_app::config::Defaults;
use renewals_app::views;
use renewals_domain::{
    parse_date, DocumentNumber, EmailAddress, Job, Locale, Nip, PaymentMethod, SubscriptionId,
    Tenant, TenantId, Term,
};
use renewals_przelewy24::P24Settings;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "renewals",
    about = "Licence renewals for a Microsoft 365 reseller",
    version
)]
struct Cli {
    /// Folder of the embedded database and the `outbox/` of e-mails.
    #[arg(long, global = true, default_value = ".renewals")]
    data_dir: PathBuf,
    /// Use this DynamoDB table (endpoint, region and credentials from the standard AWS
    /// environment) instead of the embedded store; e-mails then go out through SES.
    #[arg(long, global = true)]
    dynamodb_table: Option<String>,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the products and their net prices per seat.
    Catalog,
    #[command(subcommand)]
    Tenant(TenantCmd),
    #[command(subcommand)]
    Subscription(SubscriptionCmd),
    #[command(subcommand)]
    Run(RunCmd),
    #[command(subcommand)]
    Seats(SeatsCmd),
    #[command(subcommand)]
    Plan(PlanCmd),
    #[command(subcommand)]
    Renewal(RenewalCmd),
    /// A tenant's pro-formas and orders.
    Documents {
        #[arg(long)]
        tenant: String,
    },
    /// E-mails sent to a tenant.
    Emails {
        #[arg(long)]
        tenant: String,
    },
    /// Play Przelewy24: send a signed notification for a document through the webhook handler.
    Pay {
        #[arg(long)]
        document: String,
        #[arg(long)]
        date: String,
        /// Amount in grosze (default: the document's gross).
        #[arg(long)]
        amount: Option<i64>,
    },
    #[command(subcommand)]
    Payment(PaymentCmd),
    #[command(subcommand)]
    Bank(BankCmd),
    /// Serve `POST /webhooks/przelewy24` on the embedded store.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
    },
    /// A scripted season on a fresh data folder, told as a timeline.
    Demo,
    /// A test clock at scale with invariant checks.
    Simulate {
        #[arg(long)]
        tenants: usize,
        #[arg(long)]
        months: u32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum TenantCmd {
    Add(TenantAdd),
}

#[derive(Args)]
struct TenantAdd {
    #[arg(long)]
    id: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    nip: String,
    #[arg(long)]
    email: String,
    #[arg(long, default_value = "pl")]
    locale: String,
    #[arg(long, default_value = "blik")]
    payment_method: String,
    #[arg(long, default_value = "")]
    address: String,
    /// Przelewy24 card reference (refId) for automatic payments of a `card` tenant.
    #[arg(long)]
    card_ref: Option<String>,
}

#[derive(Subcommand)]
enum SubscriptionCmd {
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        product: String,
        #[arg(long)]
        seats: i64,
        #[arg(long)]
        term: String,
        #[arg(long)]
        start: String,
    },
    Show {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum RunCmd {
    /// Pro-formas, reminders, overdue notices and period starts due by the date.
    Daily {
        #[arg(long)]
        date: Option<String>,
    },
    /// Suspensions and expired orders due by the date.
    Expiry {
        #[arg(long)]
        date: Option<String>,
    },
}

#[derive(Subcommand)]
enum SeatsCmd {
    Add {
        #[arg(long)]
        subscription: String,
        #[arg(long)]
        seats: i64,
        #[arg(long)]
        date: String,
    },
    Reduce {
        #[arg(long)]
        subscription: String,
        #[arg(long)]
        to: i64,
        #[arg(long)]
        representative: String,
        #[arg(long)]
        date: String,
    },
}

#[derive(Subcommand)]
enum PlanCmd {
    Change {
        #[arg(long)]
        subscription: String,
        #[arg(long)]
        product: String,
        #[arg(long, conflicts_with = "now", required_unless_present = "now")]
        at_renewal: bool,
        #[arg(long)]
        now: bool,
        #[arg(long)]
        date: String,
    },
}

#[derive(Subcommand)]
enum PaymentCmd {
    /// Record a bank transfer seen on the account; it activates like a Przelewy24 payment.
    Record {
        #[arg(long)]
        document: String,
        /// Amount in grosze.
        #[arg(long)]
        amount: i64,
        #[arg(long)]
        date: String,
        /// The bank's reference of the transfer: recording it again changes nothing.
        #[arg(long)]
        reference: String,
        #[arg(long)]
        representative: String,
    },
}

#[derive(Subcommand)]
enum BankCmd {
    /// Import an ISO 20022 camt.053 statement: settle what matches, list the rest for review.
    Import { file: PathBuf },
}

#[derive(Subcommand)]
enum RenewalCmd {
    Off {
        #[arg(long)]
        subscription: String,
    },
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
    let cli = Cli::parse();
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
    match cli.command {
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
                address: t.address,
                email: EmailAddress::parse(&t.email)?,
                locale: Locale::parse(&t.locale)?,
                payment_method: PaymentMethod::parse(&t.payment_method)?,
            };
            let svc = open_service(&target, None).await?;
            svc.add_tenant(tenant.clone()).await?;
            if let Some(card_ref) = &t.card_ref {
                svc.set_card(&tenant.id, card_ref).await?;
            }
            out.print(&serde_json::json!({"id": tenant.id}), || {
                format!("tenant {} added", tenant.id)
            });
        }
        Command::Subscription(SubscriptionCmd::Add {
            tenant,
            product,
            seats,
            term,
            start,
        }) => {
            let tenant = TenantId::parse(&tenant)?;
            let seats = renewals_domain::subscription::parse_seats(seats)?;
            let term = Term::parse(&term)?;
            let start = parse_date(&start)?;
            let svc = open_service(&target, None).await?;
            let id = svc
                .add_subscription(&tenant, &product, seats, term, start)
                .await?;
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
            let svc = open_service(&target, None).await?;
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
            let svc = open_service(&target, None).await?;
            let d = match d {
                Some(d) => parse_date(&d)?,
                None => svc.today(),
            };
            let summary = svc.run_job(job, d, None).await?;
            out.print(&summary, || app::summary_line(&summary));
            if !summary.failures.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Seats(SeatsCmd::Add {
            subscription,
            seats,
            date: d,
        }) => {
            let sub = SubscriptionId::parse(&subscription)?;
            let seats = renewals_domain::subscription::parse_seats(seats)?;
            let d = parse_date(&d)?;
            let svc = open_service(&target, Some(d)).await?;
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
            let d = parse_date(&d)?;
            let svc = open_service(&target, Some(d)).await?;
            svc.reduce_seats(&sub, to as u32, &representative, d)
                .await?;
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
            let d = parse_date(&d)?;
            let svc = open_service(&target, Some(d)).await?;
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
            let svc = open_service(&target, None).await?;
            svc.renewal_off(&sub).await?;
            out.print(
                &serde_json::json!({"subscription": sub, "auto_renew": false}),
                || format!("renewal of {sub} is off; it ends at the end of its period"),
            );
        }
        Command::Documents { tenant } => {
            let tenant = TenantId::parse(&tenant)?;
            let svc = open_service(&target, None).await?;
            svc.account(&tenant).await?;
            let docs = svc.store.documents_of(&tenant).await?;
            let view: Vec<_> = docs.iter().map(views::document).collect();
            out.print(&view, || {
                view.iter()
                    .map(|d| {
                        format!(
                            "{:<17} {:<9} {:<9} issued {} due {}  {:>10} zł gross",
                            d.number, d.kind, d.status, d.issue_date, d.due_date, d.gross
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Emails { tenant } => {
            let tenant = TenantId::parse(&tenant)?;
            let svc = open_service(&target, None).await?;
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
            if target.table.is_some() {
                return Err(anyhow!(
                    "pay plays Przelewy24 and works only on the embedded store; real payments arrive through the webhook"
                ));
            }
            let number = DocumentNumber::parse(&document)?;
            let d = parse_date(&d)?;
            let svc = open_service(&target, Some(d)).await?;
            let doc = svc
                .store
                .document(&number)
                .await?
                .ok_or_else(|| anyhow!("no document {number}"))?;
            let amount = amount.unwrap_or(doc.totals.gross.grosze());
            if amount <= 0 {
                return Err(anyhow!("invalid amount {amount}: grosze must be positive"));
            }
            let account = svc.account(&doc.tenant).await?;
            let p24 = P24Settings::from_env(Defaults::Local)?;
            let method = account.tenant.payment_method;
            let response =
                renewals_przelewy24::offline::pay(&svc, &p24, &doc, amount, method).await;
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
                date: parse_date(&d)?,
                reference,
                representative: Some(representative),
            };
            let svc = open_service(&target, Some(transfer.date)).await?;
            let settlement = svc.record_transfer(&transfer).await?;
            out.print(&settlement, || app::settlement_line(&document, &settlement));
        }
        Command::Bank(BankCmd::Import { file }) => {
            let xml =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let credits = renewals_bank::parse_camt053(&xml)
                .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            let svc = open_service(&target, None).await?;
            let report = svc.import_statement(&credits).await?;
            out.print(&report, || app::import_lines(&report));
        }
        Command::Serve { addr } => serve::serve(&dir, &addr).await?,
        Command::Demo => demo::run(&dir).await?,
        Command::Simulate {
            tenants,
            months,
            seed,
        } => {
            if tenants == 0 || months == 0 {
                return Err(anyhow!("simulate needs at least 1 tenant and 1 month"));
            }
            let report = simulate::run(tenants, months, seed).await?;
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
