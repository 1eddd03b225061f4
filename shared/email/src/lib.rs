//! E-mails: every notice rendered from templates into HTML + plain text, and built into one
//! MIME message (multipart/alternative, UTF-8) that the SES mailer and the outbox share.
//!
//! The wording lives in `templates/`:
//! - `copy.pl.txt`, `copy.en.txt`: per-kind subject and paragraphs (plain text, see the
//!   grammar at the top of those files), rendered first;
//! - `layout.html` (table-based, inline CSS, max 600px, auto-escaped) and `layout.txt`: the
//!   shared frame, document table, totals and payment details, filled with the parsed copy;
//! - `labels.json`: fixed labels of the layout per locale.
//!
//! Everything is parsed once in [`Renderer::new`]; a render is three template evaluations.

use chrono::{DateTime, NaiveDate, Utc};
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value;
use minijinja::{context, AutoEscape, Environment, UndefinedBehavior};
use renewals_app::config::{MailSettings, SellerSettings, Settings};
use renewals_app::ports::{ComposedEmail, Composer, Envelope};
use renewals_domain::{
    AlertCause, Catalog, DeliveryProblem, Document, DocumentKind, InvoiceType, LinePurpose, Locale,
    Money, Notice, PaymentMethod, Period, Tenant, VatInvoice,
};
use std::collections::{BTreeMap, HashMap};

const LAYOUT_HTML: &str = include_str!("../templates/layout.html");
const LAYOUT_TXT: &str = include_str!("../templates/layout.txt");
const COPY_PL: &str = include_str!("../templates/copy.pl.txt");
const COPY_EN: &str = include_str!("../templates/copy.en.txt");
const LABELS: &str = include_str!("../templates/labels.json");

/// Plain-text paragraphs are wrapped at this many characters.
const TEXT_WIDTH: usize = 72;

/// One e-mail, ready to be built into MIME.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RenderedEmail {
    pub kind: &'static str,
    pub to: String,
    /// Always one line.
    pub subject: String,
    pub html: String,
    pub text: String,
    /// The document as a PDF, on the e-mails that ask for its payment (pro-forma, reminder,
    /// overdue, order).
    #[serde(skip)]
    pub attachment: Option<Attachment>,
}

/// A file attached to an e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// `PF-2026-02-0001.pdf`
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Renders notices; the template environment is built once and shared.
#[derive(Clone)]
pub struct Renderer {
    env: Environment<'static>,
    settings: MailSettings,
    catalog: Catalog,
    names: HashMap<String, String>,
    labels_pl: Value,
    labels_en: Value,
    /// The seller's NIP and address lines for the documents' PDFs (from the settings).
    seller: Option<(String, Vec<String>)>,
    /// The seller as VAT invoices name it (FA(3) `Podmiot1`), from the settings.
    invoice_seller: Option<SellerSettings>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("settings", &self.settings)
            .field("products", &self.catalog.products.len())
            .finish_non_exhaustive()
    }
}

impl Renderer {
    /// The renderer for the configured seller and catalog.
    pub fn from_settings(settings: &Settings) -> Renderer {
        let mut renderer = Renderer::new(settings.mail.clone(), settings.catalog.clone());
        let s = &settings.seller;
        let address = std::iter::once(s.address_line1.clone())
            .chain(s.address_line2.clone())
            .collect();
        renderer.seller = Some((s.nip.as_str().to_string(), address));
        renderer.invoice_seller = Some(s.clone());
        renderer
    }

    pub fn new(settings: MailSettings, catalog: Catalog) -> Renderer {
        let mut env = Environment::new();
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("valid syntax config"),
        );
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_formatter(|out, state, value| {
            // Like the default, but without escaping `/`: document numbers and URLs stay
            // readable in the HTML source. `& < > " '` are escaped, enough for text and
            // double-quoted attributes.
            if matches!(state.auto_escape(), AutoEscape::Html) && !value.is_safe() {
                if let Some(s) = value.as_str() {
                    return write_html_escaped(out, s).map_err(minijinja::Error::from);
                }
            }
            minijinja::escape_formatter(out, state, value)
        });
        env.add_filter("wrap", |s: &str| wrap(s, TEXT_WIDTH));
        for (name, source) in [
            ("layout.html", LAYOUT_HTML),
            ("layout.txt", LAYOUT_TXT),
            ("copy.pl.txt", COPY_PL),
            ("copy.en.txt", COPY_EN),
        ] {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} does not compile: {e:#}"));
        }
        let labels: BTreeMap<String, BTreeMap<String, String>> =
            serde_json::from_str(LABELS).expect("templates/labels.json is valid");
        let locale_labels = |lang: &str| -> Value {
            let map = labels
                .get(lang)
                .unwrap_or_else(|| panic!("labels.json lacks `{lang}`"));
            Value::from(map.clone())
        };
        let names = catalog
            .products
            .iter()
            .map(|p| (p.sku.clone(), p.name.clone()))
            .collect();
        Renderer {
            labels_pl: locale_labels("pl"),
            labels_en: locale_labels("en"),
            env,
            settings,
            catalog,
            names,
            seller: None,
            invoice_seller: None,
        }
    }

    /// Renders one notice for one tenant, as sent on `today` (the Warsaw date): customer
    /// notices go to the tenant's billing address in the tenant's language; operator alerts go
    /// to the operator, in Polish. A date the notice speaks of is worded against `today`: a
    /// due date or a suspension date already past is never put in the future tense.
    pub fn render(&self, notice: &Notice, tenant: &Tenant, today: NaiveDate) -> RenderedEmail {
        let (to, subject, ctx) = self.prepare(notice, tenant, today);
        let html = plain_spaces(self.render_layout("layout.html", ctx.clone(), notice));
        let text = plain_spaces(tidy_text(&self.render_layout("layout.txt", ctx, notice)));
        RenderedEmail {
            kind: notice.kind(),
            to,
            subject: plain_spaces(subject),
            html,
            text,
            attachment: self.attachment(notice, tenant),
        }
    }

    /// The seller as the PDFs print it. Hook: the seller's NIP and address join here once the
    /// settings carry them (`RENEWALS_SELLER_NIP`, `RENEWALS_SELLER_ADDRESS`).
    pub fn seller(&self) -> renewals_pdf::Seller {
        let (nip, address) = self.seller.clone().unzip();
        renewals_pdf::Seller {
            name: self.settings.reseller_name.clone(),
            nip,
            address: address.unwrap_or_default(),
            bank_account: self.settings.bank_account.clone(),
        }
    }

    /// The document as a PDF for this tenant: what the e-mails attach and
    /// `renewals document pdf` writes.
    pub fn pdf(&self, document: &Document, tenant: &Tenant) -> Vec<u8> {
        renewals_pdf::render(document, &self.seller(), &renewals_pdf::Buyer::of(tenant))
    }

    /// A VAT invoice as a PDF: what it says (as its XML does) with the KSeF number and
    /// KOD I once KSeF has accepted it. What the `invoice` e-mail attaches and
    /// `renewals document pdf --number FV/…` writes.
    pub fn invoice_pdf(
        &self,
        invoice: &VatInvoice,
        tenant: &Tenant,
        mark: Option<&renewals_pdf::KsefMark>,
    ) -> Vec<u8> {
        let seller = self
            .invoice_seller
            .clone()
            .unwrap_or_else(|| SellerSettings {
                name: self.settings.reseller_name.clone(),
                nip: renewals_domain::Nip::parse("5260250274").expect("valid NIP"),
                address_line1: String::new(),
                address_line2: None,
                country: "PL".into(),
            });
        // The PDF prints no creation instant; noon of the issue day keeps it deterministic.
        let at = renewals_domain::warsaw_noon(invoice.issue_date);
        let fa3 = renewals_app::invoicing::fa3(invoice, tenant, &seller, at);
        renewals_pdf::render_invoice(&fa3, mark)
    }

    /// The PDF of the document an e-mail asks the customer to pay, if it asks.
    fn attachment(&self, notice: &Notice, tenant: &Tenant) -> Option<Attachment> {
        if let Notice::Invoice {
            invoice,
            ksef_number,
            qr_url,
        } = notice
        {
            let mark = renewals_pdf::KsefMark {
                number: ksef_number.clone(),
                qr_url: qr_url.clone(),
            };
            return Some(Attachment {
                name: renewals_pdf::invoice_file_name(&invoice.number.to_string()),
                content_type: "application/pdf",
                bytes: self.invoice_pdf(invoice, tenant, Some(&mark)),
            });
        }
        let document = match notice {
            Notice::Proforma { document }
            | Notice::Reminder { document, .. }
            | Notice::Overdue { document, .. }
            | Notice::Order { document } => document,
            _ => return None,
        };
        Some(Attachment {
            name: renewals_pdf::file_name(document),
            content_type: "application/pdf",
            bytes: self.pdf(document, tenant),
        })
    }

    /// The whole message: `multipart/alternative` (text/plain, then text/html), UTF-8; with an
    /// attachment, that inside `multipart/mixed` followed by the file (base64).
    /// Deterministic for the same e-mail, id and instant (the boundaries derive from the id).
    pub fn mime(&self, email: &RenderedEmail, message_id: &str, sent_at: DateTime<Utc>) -> Vec<u8> {
        let id_hash = fnv1a(message_id.as_bytes());
        let boundary = format!("=_renewals_{id_hash:016x}");
        let alternative = MimePart::new(
            ContentType::new("multipart/alternative").attribute("boundary", boundary),
            vec![
                MimePart::new("text/plain", email.text.as_str()),
                MimePart::new("text/html", email.html.as_str()),
            ],
        );
        let body = match &email.attachment {
            None => alternative,
            Some(file) => MimePart::new(
                ContentType::new("multipart/mixed")
                    .attribute("boundary", format!("=_renewals_mixed_{id_hash:016x}")),
                vec![
                    alternative,
                    MimePart::new(file.content_type, file.bytes.as_slice())
                        .attachment(file.name.as_str()),
                ],
            ),
        };
        MessageBuilder::new()
            .from((
                self.settings.reseller_name.as_str(),
                self.settings.sender.as_str(),
            ))
            .to(email.to.as_str())
            .subject(email.subject.as_str())
            .date(sent_at.timestamp())
            .message_id(format!("{message_id}@renewals"))
            .header("Auto-Submitted", Raw::new("auto-generated"))
            .body(body)
            .write_to_vec()
            .expect("writing to a Vec cannot fail")
    }

    /// Who reads a notice: the operator (internal alerts, in Polish) or the customer.
    fn reader(&self, notice: &Notice, tenant: &Tenant) -> Reader {
        let internal = matches!(
            notice,
            Notice::OperatorAlert { .. } | Notice::DeliveryAlert { .. }
        );
        let locale = if internal { Locale::Pl } else { tenant.locale };
        Reader {
            internal,
            locale,
            lang: match locale {
                Locale::Pl => "pl",
                Locale::En => "en",
            },
            to: if internal {
                self.settings.operator.clone()
            } else {
                tenant.email.as_str().to_string()
            },
        }
    }

    /// The notice's copy rendered from its locale's template: all of it, or with
    /// `subject_only`, only as far as the end of the subject block (rendering stops there).
    fn copy_text(
        &self,
        notice: &Notice,
        tenant: &Tenant,
        today: NaiveDate,
        subject_only: Option<&mut SubjectOnly>,
    ) -> String {
        let Reader { locale, lang, .. } = self.reader(notice, tenant);
        let name = match locale {
            Locale::Pl => "copy.pl.txt",
            Locale::En => "copy.en.txt",
        };
        let template = self
            .env
            .get_template(name)
            .unwrap_or_else(|e| panic!("loading {name}: {e:#}"));
        let ctx = self.copy_context(notice, tenant, locale, lang, today);
        match subject_only {
            None => template.render(ctx),
            Some(out) => match template.render_captured_to(ctx, &mut *out) {
                Ok(_) => Ok(std::mem::take(&mut out.text)),
                // The writer stopped the rendering once the subject block was complete.
                Err(_) if out.done => Ok(std::mem::take(&mut out.text)),
                Err(e) => Err(e),
            },
        }
        .unwrap_or_else(|e| panic!("rendering {name} for {}: {e:#}", notice.kind()))
    }

    /// The recipient, the subject and the context of both layouts.
    fn prepare(
        &self,
        notice: &Notice,
        tenant: &Tenant,
        today: NaiveDate,
    ) -> (String, String, Value) {
        let Reader {
            internal,
            locale,
            lang,
            to,
        } = self.reader(notice, tenant);
        let labels = match locale {
            Locale::Pl => &self.labels_pl,
            Locale::En => &self.labels_en,
        };
        let copy = self.copy_text(notice, tenant, today, None);
        let document = notice.document();
        let copy = Copy::parse(&copy, document.is_some());

        let unpaid = matches!(
            notice,
            Notice::Proforma { .. }
                | Notice::Reminder { .. }
                | Notice::Overdue { .. }
                | Notice::Order { .. }
                | Notice::Suspension { .. }
        );
        let paid_on = match notice {
            Notice::PaymentConfirmation { paid_on, .. }
            | Notice::OrderPaid { paid_on, .. }
            | Notice::Restored { paid_on, .. } => Some(*paid_on),
            _ => None,
        };
        // A suspended document's due date is long past: the e-mail names the restore deadline.
        let show_due = unpaid && !matches!(notice, Notice::Suspension { .. });
        let doc = document.map(|d| {
            let lines: Vec<Value> = d
                .lines
                .iter()
                .map(|l| {
                    context! {
                        name => one_line(&l.product_name),
                        seats => l.seats,
                        period => format_period(l.period, locale),
                        net => format_amount(l.net, locale),
                    }
                })
                .collect();
            context! {
                kind => d.kind.as_str(),
                number => d.number.to_string(),
                buyer => one_line(&tenant.name),
                nip => tenant.nip.as_str(),
                issued => format_date(d.issue_date, locale),
                due => show_due.then(|| format_date(d.due_date, locale)),
                paid => paid_on.map(|p| format_date(p, locale)),
                unpaid,
                lines,
                net => format_amount(d.totals.net, locale),
                vat => format_amount(d.totals.vat, locale),
                gross => format_amount(d.totals.gross, locale),
            }
        });
        let pay = document.filter(|_| unpaid).map(|d| {
            context! {
                recipient => self.settings.reseller_name.as_str(),
                account => self.settings.bank_account.as_str(),
                title => d.number.to_string(),
                amount => format_amount(d.totals.gross, locale),
            }
        });
        let link = document.filter(|_| unpaid).and_then(payment_link);

        let preheader = copy
            .blocks
            .iter()
            .find(|b| b.kind == "p")
            .map(|b| b.text.as_str())
            .unwrap_or_default();
        let blocks: Vec<Value> = copy.blocks.iter().map(Block::to_value).collect();
        let ctx = context! {
            lang,
            subject => copy.subject.as_str(),
            preheader,
            internal,
            reseller => self.settings.reseller_name.as_str(),
            t => labels,
            blocks,
            doc,
            pay,
            link,
        };
        (to, copy.subject, ctx)
    }

    fn render_layout(&self, name: &str, ctx: Value, notice: &Notice) -> String {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .unwrap_or_else(|e| panic!("rendering {name} for {}: {e:#}", notice.kind()))
    }

    fn product_name(&self, sku: &str) -> String {
        one_line(self.names.get(sku).map(String::as_str).unwrap_or(sku))
    }

    /// Values the copy templates may use: preformatted strings, numbers and flags.
    fn copy_context(
        &self,
        notice: &Notice,
        tenant: &Tenant,
        locale: Locale,
        lang: &str,
        today: NaiveDate,
    ) -> Value {
        // Dates and amounts keep their spaces unbreakable while paragraphs are wrapped; the
        // finished e-mail turns them back into plain spaces (see `render`).
        let date = |d: NaiveDate| unbreakable(format_date(d, locale));
        let amount = |m: Money| unbreakable(format_amount(m, locale));
        let doc = notice.document();
        let has = |p: LinePurpose| doc.is_some_and(|d| d.lines.iter().any(|l| l.purpose == p));
        let common = context! {
            kind => notice.kind(),
            lang,
            reseller => one_line(&self.settings.reseller_name),
            tenant => one_line(&tenant.name),
            tenant_id => tenant.id.as_str(),
            method => match tenant.payment_method {
                PaymentMethod::Blik => "blik",
                PaymentMethod::Transfer => "transfer",
                PaymentMethod::Card => "card",
            },
            number => doc.map(|d| d.number.to_string()),
            order => doc.is_some_and(|d| d.kind == DocumentKind::Order),
            seat_addition => has(LinePurpose::SeatAddition),
            new_subscription => has(LinePurpose::NewSubscription),
            gross => doc.map(|d| amount(d.totals.gross)),
            issue => doc.map(|d| date(d.issue_date)),
            due => doc.map(|d| date(d.due_date)),
            period_from => doc.map(|d| date(d.period.start)),
            period_to => doc.map(|d| date(d.period.last_day())),
            link => doc.and_then(payment_link).is_some(),
            // Where the document's dates stand on the day the e-mail is sent.
            today => date(today),
            issued_today => doc.is_some_and(|d| d.issue_date >= today),
            due_today => doc.is_some_and(|d| d.due_date == today),
            due_passed => doc.is_some_and(|d| d.due_date < today),
            started => doc.is_some_and(|d| d.period.start <= today),
            // Set by a delivery alert only (see below).
            problem => Option::<&str>::None,
        };
        let specific = match notice {
            Notice::Overdue { suspension_on, .. } => context! {
                suspension_on => date(*suspension_on),
                suspension_passed => *suspension_on <= today,
            },
            Notice::Suspension {
                data_kept_until, ..
            } => context! {
                kept_until => date(*data_kept_until),
            },
            Notice::PaymentConfirmation { paid_on, late, .. } => context! {
                paid_on => date(*paid_on),
                late => *late,
            },
            Notice::OrderPaid { paid_on, .. } => context! {
                paid_on => date(*paid_on),
            },
            Notice::Restored {
                period, paid_on, ..
            } => context! {
                paid_on => date(*paid_on),
                new_from => date(period.start),
                new_to => date(period.last_day()),
            },
            Notice::Invoice {
                invoice,
                ksef_number,
                qr_url,
            } => {
                let order = invoice.settles.kind == DocumentKind::Order;
                context! {
                    invoice => invoice.number.to_string(),
                    settles => invoice.settles.to_string(),
                    settles_order => order,
                    settles_gen => if order { "zamówienia" } else { "pro-formy" },
                    settles_acc => if order { "zamówienie" } else { "pro-formę" },
                    settles_name => if order { "order" } else { "pro forma invoice" },
                    advance => invoice.invoice_type == InvoiceType::Zal,
                    paid_on => date(invoice.paid_on),
                    invoice_issue => date(invoice.issue_date),
                    service_from => date(invoice.period.start),
                    service_to => date(invoice.period.last_day()),
                    invoice_gross => amount(invoice.totals.gross),
                    ksef_number,
                    qr_url,
                }
            }
            Notice::ReductionScheduled {
                subscription,
                product,
                seats_now,
                seats_next,
                effective,
                representative,
            } => context! {
                subscription => subscription.to_string(),
                product => self.product_name(product),
                seats_now => *seats_now,
                seats_next => *seats_next,
                effective => date(*effective),
                representative => one_line(representative),
            },
            Notice::PlanChange {
                subscription,
                from,
                to,
                effective,
                new_subscription,
            } => context! {
                subscription => subscription.to_string(),
                from => self.product_name(from),
                to => self.product_name(to),
                effective => date(*effective),
                // Overrides the document flag of the same name (a plan change has no document).
                new_subscription => new_subscription.as_ref().map(|s| s.to_string()),
            },
            Notice::RenewalEnded {
                subscription,
                product,
                ended_on,
            } => context! {
                subscription => subscription.to_string(),
                product => self.product_name(product),
                ended_on => date(*ended_on),
            },
            Notice::OperatorAlert {
                reason,
                source,
                amount: paid,
                currency,
                document,
                cause,
                received_on,
                ..
            } => {
                let paid = if currency == "PLN" {
                    amount(*paid)
                } else {
                    // Polish digits, the payer's currency: `12,34 EUR`.
                    let pln = format_amount(*paid, Locale::Pl);
                    unbreakable(format!(
                        "{} {}",
                        pln.trim_end_matches(" zł"),
                        one_line(currency)
                    ))
                };
                let surplus = match cause {
                    AlertCause::Overpayment { surplus, .. } => Some(amount(*surplus)),
                    _ => None,
                };
                let (cause, expected) = match cause {
                    AlertCause::Overpayment { expected, .. } => {
                        ("overpayment", Some(amount(*expected)))
                    }
                    AlertCause::UnknownDocument => ("unknown-document", None),
                    AlertCause::AmountMismatch { expected } => ("amount", Some(amount(*expected))),
                    AlertCause::VerifyRefused => ("verify-refused", None),
                    AlertCause::ProviderCredentials => ("credentials", None),
                    AlertCause::Refund => ("refund", None),
                    AlertCause::Other => ("other", None),
                };
                context! {
                    reason => one_line(reason),
                    source => one_line(source),
                    amount => paid,
                    expected,
                    surplus,
                    cause,
                    received_on => date(*received_on),
                    document => document.as_ref().map(|n| n.to_string()),
                    // A payment that names no document has no customer to name.
                    customer => document.is_some(),
                }
            }
            Notice::DeliveryAlert {
                problem,
                document,
                on,
            } => {
                let document = document.as_ref().map(|n| n.to_string());
                match problem {
                    DeliveryProblem::EmailParked {
                        kind,
                        subject,
                        to,
                        attempts,
                        error,
                        ..
                    } => context! {
                        problem => "email-parked",
                        email_kind => kind_name(kind),
                        email_subject => one_line(subject),
                        email_to => one_line(to),
                        attempts,
                        error => one_line(error),
                        document,
                        on => date(*on),
                    },
                    DeliveryProblem::MicrosoftParked {
                        command,
                        subscription,
                        microsoft_subscription,
                        attempts,
                        error,
                        urgent,
                        window_closes,
                        ..
                    } => context! {
                        problem => "microsoft-parked",
                        urgent,
                        window_closes => window_closes.map(date),
                        command,
                        subscription,
                        microsoft_subscription,
                        attempts,
                        error => one_line(error),
                        document,
                        on => date(*on),
                    },
                    DeliveryProblem::Invoice {
                        invoice,
                        issue,
                        reason,
                    } => context! {
                        problem => "invoice",
                        issue => issue.as_str(),
                        invoice,
                        reason => one_line(reason),
                        document,
                        on => date(*on),
                    },
                    DeliveryProblem::SuspensionHeld { due } => context! {
                        problem => "suspension-held",
                        due_suspension => date(*due),
                        document,
                        on => date(*on),
                        email => tenant.email.as_str(),
                    },
                }
            }
            _ => context! {},
        };
        // The first map wins on a shared key.
        context! { ..specific, ..common }
    }
}

/// What an e-mail kind is, as the operator reads it.
fn kind_name(kind: &str) -> &'static str {
    match kind {
        "proforma" => "pro-forma",
        "reminder" => "przypomnienie o płatności",
        "overdue" => "wezwanie do zapłaty (po terminie)",
        "suspension" => "informacja o blokadzie usług",
        "payment-confirmation" => "potwierdzenie płatności",
        "order" => "zamówienie",
        "order-paid" => "potwierdzenie opłacenia zamówienia",
        "reduction-scheduled" => "potwierdzenie zmniejszenia liczby licencji",
        "plan-change" => "informacja o zmianie planu",
        "renewal-ended" => "informacja o zakończeniu subskrypcji",
        "restored" => "informacja o przywróceniu usług",
        "invoice" => "faktura VAT",
        _ => "wiadomość",
    }
}

/// Every mailer sends exactly these bytes, composed at delivery from what the outbox keeps.
impl Composer for Renderer {
    fn envelope(&self, notice: &Notice, tenant: &Tenant, at: DateTime<Utc>) -> Envelope {
        // The copy template alone, up to its subject: no body, no layouts, no PDF. The same
        // first block as `render` parses out of the whole copy.
        let today = renewals_domain::business_date(at);
        let mut out = SubjectOnly::default();
        let copy = self.copy_text(notice, tenant, today, Some(&mut out));
        Envelope {
            kind: notice.kind(),
            to: self.reader(notice, tenant).to,
            subject: plain_spaces(Copy::subject(&copy)),
        }
    }

    fn compose(
        &self,
        notice: &Notice,
        tenant: &Tenant,
        message_id: &str,
        at: DateTime<Utc>,
    ) -> ComposedEmail {
        let email = self.render(notice, tenant, renewals_domain::business_date(at));
        let mime = self.mime(&email, message_id, at);
        ComposedEmail {
            kind: email.kind,
            to: email.to,
            subject: email.subject,
            mime,
        }
    }
}

pub use renewals_pdf::{format_amount, format_date};

/// A half-open period shown by its first and last day: `1 marca 2026 – 31 marca 2026`.
fn format_period(p: Period, locale: Locale) -> String {
    format!(
        "{} – {}",
        format_date(p.start, locale),
        format_date(p.last_day(), locale)
    )
}

/// The payment link, only if it is a web address (never `javascript:` or the like).
fn payment_link(d: &Document) -> Option<&str> {
    d.payment
        .link
        .as_deref()
        .map(str::trim)
        .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
}

const NBSP: char = '\u{a0}';

fn unbreakable(s: String) -> String {
    s.replace(' ', "\u{a0}")
}

/// Turns the no-break spaces of `unbreakable` back into plain spaces.
fn plain_spaces(s: String) -> String {
    if s.contains(NBSP) {
        s.replace(NBSP, " ")
    } else {
        s
    }
}

/// Collapses whitespace and control characters so a value cannot break lines or paragraphs.
fn one_line(s: &str) -> String {
    let breaks = |c: char| (c.is_whitespace() && c != NBSP) || c.is_control();
    // Fast path: already single-spaced, one line, trimmed.
    let mut prev_space = true;
    let clean = s.chars().all(|c| {
        let ok = if c == ' ' { !prev_space } else { !breaks(c) };
        prev_space = c == ' ';
        ok
    }) && !prev_space;
    if clean {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for word in s.split(breaks) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn write_html_escaped(out: &mut minijinja::Output, s: &str) -> std::fmt::Result {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        out.write_str(rep)?;
        start = i + 1;
    }
    out.write_str(&s[start..])
}

/// Greedy word wrap for the plain-text part (counts characters, not bytes).
fn wrap(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / width + 1);
    let mut col = 0;
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let len = word.chars().count();
        if col > 0 && col + 1 + len > width {
            out.push('\n');
            col = 0;
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += len;
    }
    out
}

/// At most one blank line in a row, no blank lines at the start, one newline at the end.
fn tidy_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    let mut blank = true;
    for line in s.lines() {
        if line.trim().is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
        } else {
            out.push_str(line);
            out.push('\n');
            blank = false;
        }
    }
    if out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What a copy template said, split by its grammar (see the top of `copy.pl.txt`).
struct Copy {
    subject: String,
    /// Paragraphs in order, with one `document` block where the document goes.
    blocks: Vec<Block>,
}

struct Block {
    /// `p`, `note`, `facts` or `document`.
    kind: &'static str,
    text: String,
    rows: Vec<(String, String)>,
}

/// Who reads a notice, in which language, at which address.
struct Reader {
    internal: bool,
    locale: Locale,
    lang: &'static str,
    to: String,
}

/// A writer for the copy template that ends the rendering (by failing the write) as soon
/// as the subject block is complete: a non-empty line followed by an empty one.
#[derive(Default)]
struct SubjectOnly {
    text: String,
    done: bool,
}

impl SubjectOnly {
    fn subject_complete(&self) -> bool {
        let mut started = false;
        for line in self.text.lines().map(str::trim) {
            if !line.is_empty() {
                started = true;
            } else if started {
                return true;
            }
        }
        false
    }
}

impl std::io::Write for SubjectOnly {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.done {
            return Err(std::io::Error::other("the subject is complete"));
        }
        self.text.push_str(&String::from_utf8_lossy(buf));
        // The last line may still be growing: only a line break after it counts.
        if buf.contains(&b'\n') && self.subject_complete() {
            self.done = true;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Copy {
    /// The subject alone: the first block of the copy, its lines joined.
    fn subject(s: &str) -> String {
        let lines: Vec<&str> = s
            .lines()
            .map(str::trim)
            .skip_while(|l| l.is_empty())
            .take_while(|l| !l.is_empty())
            .collect();
        one_line(&lines.join(" "))
    }

    fn parse(s: &str, has_document: bool) -> Copy {
        let mut subject = None;
        let mut blocks = Vec::new();
        let mut lines: Vec<&str> = Vec::new();
        let mut flush = |lines: &mut Vec<&str>| {
            if lines.is_empty() {
                return;
            }
            if subject.is_none() {
                subject = Some(one_line(&lines.join(" ")));
            } else if lines.len() == 1 && lines[0] == "---" {
                if has_document {
                    blocks.push(Block::new("document", String::new()));
                }
            } else {
                blocks.push(Block::parse(lines));
            }
            lines.clear();
        };
        for line in s.lines().map(str::trim) {
            if line.is_empty() {
                flush(&mut lines);
            } else {
                lines.push(line);
            }
        }
        flush(&mut lines);
        if has_document && !blocks.iter().any(|b| b.kind == "document") {
            blocks.push(Block::new("document", String::new()));
        }
        Copy {
            subject: subject.unwrap_or_default(),
            blocks,
        }
    }
}

impl Block {
    fn new(kind: &'static str, text: String) -> Block {
        Block {
            kind,
            text,
            rows: Vec::new(),
        }
    }

    fn parse(lines: &[&str]) -> Block {
        if lines.iter().all(|l| l.starts_with("- ")) {
            let rows = lines
                .iter()
                .map(|l| match l[2..].split_once(": ") {
                    Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
                    None => (String::new(), l[2..].trim().to_string()),
                })
                .collect();
            return Block {
                rows,
                ..Block::new("facts", String::new())
            };
        }
        let text = one_line(&lines.join(" "));
        match text.strip_prefix("! ") {
            Some(rest) => Block::new("note", rest.to_string()),
            None => Block::new("p", text),
        }
    }

    fn to_value(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|(label, value)| context! { label => label.as_str(), value => value.as_str() })
            .collect();
        context! { kind => self.kind, text => self.text.as_str(), rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use renewals_domain::{DocumentNumber, EmailAddress, Line, Nip, SubscriptionId, TenantId};

    /// The text with line wrapping undone.
    fn flat(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn money(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn settings() -> MailSettings {
        MailSettings {
            sender: "faktury@licencje365.pl".into(),
            operator: "operator@licencje365.pl".into(),
            bank_account: "PL61 1090 1014 0000 0712 1981 2874".into(),
            reseller_name: "Licencje365 sp. z o.o.".into(),
        }
    }

    /// The day a notice is normally sent: what it speaks of is worded against that day.
    fn sent_on(n: &Notice) -> NaiveDate {
        match n {
            Notice::Reminder { stage, .. } => *stage,
            Notice::Overdue { document, .. } => document.period.start,
            Notice::Suspension {
                data_kept_until, ..
            } => renewals_domain::calendar::add_days(*data_kept_until, -90),
            Notice::PaymentConfirmation { paid_on, .. }
            | Notice::OrderPaid { paid_on, .. }
            | Notice::Restored { paid_on, .. } => *paid_on,
            Notice::RenewalEnded { ended_on, .. } => *ended_on,
            Notice::OperatorAlert { received_on, .. } => *received_on,
            other => other
                .document()
                .map_or(d("2026-02-22"), |doc| doc.issue_date),
        }
    }

    fn sent(r: &Renderer, n: &Notice, t: &Tenant) -> RenderedEmail {
        r.render(n, t, sent_on(n))
    }

    fn renderer() -> Renderer {
        Renderer::new(settings(), Catalog::default_catalog())
    }

    fn tenant(locale: Locale, method: PaymentMethod) -> Tenant {
        Tenant {
            id: TenantId::parse("kowalski-i-syn").unwrap(),
            name: "Kowalski & Syn <Sp. z o.o.>".into(),
            nip: Nip::parse("5260001246").unwrap(),
            address: "ul. Polna 1, 00-001 Warszawa".into(),
            address2: None,
            country: "PL".into(),
            email: EmailAddress::parse("faktury@kowalski.pl").unwrap(),
            locale,
            payment_method: method,
        }
    }

    /// Two lines, 1 003,71 + 230,85 = 1 234,56 zł net.
    fn proforma() -> Document {
        let t = TenantId::parse("kowalski-i-syn").unwrap();
        let period = Period {
            start: d("2026-03-01"),
            end: d("2026-04-01"),
        };
        let line = |n: usize, sku: &str, name: &str, seats: u32, unit: &str, net: &str| Line {
            subscription: SubscriptionId::new(&t, n),
            product: sku.into(),
            product_name: name.into(),
            seats,
            unit_price: money(unit),
            period,
            net: money(net),
            purpose: LinePurpose::Renewal,
        };
        let mut doc = Document::new(
            DocumentNumber::parse("PF/2026/02/0007").unwrap(),
            t.clone(),
            d("2026-02-22"),
            d("2026-02-28"),
            period,
            vec![
                line(
                    1,
                    "business-premium",
                    "Microsoft 365 Business Premium",
                    9,
                    "111.52",
                    "1003.71",
                ),
                line(
                    2,
                    "business-standard",
                    "Microsoft 365 Business Standard",
                    3,
                    "76.95",
                    "230.85",
                ),
            ],
        );
        doc.payment.link = Some("https://sandbox.przelewy24.pl/trnRequest/ABC-123?x=1&y=2".into());
        doc
    }

    /// A customer in each locale with each way of paying.
    fn readers() -> Vec<Tenant> {
        let methods = [
            PaymentMethod::Blik,
            PaymentMethod::Transfer,
            PaymentMethod::Card,
        ];
        [Locale::Pl, Locale::En]
            .into_iter()
            .flat_map(|locale| methods.map(|method| tenant(locale, method)))
            .collect()
    }

    fn all_notices() -> Vec<Notice> {
        let doc = proforma();
        let mut order = doc.clone();
        order.number = DocumentNumber::parse("ZAM/2026/02/0003").unwrap();
        order.kind = DocumentKind::Order;
        for l in &mut order.lines {
            l.purpose = LinePurpose::SeatAddition;
        }
        let sub = SubscriptionId::parse("kowalski-i-syn-1").unwrap();
        vec![
            Notice::Proforma {
                document: doc.clone(),
            },
            Notice::Reminder {
                document: doc.clone(),
                stage: d("2026-02-25"),
            },
            Notice::Reminder {
                document: doc.clone(),
                stage: d("2026-02-28"),
            },
            Notice::Overdue {
                document: doc.clone(),
                suspension_on: d("2026-03-06"),
            },
            Notice::Suspension {
                document: doc.clone(),
                data_kept_until: d("2026-06-04"),
            },
            Notice::PaymentConfirmation {
                document: doc.clone(),
                paid_on: d("2026-03-02"),
                late: true,
            },
            Notice::Order {
                document: order.clone(),
            },
            Notice::OrderPaid {
                document: order.clone(),
                paid_on: d("2026-02-24"),
            },
            Notice::ReductionScheduled {
                subscription: sub.clone(),
                product: "business-premium".into(),
                seats_now: 9,
                seats_next: 5,
                effective: d("2026-04-01"),
                representative: "Anna Nowak".into(),
            },
            Notice::PlanChange {
                subscription: sub.clone(),
                from: "business-basic".into(),
                to: "business-premium".into(),
                effective: d("2026-04-01"),
                new_subscription: None,
            },
            Notice::PlanChange {
                subscription: sub.clone(),
                from: "business-basic".into(),
                to: "no-such-sku".into(),
                effective: d("2026-02-20"),
                new_subscription: Some(SubscriptionId::parse("kowalski-i-syn-3").unwrap()),
            },
            Notice::RenewalEnded {
                subscription: sub,
                product: "apps-for-business".into(),
                ended_on: d("2026-04-01"),
            },
            Notice::Restored {
                document: doc,
                period: Period {
                    start: d("2026-03-20"),
                    end: d("2026-04-20"),
                },
                paid_on: d("2026-03-20"),
            },
            Notice::OperatorAlert {
                reason: "paid 1.00 PLN for PF/2026/02/0007 whose gross is 1518.51 PLN".into(),
                source: "Przelewy24, zamówienie 31337 (sesja PF-2026-02-0007-1)".into(),
                payment: "p24:31337".into(),
                amount: money("1.00"),
                currency: "PLN".into(),
                document: Some(DocumentNumber::parse("PF/2026/02/0007").unwrap()),
                cause: AlertCause::AmountMismatch {
                    expected: money("1518.51"),
                },
                received_on: d("2026-02-24"),
            },
            Notice::Invoice {
                invoice: vat_invoice(),
                ksef_number: "5260250274-20260223-0100A0D6723E-C2".into(),
                qr_url: "https://qr-test.ksef.mf.gov.pl/invoice/5260250274/23-02-2026/abc".into(),
            },
            Notice::DeliveryAlert {
                problem: DeliveryProblem::Invoice {
                    invoice: "FV/2026/02/0001".into(),
                    issue: renewals_domain::InvoiceIssue::AwaitingBuyerData,
                    reason: "the tenant has no address".into(),
                },
                document: Some(DocumentNumber::parse("PF/2026/02/0007").unwrap()),
                on: d("2026-02-23"),
            },
            Notice::DeliveryAlert {
                problem: DeliveryProblem::Invoice {
                    invoice: "FV/2026/02/0001".into(),
                    issue: renewals_domain::InvoiceIssue::Rejected,
                    reason: "KSeF 450: Błąd weryfikacji semantyki".into(),
                },
                document: Some(DocumentNumber::parse("PF/2026/02/0007").unwrap()),
                on: d("2026-02-23"),
            },
        ]
    }

    /// The advance invoice for `proforma()`, paid on 23 Feb.
    fn vat_invoice() -> VatInvoice {
        let doc = proforma();
        VatInvoice::settling(
            &doc,
            renewals_domain::InvoiceNumber::parse("FV/2026/02/0001").unwrap(),
            d("2026-02-23"),
            doc.period,
            "p24:1",
        )
    }

    #[test]
    fn the_invoice_email_names_the_invoice_and_its_ksef_number_and_attaches_its_pdf() {
        let r = Renderer::from_settings(
            &renewals_app::config::Settings::from_lookup(
                renewals_app::config::Defaults::Local,
                |_| None,
            )
            .unwrap(),
        );
        let n = Notice::Invoice {
            invoice: vat_invoice(),
            ksef_number: "5260250274-20260223-0100A0D6723E-C2".into(),
            qr_url: "https://qr-test.ksef.mf.gov.pl/invoice/5260250274/23-02-2026/abc".into(),
        };
        let pl = sent(&r, &n, &tenant(Locale::Pl, PaymentMethod::Blik));
        assert_eq!(
            pl.subject,
            "Faktura VAT FV/2026/02/0001 do pro-formy PF/2026/02/0007 – numer KSeF 5260250274-20260223-0100A0D6723E-C2"
        );
        let text = flat(&pl.text);
        assert!(text.contains("przesyłamy fakturę VAT FV/2026/02/0001 za pro-formę PF/2026/02/0007, opłaconą 23 lutego 2026"), "{text}");
        assert!(text.contains("faktura zaliczkowa"), "{text}");
        assert!(text.contains("https://qr-test.ksef.mf.gov.pl/invoice/5260250274/23-02-2026/abc"));
        let en = sent(&r, &n, &tenant(Locale::En, PaymentMethod::Blik));
        assert_eq!(
            en.subject,
            "VAT invoice FV/2026/02/0001 for pro forma invoice PF/2026/02/0007 – KSeF number 5260250274-20260223-0100A0D6723E-C2"
        );
        let held = all_notices()
            .into_iter()
            .find(|n| {
                n.idempotency_key()
                    .starts_with("operator-alert:invoice:awaiting")
            })
            .unwrap();
        let alert = sent(&r, &held, &tenant(Locale::En, PaymentMethod::Blik));
        assert_eq!(
            alert.to, "operator@reseller.example",
            "to the operator, in Polish"
        );
        assert!(
            alert
                .subject
                .starts_with("Faktura FV/2026/02/0001 czeka na adres klienta"),
            "{}",
            alert.subject
        );
        assert!(
            flat(&alert.text).contains("renewals tenant update --id kowalski-i-syn --address"),
            "{}",
            alert.text
        );
        assert!(alert.attachment.is_none());
        for e in [&pl, &en] {
            let file = e.attachment.as_ref().expect("the invoice's PDF");
            assert_eq!(file.name, "FV-2026-02-0001.pdf");
            assert!(file.bytes.starts_with(b"%PDF-"));
        }
    }

    #[test]
    fn amounts_are_formatted_per_locale() {
        let cases = [
            ("0", "0,00 zł", "PLN 0.00"),
            ("5", "5,00 zł", "PLN 5.00"),
            ("999.99", "999,99 zł", "PLN 999.99"),
            ("1234.56", "1 234,56 zł", "PLN 1,234.56"),
            ("1234567.89", "1 234 567,89 zł", "PLN 1,234,567.89"),
        ];
        for (amount, pl, en) in cases {
            assert_eq!(format_amount(money(amount), Locale::Pl), pl);
            assert_eq!(format_amount(money(amount), Locale::En), en);
        }
    }

    #[test]
    fn dates_use_polish_genitive_months() {
        let expected = [
            "stycznia",
            "lutego",
            "marca",
            "kwietnia",
            "maja",
            "czerwca",
            "lipca",
            "sierpnia",
            "września",
            "października",
            "listopada",
            "grudnia",
        ];
        for (i, month) in expected.iter().enumerate() {
            let date = NaiveDate::from_ymd_opt(2026, i as u32 + 1, 5).unwrap();
            assert_eq!(format_date(date, Locale::Pl), format!("5 {month} 2026"));
        }
        assert_eq!(format_date(d("2026-02-27"), Locale::Pl), "27 lutego 2026");
        assert_eq!(format_date(d("2026-05-01"), Locale::Pl), "1 maja 2026");
        assert_eq!(format_date(d("2026-12-31"), Locale::Pl), "31 grudnia 2026");
        assert_eq!(format_date(d("2026-02-27"), Locale::En), "27 February 2026");
    }

    #[test]
    fn renderer_is_shareable() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<Renderer>();
        shareable::<RenderedEmail>();
    }

    #[test]
    fn labels_match_across_locales() {
        let labels: BTreeMap<String, BTreeMap<String, String>> =
            serde_json::from_str(LABELS).unwrap();
        let keys = |l: &str| labels[l].keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys("pl"), keys("en"));
    }

    #[test]
    fn polish_proforma() {
        let r = renderer();
        let t = tenant(Locale::Pl, PaymentMethod::Blik);
        let e = sent(
            &r,
            &Notice::Proforma {
                document: proforma(),
            },
            &t,
        );
        assert_eq!(e.kind, "proforma");
        assert_eq!(e.to, "faktury@kowalski.pl");
        assert!(e.subject.contains("PF/2026/02/0007"), "{}", e.subject);
        assert!(e.subject.contains("28 lutego 2026"), "{}", e.subject);
        assert!(!e.subject.contains('\n'));
        // 1 234,56 net, 283,95 VAT, 1 518,51 gross.
        for s in [&flat(&e.text), &e.html] {
            assert!(s.contains("1 234,56 zł"), "{s}");
            assert!(s.contains("283,95 zł"), "{s}");
            assert!(s.contains("1 518,51 zł"), "{s}");
            assert!(s.contains("1 003,71 zł"), "{s}");
            assert!(s.contains("PL61 1090 1014 0000 0712 1981 2874"), "{s}");
            assert!(s.contains("Pro-forma nie jest fakturą VAT"), "{s}");
            assert!(s.contains("Szanowni Państwo,"), "{s}");
            assert!(s.contains("kodem BLIK"), "{s}");
            assert!(s.contains("Microsoft 365 Business Premium"), "{s}");
            assert!(s.contains("1 marca 2026 – 31 marca 2026"), "{s}");
            assert!(s.contains("Licencje365 sp. z o.o."), "{s}");
        }
        assert!(
            e.text.contains("Tytuł przelewu: PF/2026/02/0007"),
            "{}",
            e.text
        );
        assert!(e
            .text
            .contains("https://sandbox.przelewy24.pl/trnRequest/ABC-123?x=1&y=2"));
        assert!(e.text.contains("Kowalski & Syn <Sp. z o.o.>"), "{}", e.text);
        // HTML: tenant-provided text is escaped, the link's `&` too.
        assert!(
            e.html.contains("Kowalski &amp; Syn &lt;Sp. z o.o.&gt;"),
            "{}",
            e.html
        );
        assert!(!e.html.contains("<Sp. z o.o.>"));
        assert!(e
            .html
            .contains(r#"href="https://sandbox.przelewy24.pl/trnRequest/ABC-123?x=1&amp;y=2""#));
        assert!(e.html.contains(r#"<html lang="pl""#));
        assert!(e.html.contains("max-width:600px"));
    }

    #[test]
    fn english_proforma() {
        let r = renderer();
        let t = tenant(Locale::En, PaymentMethod::Card);
        let e = sent(
            &r,
            &Notice::Proforma {
                document: proforma(),
            },
            &t,
        );
        assert!(e.subject.contains("PF/2026/02/0007"), "{}", e.subject);
        assert!(e.subject.contains("28 February 2026"), "{}", e.subject);
        for s in [&flat(&e.text), &e.html] {
            assert!(s.contains("PLN 1,234.56"), "{s}");
            assert!(s.contains("PLN 1,518.51"), "{s}");
            assert!(s.contains("PL61 1090 1014 0000 0712 1981 2874"), "{s}");
            assert!(s.contains("not a VAT invoice"), "{s}");
            assert!(s.contains("charged automatically"), "{s}");
            assert!(s.contains("Dear Customer,"), "{s}");
        }
        assert!(!e.text.contains(" zł"));
        assert!(e.html.contains("Kowalski &amp; Syn &lt;Sp. z o.o.&gt;"));
        assert!(e.html.contains(r#"<html lang="en""#));
    }

    #[test]
    fn every_kind_renders_in_both_locales_and_methods() {
        let r = renderer();
        for t in readers() {
            for n in all_notices() {
                let e = sent(&r, &n, &t);
                assert_eq!(e.kind, n.kind());
                assert!(!e.subject.is_empty() && !e.subject.contains('\n'), "{e:?}");
                assert!(!e.text.contains("\n\n\n"), "{}", e.text);
                assert!(!e.text.contains("{{") && !e.html.contains("{{"));
                assert!(!e.text.contains("undefined") && !e.html.contains(">none<"));
                for tag in ["table", "tr", "td", "th", "p", "a", "span"] {
                    let open = e.html.matches(&format!("<{tag}>")).count()
                        + e.html.matches(&format!("<{tag} ")).count();
                    let close = e.html.matches(&format!("</{tag}>")).count();
                    assert_eq!(open, close, "<{tag}> in {}", n.kind());
                }
                if let Some(doc) = n.document() {
                    let number = doc.number.to_string();
                    assert!(e.text.contains(&number) && e.html.contains(&number));
                }
                let internal = n.kind() == "operator-alert";
                assert_eq!(
                    e.to,
                    if internal {
                        "operator@licencje365.pl"
                    } else {
                        "faktury@kowalski.pl"
                    }
                );
            }
        }
    }

    /// The subject stored at commit (rendered only as far as the subject) is the one the
    /// composed e-mail carries, for every kind, locale, payment method and day it is sent.
    #[test]
    fn the_envelope_has_the_subject_and_recipient_of_the_composed_email() {
        let r = renderer();
        for t in readers() {
            for n in all_notices() {
                let day = sent_on(&n);
                for on in [day, renewals_domain::calendar::add_days(day, 3)] {
                    let at = renewals_domain::warsaw_noon(on);
                    let envelope = r.envelope(&n, &t, at);
                    let composed = r.compose(&n, &t, "id-1", at);
                    assert_eq!(envelope.subject, composed.subject, "{} on {on}", n.kind());
                    assert_eq!(envelope.to, composed.to);
                    assert_eq!(envelope.kind, composed.kind);
                }
            }
        }
    }

    #[test]
    fn notice_specifics() {
        let r = renderer();
        let pl = tenant(Locale::Pl, PaymentMethod::Transfer);
        let en = tenant(Locale::En, PaymentMethod::Blik);
        let n = all_notices();
        let text = |i: usize, t: &Tenant| {
            let mut e = sent(&r, &n[i], t);
            e.text = flat(&e.text);
            e
        };

        let e = text(2, &pl); // reminder on the due date
        assert!(
            e.subject
                .starts_with("Dziś mija termin płatności pro-formy"),
            "{}",
            e.subject
        );
        let e = text(3, &pl); // overdue
        assert!(
            e.text.contains("6 marca 2026") && e.text.contains("nadal działają"),
            "{}",
            e.text
        );
        let e = text(4, &pl); // suspension
        assert!(
            e.text.contains("4 czerwca 2026") && e.text.contains("w dniu wpłaty"),
            "{}",
            e.text
        );
        assert!(
            e.text.contains("zablokowane") && e.text.contains("Numer rachunku:"),
            "{}",
            e.text
        );
        let e = text(5, &pl); // payment confirmation
        assert!(
            !e.text.contains("Numer rachunku") && e.text.contains("okresie karencji"),
            "{}",
            e.text
        );
        assert!(
            e.text.contains("Data płatności: 2 marca 2026"),
            "{}",
            e.text
        );
        let e = text(6, &en); // order
        assert!(
            e.subject.starts_with("Order ZAM/2026/02/0003"),
            "{}",
            e.subject
        );
        assert!(e.text.contains("An order is not a VAT invoice") && e.text.contains("BLIK"));
        let e = text(8, &pl); // reduction: catalog name
        assert!(
            e.subject.contains("Microsoft 365 Business Premium") && e.text.contains("Anna Nowak"),
            "{}",
            e.subject
        );
        assert!(e.text.contains("z 9 do 5"), "{}", e.text);
        let e = text(10, &pl); // plan change now: unknown sku falls back to the sku
        assert!(e.text.contains("no-such-sku") && e.text.contains("Microsoft 365 Business Basic"));
        let e = text(11, &en); // renewal ended
        assert!(
            e.subject.contains("Microsoft 365 Apps for business"),
            "{}",
            e.subject
        );
        let e = text(12, &pl); // restored
        assert!(
            e.text.contains("20 marca 2026 do 19 kwietnia 2026"),
            "{}",
            e.text
        );
        let e = text(13, &en); // operator alert: Polish, to the operator
        assert_eq!(e.to, "operator@licencje365.pl");
        assert!(
            e.text.starts_with("Dzień dobry,") && e.text.contains("31337"),
            "{}",
            e.text
        );
    }

    /// Every sentence of a rendered e-mail that puts `date` in the future tense.
    fn future_about(e: &RenderedEmail, date: &str) -> Vec<String> {
        let all = format!("{}. {}", e.subject, flat(&e.text));
        all.split(['.', '\n'])
            .filter(|s| s.contains(date))
            .filter(|s| {
                [
                    "zostaną",
                    "rozpocznie",
                    "will be",
                    "starts on",
                    "mija termin",
                    "is due",
                ]
                .iter()
                .any(|w| s.contains(w))
            })
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_notice_sent_late_never_puts_a_past_date_in_the_future_tense() {
        let r = renderer();
        let doc = proforma(); // due 28 February, period from 1 March
        let overdue = Notice::Overdue {
            document: doc.clone(),
            suspension_on: d("2026-03-06"),
        };
        for (locale, suspension, due) in [
            (Locale::Pl, "6 marca 2026", "28 lutego 2026"),
            (Locale::En, "6 March 2026", "28 February 2026"),
        ] {
            let t = tenant(locale, PaymentMethod::Transfer);
            // On time (1 March) the overdue notice announces the suspension date...
            let on_time = r.render(&overdue, &t, d("2026-03-01"));
            assert!(
                !future_about(&on_time, suspension).is_empty(),
                "{}",
                on_time.text
            );
            // ...sent on 10 March it must not.
            let late = r.render(&overdue, &t, d("2026-03-10"));
            assert_eq!(future_about(&late, suspension), Vec::<String>::new());
            assert!(flat(&late.text).contains(suspension), "{}", late.text);
            // A reminder sent after the due date says the date has passed.
            let reminder = Notice::Reminder {
                document: doc.clone(),
                stage: d("2026-02-28"),
            };
            let late = r.render(&reminder, &t, d("2026-03-02"));
            assert_eq!(future_about(&late, due), Vec::<String>::new());
            assert!(late.subject.contains(due), "{}", late.subject);
        }
        let pl = tenant(Locale::Pl, PaymentMethod::Transfer);
        let late = r.render(
            &Notice::Reminder {
                document: doc.clone(),
                stage: d("2026-02-28"),
            },
            &pl,
            d("2026-03-02"),
        );
        assert!(
            late.subject
                .starts_with("Termin płatności pro-formy PF/2026/02/0007 minął 28 lutego 2026"),
            "{}",
            late.subject
        );
        // A pro-forma whose period has begun does not say the period "will start".
        let late = r.render(&Notice::Proforma { document: doc }, &pl, d("2026-03-02"));
        assert_eq!(future_about(&late, "1 marca 2026"), Vec::<String>::new());
        assert!(flat(&late.text).contains("z opóźnieniem"), "{}", late.text);
    }

    #[test]
    fn a_late_proforma_sent_as_its_overdue_notice_introduces_the_document() {
        // Issued on 2 March for the period that began on 1 March, marked overdue the same day.
        let r = renderer();
        let mut doc = proforma();
        doc.issue_date = d("2026-03-02");
        doc.due_date = d("2026-03-02");
        let n = Notice::Overdue {
            document: doc,
            suspension_on: d("2026-03-06"),
        };
        let e = r.render(
            &n,
            &tenant(Locale::Pl, PaymentMethod::Blik),
            d("2026-03-02"),
        );
        let text = flat(&e.text);
        assert!(
            e.subject.starts_with(
                "Pro-forma PF/2026/02/0007 – odnowienie Microsoft 365 od 1 marca 2026"
            ),
            "{}",
            e.subject
        );
        assert!(
            text.contains("z opóźnieniem") && text.contains("6 marca 2026"),
            "{text}"
        );
        assert!(!text.contains("minął"), "the due date is today: {text}");
        assert!(
            text.contains("kodem BLIK") && text.contains("Numer rachunku:"),
            "{text}"
        );
    }

    #[test]
    fn operator_alerts_name_the_customer_the_document_and_what_to_do_in_polish() {
        let r = renderer();
        let t = tenant(Locale::En, PaymentMethod::Blik);
        let mismatch = all_notices()
            .into_iter()
            .find(|n| matches!(n, Notice::OperatorAlert { .. }))
            .unwrap();
        let e = sent(&r, &mismatch, &t);
        let text = flat(&e.text);
        assert_eq!(e.to, "operator@licencje365.pl");
        for s in [&e.subject, &text] {
            assert!(
                s.contains("Kowalski & Syn <Sp. z o.o.> (kowalski-i-syn)"),
                "{s}"
            );
            assert!(s.contains("PF/2026/02/0007"), "{s}");
        }
        assert!(text.contains("Kwota wpłaty: 1,00 zł"), "{text}");
        assert!(
            text.contains("Kwota brutto dokumentu: 1 518,51 zł"),
            "{text}"
        );
        assert!(text.contains("Data: 24 lutego 2026"), "{text}");
        assert!(text.contains("Co zrobić:"), "{text}");
        assert!(
            !text.contains("Operator") && !text.contains("PLN"),
            "{text}"
        );

        let Notice::OperatorAlert { source, .. } = &mismatch else {
            unreachable!()
        };
        let unknown = Notice::OperatorAlert {
            reason: "no document has this session id".into(),
            source: source.clone(),
            payment: "p24:31337".into(),
            amount: money("1234.56"),
            currency: "PLN".into(),
            document: None,
            cause: AlertCause::UnknownDocument,
            received_on: d("2026-02-27"),
        };
        let e = sent(&r, &unknown, &t);
        let text = flat(&e.text);
        assert!(
            text.contains("Klient: brak – płatność nie wskazuje żadnego dokumentu"),
            "{text}"
        );
        assert!(
            text.contains("1 234,56 zł") && text.contains("27 lutego 2026"),
            "{text}"
        );
        assert!(text.contains("Co zrobić: odszukaj płatność"), "{text}");
        assert!(
            !text.contains("kowalski-i-syn"),
            "no customer is named: {text}"
        );
    }

    #[test]
    fn mime_is_multipart_alternative_utf8() {
        let r = renderer();
        let t = tenant(Locale::Pl, PaymentMethod::Blik);
        let e = sent(
            &r,
            &Notice::Proforma {
                document: proforma(),
            },
            &t,
        );
        let at = DateTime::parse_from_rfc3339("2026-02-22T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let bytes = r.mime(&e, "kowalski-i-syn.proforma.PF.2026.02.0007", at);
        assert_eq!(
            bytes,
            r.mime(&e, "kowalski-i-syn.proforma.PF.2026.02.0007", at),
            "deterministic"
        );
        let s = String::from_utf8(bytes).unwrap();
        let headers = &s[..s.find("\r\n\r\n").unwrap()];
        // A pro-forma carries its PDF: the alternative part sits inside multipart/mixed.
        assert!(headers.contains("multipart/mixed"), "{headers}");
        assert!(s.contains("multipart/alternative"), "{s}");
        assert!(s.contains("text/plain") && s.contains("text/html"), "{s}");
        assert!(
            s.to_ascii_lowercase().contains("charset=\"utf-8\"")
                || s.to_ascii_lowercase().contains("charset=utf-8")
        );
        assert!(
            headers.contains("Message-ID: <kowalski-i-syn.proforma.PF.2026.02.0007@renewals>"),
            "{headers}"
        );
        assert!(
            headers.contains("Date: Sun, 22 Feb 2026 06:00:00 +0000"),
            "{headers}"
        );
        assert!(
            headers.contains("<faktury@licencje365.pl>")
                && headers.contains("To: <faktury@kowalski.pl>"),
            "{headers}"
        );
        // The Polish subject ("płatności") is RFC 2047-encoded, headers stay ASCII.
        let subject = headers
            .lines()
            .skip_while(|l| !l.starts_with("Subject:"))
            .take_while(|l| l.starts_with("Subject:") || l.starts_with(' '))
            .collect::<String>();
        assert!(
            subject.to_ascii_lowercase().contains("=?utf-8?"),
            "{subject}"
        );
        assert!(headers.is_ascii(), "{headers}");
        assert!(s.is_ascii(), "bodies are transfer-encoded");
    }

    #[test]
    fn payment_emails_attach_the_document_pdf_and_keep_their_text_and_html_parts() {
        use mail_parser::{MessageParser, MimeHeaders};
        let r = renderer();
        let t = tenant(Locale::Pl, PaymentMethod::Blik);
        let doc = proforma();
        let at = DateTime::parse_from_rfc3339("2026-02-22T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut order = doc.clone();
        order.number = renewals_domain::DocumentNumber::parse("ZAM/2026/02/0003").unwrap();
        order.kind = DocumentKind::Order;
        let notices = [
            Notice::Proforma {
                document: doc.clone(),
            },
            Notice::Reminder {
                document: doc.clone(),
                stage: d("2026-02-25"),
            },
            Notice::Overdue {
                document: doc.clone(),
                suspension_on: d("2026-03-06"),
            },
            Notice::Order {
                document: order.clone(),
            },
        ];
        for n in &notices {
            let e = sent(&r, n, &t);
            let document = n.document().unwrap();
            let file = e
                .attachment
                .as_ref()
                .expect("a payment e-mail carries its PDF");
            assert_eq!(
                file.name,
                format!("{}.pdf", document.number.to_string().replace('/', "-"))
            );
            assert_eq!(file.bytes, r.pdf(document, &t), "{}", e.kind);
            let bytes = r.mime(&e, "m.1", at);
            assert_eq!(bytes, r.mime(&sent(&r, n, &t), "m.1", at), "byte-identical");
            let message = MessageParser::default().parse(&bytes).unwrap();
            let ct = message.content_type().unwrap();
            assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("mixed")));
            let lf = |s: &str| s.replace("\r\n", "\n").trim_end().to_string();
            assert_eq!(lf(&message.body_text(0).unwrap()), lf(&e.text));
            assert_eq!(lf(&message.body_html(0).unwrap()), lf(&e.html));
            assert_eq!(message.attachment_count(), 1, "{}", e.kind);
            let pdf = message.attachment(0).unwrap();
            let ct = pdf.content_type().unwrap();
            assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("pdf")));
            assert_eq!(pdf.attachment_name(), Some(file.name.as_str()));
            assert!(pdf.contents().starts_with(b"%PDF-"));
            assert_eq!(pdf.contents(), file.bytes.as_slice());

            // The alternative part is the message without the PDF, byte for byte.
            let plain = RenderedEmail {
                attachment: None,
                ..e.clone()
            };
            let without = String::from_utf8(r.mime(&plain, "m.1", at)).unwrap();
            let alternative =
                &without[without.find("Content-Type: multipart/alternative").unwrap()..];
            let with = String::from_utf8(bytes).unwrap();
            assert!(with.contains(alternative), "{with}");
        }
        assert_eq!(renewals_pdf::file_name(&doc), "PF-2026-02-0007.pdf");
    }

    #[test]
    fn other_emails_stay_multipart_alternative_without_attachment() {
        let r = renderer();
        let t = tenant(Locale::Pl, PaymentMethod::Blik);
        for n in all_notices() {
            let e = sent(&r, &n, &t);
            let pays = matches!(
                n,
                Notice::Proforma { .. }
                    | Notice::Reminder { .. }
                    | Notice::Overdue { .. }
                    | Notice::Order { .. }
                    | Notice::Invoice { .. }
            );
            assert_eq!(e.attachment.is_some(), pays, "{}", e.kind);
            if !pays {
                let s = String::from_utf8(r.mime(&e, "m.2", Utc::now())).unwrap();
                let headers = &s[..s.find("\r\n\r\n").unwrap()];
                assert!(headers.contains("multipart/alternative"), "{headers}");
                assert!(!s.contains("application/pdf"), "{}", e.kind);
            }
        }
    }

    /// Writes every kind in both locales (.txt, .html, .eml) for a look in a browser or client.
    #[test]
    #[ignore = "writes samples to $TMPDIR/renewals-email-samples"]
    fn dump_samples() {
        let r = renderer();
        let dir = std::env::temp_dir().join("renewals-email-samples");
        std::fs::create_dir_all(&dir).unwrap();
        let at = Utc::now();
        for (lang, locale) in [("pl", Locale::Pl), ("en", Locale::En)] {
            let t = tenant(locale, PaymentMethod::Blik);
            for (i, n) in all_notices().iter().enumerate() {
                let e = sent(&r, n, &t);
                let stem = dir.join(format!("{lang}-{i:02}-{}", e.kind));
                std::fs::write(
                    stem.with_extension("txt"),
                    format!("Subject: {}\n\n{}", e.subject, e.text),
                )
                .unwrap();
                std::fs::write(stem.with_extension("html"), &e.html).unwrap();
                std::fs::write(
                    stem.with_extension("eml"),
                    r.mime(&e, &format!("sample.{i}"), at),
                )
                .unwrap();
            }
        }
        // Sent late, and the operator alerts of each cause, as the outbox would hold them.
        let mut late = proforma();
        late.issue_date = d("2026-03-02");
        late.due_date = d("2026-03-02");
        let alert = all_notices().pop().unwrap();
        let Notice::OperatorAlert { source, .. } = &alert else {
            unreachable!()
        };
        let cause_alert = |cause: AlertCause, reason: &str, document: bool| Notice::OperatorAlert {
            reason: reason.into(),
            source: source.clone(),
            payment: "p24:31337".into(),
            amount: money("1518.51"),
            currency: "PLN".into(),
            document: document.then(|| late.number.clone()),
            cause,
            received_on: d("2026-03-02"),
        };
        let extra = [
            (
                "late-overdue-issued-today",
                Notice::Overdue {
                    document: late.clone(),
                    suspension_on: d("2026-03-06"),
                },
            ),
            (
                "late-suspension-issued-today",
                Notice::Suspension {
                    document: late.clone(),
                    data_kept_until: d("2026-05-31"),
                },
            ),
            (
                "late-reminder-after-due",
                Notice::Reminder {
                    document: proforma(),
                    stage: d("2026-02-28"),
                },
            ),
            ("alert-amount", alert.clone()),
            (
                "alert-overpayment",
                match cause_alert(
                    AlertCause::Overpayment {
                        expected: money("1418.51"),
                        surplus: money("100.00"),
                    },
                    "overpaid: 1518.51 PLN for PF/2026/03/0001 whose gross is 1418.51 PLN; 100.00 PLN to refund or credit",
                    true,
                ) {
                    Notice::OperatorAlert {
                        reason,
                        amount,
                        currency,
                        document,
                        cause,
                        received_on,
                        ..
                    } => Notice::OperatorAlert {
                        reason,
                        source: "przelew bankowy, ref. S7A2603060031120".into(),
                        payment: "bank:S7A2603060031120".into(),
                        amount,
                        currency,
                        document,
                        cause,
                        received_on,
                    },
                    other => other,
                },
            ),
            (
                "alert-unknown-document",
                cause_alert(
                    AlertCause::UnknownDocument,
                    "no document has this session id",
                    false,
                ),
            ),
            (
                "alert-credentials",
                cause_alert(
                    AlertCause::ProviderCredentials,
                    "the provider refused our credentials (check the API key and POS): 401 Unauthorized",
                    true,
                ),
            ),
            (
                "alert-verify-refused",
                cause_alert(
                    AlertCause::VerifyRefused,
                    "Przelewy24 refused verification: the provider refused: unexpected verify answer",
                    true,
                ),
            ),
            (
                "alert-email-parked",
                Notice::DeliveryAlert {
                    problem: DeliveryProblem::EmailParked {
                        kind: "proforma".into(),
                        subject: "Pro-forma PF/2026/03/0001 – odnowienie Microsoft 365".into(),
                        to: "faktury@kowalski.pl".into(),
                        key: "proforma:PF/2026/03/0001".into(),
                        attempts: 5,
                        error: "mail rejected: 550 5.1.1 mailbox unavailable".into(),
                    },
                    document: Some(late.number.clone()),
                    on: d("2026-03-02"),
                },
            ),
            (
                "alert-suspension-held",
                Notice::DeliveryAlert {
                    problem: DeliveryProblem::SuspensionHeld {
                        due: d("2026-03-02"),
                    },
                    document: Some(late.number.clone()),
                    on: d("2026-03-02"),
                },
            ),
        ];
        for (lang, locale) in [("pl", Locale::Pl), ("en", Locale::En)] {
            let t = tenant(locale, PaymentMethod::Blik);
            for (name, n) in &extra {
                let e = r.render(n, &t, d("2026-03-02"));
                let stem = dir.join(format!("{lang}-{name}"));
                std::fs::write(
                    stem.with_extension("txt"),
                    format!("Subject: {}\n\n{}", e.subject, e.text),
                )
                .unwrap();
                std::fs::write(stem.with_extension("html"), &e.html).unwrap();
            }
        }
        println!("samples in {}", dir.display());
    }

    /// Best of 5 batches of 2,000 (10,000 calls), in µs per call: robust to a busy machine.
    fn micros(mut f: impl FnMut(usize)) -> f64 {
        (0..5)
            .map(|batch| {
                let start = std::time::Instant::now();
                for i in 0..2_000 {
                    f(batch * 2_000 + i);
                }
                start.elapsed().as_secs_f64() * 1e6 / 2_000.0
            })
            .fold(f64::MAX, f64::min)
    }

    #[test]
    #[ignore = "timing; run with --release -- --ignored --nocapture"]
    fn render_speed() {
        use std::hint::black_box;
        let r = renderer();
        let t = tenant(Locale::Pl, PaymentMethod::Blik);
        let notices = all_notices();
        let proforma = Notice::Proforma {
            document: proforma(),
        };
        let us = micros(|_| drop(black_box(sent(&r, &proforma, &t))));
        println!("render proforma: {us:.1} µs/message");
        let us = micros(|i| drop(black_box(sent(&r, &notices[i % notices.len()], &t))));
        println!("render, all kinds in turn: {us:.1} µs/message");
        let us = micros(|_| drop(black_box(r.prepare(&proforma, &t, d("2026-02-22")))));
        println!("  copy template + contexts: {us:.1} µs");
        let (_, _, ctx) = r.prepare(&proforma, &t, d("2026-02-22"));
        for name in ["layout.html", "layout.txt"] {
            let tpl = r.env.get_template(name).unwrap();
            let us = micros(|_| drop(black_box(tpl.render(ctx.clone()).unwrap())));
            println!("  {name}: {us:.1} µs");
        }
        let e = sent(&r, &proforma, &t);
        let at = Utc::now();
        let us = micros(|i| drop(black_box(r.mime(&e, &i.to_string(), at))));
        println!(
            "mime (proforma, {} bytes): {us:.1} µs/message",
            r.mime(&e, "x", at).len()
        );
    }
}
