//! Bank statements: the incoming transfers of an ISO 20022 camt.053 (bank-to-customer
//! statement) file or of an MT940 file in the Polish banks' dialects (`mt940`), and the
//! document numbers customers type into transfer titles. `parse_statement` recognises which.
//!
//! Polish banks (PKO BP, mBank, ING, Pekao, Santander) export camt.053.001.02 and, lately,
//! camt.053.001.08; the parser accepts .001.02 up to .001.10 by matching local element names
//! and ignoring the namespace. Only booked credits are returned: debits, pending or
//! informational entries and reversals are skipped. Nothing is deduplicated here: the same
//! entry twice gives two `Credit`s with the same `reference`, which the importer uses as its
//! idempotency key. An entry without any bank reference is keyed by a stable hash of the
//! account, booking date, amount, currency, counterparty and title (`stable_reference`); an
//! entry that cannot be read becomes a `Credit` marked `unreadable` (with why), never an error
//! for the whole file.

pub mod import;
mod mt940;

pub use import::{content_key, import_file, FileError, FileImport};
pub use mt940::{decode, parse_mt940, Encoding};

use chrono::NaiveDate;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use renewals_app::transfers::Credit;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Reads a statement in whichever format it is: camt.053 XML or MT940 (in `encoding`, else
/// detected). Anything else is refused with one line.
pub fn parse_statement(
    bytes: &[u8],
    encoding: Option<Encoding>,
) -> Result<Vec<Credit>, StatementError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'<') {
        return parse_camt053(bytes);
    }
    if mt940::looks_like_mt940(body) {
        return parse_mt940(bytes, encoding);
    }
    let start: String = String::from_utf8_lossy(&body[..body.len().min(24)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Err(StatementError::NotAStatement {
        start: start.trim().to_string(),
    })
}

/// The key of an entry the bank gave no reference: the same entry gives the same key in every
/// import. `h:` and 20 hex digits of SHA-256 over the fields, each on its own line.
pub fn stable_reference(fields: &[&str]) -> String {
    let mut hash = Sha256::new();
    for field in fields {
        hash.update(field.trim().as_bytes());
        hash.update(b"\n");
    }
    let digest = hash.finalize();
    format!("h:{}", hex::encode(&digest[..10]))
}

/// Two identical entries without references in one file (a customer who paid twice the same
/// day) are two payments: the second copy's key gets `#2`, the third `#3`, in file order, so
/// the keys are still the same in every import.
fn number_repeats(credits: &mut [Credit]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for credit in credits.iter_mut() {
        if !credit.reference.starts_with("h:") {
            continue;
        }
        let count = seen.entry(credit.reference.clone()).or_insert(0);
        *count += 1;
        if *count > 1 {
            credit.reference = format!("{}#{}", credit.reference, count);
        }
    }
}

/// Why a statement file was refused. Entries are numbered from 1 in file order, counting
/// every `Ntry` (debits and pending ones too), so the number points at the right place.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error(
        "not a bank statement: neither camt.053 XML nor MT940 (the file starts with `{start}`)"
    )]
    NotAStatement { start: String },
    #[error("not an MT940 statement: {0}")]
    NotMt940(String),
    #[error("the statement is not well-formed XML: {0}")]
    Xml(String),
    #[error(
        "not a camt.053 statement: found {found}, expected <Document> holding <BkToCstmrStmt>"
    )]
    NotCamt053 { found: String },
    #[error("entry {entry}: amount `{value}` {problem}")]
    Amount {
        entry: usize,
        value: String,
        problem: &'static str,
    },
    #[error("entry {entry}: {field} `{value}` is not a date (expected YYYY-MM-DD)")]
    Date {
        entry: usize,
        field: &'static str,
        value: String,
    },
    #[error("entry {entry}: {field} `{value}` is not one of {expected}")]
    Invalid {
        entry: usize,
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("entry {entry}: missing {what}")]
    Missing { entry: usize, what: &'static str },
}

/// Reads the booked credits of a camt.053 statement (UTF-8, any version .001.02–.001.10).
pub fn parse_camt053(xml: &[u8]) -> Result<Vec<Credit>, StatementError> {
    let root = parse_tree(xml)?;
    let statement = match (root.name.as_str(), root.child("BkToCstmrStmt")) {
        ("Document", Some(statement)) => statement,
        ("Document", None) => {
            let found = match root.elements().next() {
                Some(first) => format!("<Document><{}>", first.name),
                None => "an empty <Document>".to_string(),
            };
            return Err(StatementError::NotCamt053 { found });
        }
        (other, _) => {
            return Err(StatementError::NotCamt053 {
                found: format!("<{other}>"),
            })
        }
    };
    let mut credits = Vec::new();
    let mut number = 0;
    for stmt in statement.children("Stmt") {
        let account = stmt
            .text_at(&["Acct", "Id", "IBAN"])
            .or_else(|| stmt.text_at(&["Acct", "Id", "Othr", "Id"]))
            .unwrap_or("");
        for entry in stmt.children("Ntry") {
            number += 1;
            let before = credits.len();
            if let Err(e) = read_entry(number, account, entry, &mut credits) {
                credits.truncate(before);
                credits.push(unreadable(account, entry, e));
            }
        }
    }
    number_repeats(&mut credits);
    Ok(credits)
}

/// An entry that could not be read: listed for review with why, keyed by its content.
fn unreadable(account: &str, entry: &Node, error: StatementError) -> Credit {
    let mut content = String::new();
    entry.all_text(&mut content);
    let amount = entry.child("Amt");
    let value = amount.map(|a| a.text.trim()).unwrap_or("");
    let currency = amount.and_then(|a| a.attr("Ccy")).unwrap_or("");
    let amount_grosze = amount
        .and_then(|a| parse_amount(0, a).ok())
        .map_or(0, |(g, _)| g);
    Credit {
        amount_grosze,
        currency: currency.trim().to_ascii_uppercase(),
        booking_date: entry
            .text_at(&["BookgDt", "Dt"])
            .and_then(|d| d.get(..10))
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .unwrap_or_default(),
        remittance: entry
            .path(&["NtryDtls", "TxDtls"])
            .map(|tx| remittance(&[tx], entry.text_at(&["AddtlNtryInf"])))
            .unwrap_or_default(),
        reference: stable_reference(&["camt053-unreadable", account, value, &content]),
        debtor: None,
        debtor_iban: None,
        unreadable: Some(error.to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// Entries

fn read_entry(
    n: usize,
    account: &str,
    entry: &Node,
    out: &mut Vec<Credit>,
) -> Result<(), StatementError> {
    match entry.text_at(&["CdtDbtInd"]) {
        Some("CRDT") => {}
        Some("DBIT") => return Ok(()),
        Some(other) => {
            return Err(StatementError::Invalid {
                entry: n,
                field: "CdtDbtInd",
                value: other.to_string(),
                expected: "CRDT, DBIT",
            })
        }
        None => {
            return Err(StatementError::Missing {
                entry: n,
                what: "CdtDbtInd",
            })
        }
    }
    // camt.053.001.02–.07: <Sts>BOOK</Sts>; .08 on: <Sts><Cd>BOOK</Cd></Sts>.
    let status = entry
        .text_at(&["Sts", "Cd"])
        .or_else(|| entry.text_at(&["Sts", "Prtry"]))
        .or_else(|| entry.text_at(&["Sts"]))
        .ok_or(StatementError::Missing {
            entry: n,
            what: "Sts (entry status)",
        })?;
    if status != "BOOK" {
        return Ok(());
    }
    // A credit with RvslInd = true cancels one of our own debits: not a customer's payment.
    if matches!(entry.text_at(&["RvslInd"]), Some("true" | "1")) {
        return Ok(());
    }

    let amount_node = entry.child("Amt").ok_or(StatementError::Missing {
        entry: n,
        what: "Amt",
    })?;
    let (amount_grosze, currency) = parse_amount(n, amount_node)?;
    let booking_date = booking_date(n, entry)?;
    let entry_reference = entry
        .text_at(&["NtryRef"])
        .or_else(|| entry.text_at(&["AcctSvcrRef"]));
    let entry_info = entry.text_at(&["AddtlNtryInf"]);
    let transactions: Vec<&Node> = entry
        .children("NtryDtls")
        .flat_map(|details| details.children("TxDtls"))
        .collect();

    let credit = |amount_grosze: i64,
                  currency: &str,
                  remittance: String,
                  reference: Option<String>,
                  tx: Option<&Node>| {
        let debtor = tx.and_then(debtor);
        // No reference from the bank: a stable hash of what identifies the entry.
        let reference = reference.unwrap_or_else(|| {
            stable_reference(&[
                account,
                &booking_date.to_string(),
                &amount_grosze.to_string(),
                currency,
                debtor.as_deref().unwrap_or(""),
                &remittance,
            ])
        });
        Credit {
            amount_grosze,
            currency: currency.to_string(),
            booking_date,
            remittance,
            reference,
            debtor,
            debtor_iban: tx.and_then(debtor_iban),
            unreadable: None,
        }
    };

    // Batch booking: one credit per transaction, when every transaction has its own amount.
    let amounts: Vec<&Node> = transactions
        .iter()
        .filter_map(|tx| transaction_amount(tx))
        .collect();
    if transactions.len() > 1 && amounts.len() == transactions.len() {
        let own_references: Vec<Option<&str>> = transactions
            .iter()
            .map(|tx| tx.text_at(&["Refs", "AcctSvcrRef"]))
            .collect();
        let distinct = own_references
            .iter()
            .enumerate()
            .all(|(i, r)| r.is_some() && *r != entry_reference && !own_references[..i].contains(r));
        for (i, (tx, amount)) in transactions.iter().zip(amounts).enumerate() {
            let (grosze, currency) = parse_amount(n, amount)?;
            let own = match own_references[i] {
                Some(own) if distinct => own.to_string(),
                _ => (i + 1).to_string(),
            };
            let reference = match entry_reference {
                Some(base) => Some(format!("{base}/{own}")),
                None if distinct => Some(own),
                None => end_to_end_id(tx),
            };
            out.push(credit(
                grosze,
                &currency,
                remittance(&[tx], entry_info),
                reference,
                Some(tx),
            ));
        }
        return Ok(());
    }

    // One credit for the entry: its booked amount, the details of its transaction(s).
    let reference = entry_reference
        .map(str::to_string)
        .or_else(|| {
            transactions
                .first()
                .and_then(|tx| tx.text_at(&["Refs", "AcctSvcrRef"]).map(str::to_string))
        })
        .or_else(|| transactions.first().and_then(|tx| end_to_end_id(tx)));
    let payer = transactions
        .iter()
        .find(|tx| debtor(tx).is_some())
        .or(transactions.first())
        .copied();
    out.push(credit(
        amount_grosze,
        &currency,
        remittance(&transactions, entry_info),
        reference,
        payer,
    ));
    Ok(())
}

/// `TxDtls/Amt` (camt.053.001.03 on) or `TxDtls/AmtDtls/TxAmt/Amt`.
fn transaction_amount(tx: &Node) -> Option<&Node> {
    tx.child("Amt")
        .or_else(|| tx.path(&["AmtDtls", "TxAmt", "Amt"]))
}

fn end_to_end_id(tx: &Node) -> Option<String> {
    tx.text_at(&["Refs", "EndToEndId"])
        .filter(|id| !id.eq_ignore_ascii_case("NOTPROVIDED"))
        .map(str::to_string)
}

fn debtor(tx: &Node) -> Option<String> {
    tx.text_at(&["RltdPties", "Dbtr", "Nm"])
        .or_else(|| tx.text_at(&["RltdPties", "Dbtr", "Pty", "Nm"]))
        .map(str::to_string)
}

fn debtor_iban(tx: &Node) -> Option<String> {
    tx.text_at(&["RltdPties", "DbtrAcct", "Id", "IBAN"])
        .map(|iban| iban.chars().filter(|c| !c.is_whitespace()).collect())
}

fn remittance(transactions: &[&Node], entry_info: Option<&str>) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let mut has_rmt_inf = false;
    for tx in transactions {
        for rmt in tx.children("RmtInf") {
            has_rmt_inf = true;
            parts.extend(rmt.children("Ustrd").filter_map(Node::trimmed));
            parts.extend(
                rmt.children("Strd")
                    .filter_map(|strd| strd.text_at(&["CdtrRefInf", "Ref"])),
            );
        }
    }
    if !has_rmt_inf {
        parts.extend(
            transactions
                .iter()
                .filter_map(|tx| tx.text_at(&["AddtlTxInf"])),
        );
        if parts.is_empty() {
            parts.extend(entry_info);
        }
    }
    parts.join(" ")
}

fn booking_date(n: usize, entry: &Node) -> Result<NaiveDate, StatementError> {
    let (field, value) = [
        ("BookgDt", "Dt"),
        ("BookgDt", "DtTm"),
        ("ValDt", "Dt"),
        ("ValDt", "DtTm"),
    ]
    .into_iter()
    .find_map(|(outer, inner)| entry.text_at(&[outer, inner]).map(|v| (outer, v)))
    .ok_or(StatementError::Missing {
        entry: n,
        what: "BookgDt (booking date)",
    })?;
    // `Dt` may carry a zone ("2026-02-27+01:00"), `DtTm` a time: the date is the first ten.
    value
        .get(..10)
        .and_then(|date| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
        .ok_or_else(|| StatementError::Date {
            entry: n,
            field,
            value: value.to_string(),
        })
}

fn parse_amount(n: usize, amount: &Node) -> Result<(i64, String), StatementError> {
    let value = amount.text.trim();
    let error = |problem| StatementError::Amount {
        entry: n,
        value: value.to_string(),
        problem,
    };
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || value.ends_with('.') {
        return Err(error("is not a decimal"));
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 2 {
        return Err(error("has fractions of a grosz"));
    }
    let grosze = whole
        .parse::<i64>()
        .ok()
        .and_then(|z| z.checked_mul(100))
        .and_then(|g| g.checked_add(format!("{fraction:0<2}").parse::<i64>().ok()?))
        .ok_or_else(|| error("is too large"))?;
    let currency = amount
        .attr("Ccy")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or(StatementError::Missing {
            entry: n,
            what: "the Ccy attribute of Amt",
        })?;
    Ok((grosze, currency.to_ascii_uppercase()))
}

// ---------------------------------------------------------------------------------------
// A small element tree: statements are small, and a tree makes the optional, versioned
// structure easy to query by local name.

#[derive(Debug, Default)]
struct Node {
    /// Local name: `camt:Ntry` and `Ntry` in any namespace are both `Ntry`.
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn elements(&self) -> impl Iterator<Item = &Node> {
        self.children.iter()
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first element along the path of local names.
    fn path(&self, names: &[&str]) -> Option<&Node> {
        names.iter().try_fold(self, |node, name| node.child(name))
    }

    /// The trimmed, non-empty text of the first element along the path.
    fn text_at(&self, names: &[&str]) -> Option<&str> {
        self.path(names).and_then(Node::trimmed)
    }

    /// Every text inside, in document order (an unreadable entry's identity).
    fn all_text(&self, out: &mut String) {
        out.push_str(self.text.trim());
        out.push('|');
        for child in &self.children {
            out.push_str(&child.name);
            out.push('=');
            child.all_text(out);
        }
    }

    fn trimmed(&self) -> Option<&str> {
        Some(self.text.trim()).filter(|t| !t.is_empty())
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Nesting deeper than this is no bank statement (camt.053 goes about 12 levels deep).
const MAX_DEPTH: usize = 64;

fn parse_tree(xml: &[u8]) -> Result<Node, StatementError> {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let text = std::str::from_utf8(xml).map_err(|e| {
        StatementError::Xml(format!(
            "not UTF-8 text (byte {}); ISO 20022 files are UTF-8",
            e.valid_up_to()
        ))
    })?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            StatementError::Xml(format!("{e} (at byte {})", reader.error_position()))
        })?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(StatementError::Xml(format!(
                        "elements nested deeper than {MAX_DEPTH} levels"
                    )));
                }
                stack.push(element(&start)?);
            }
            Event::Empty(start) => attach(&mut stack, &mut root, element(&start)?)?,
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| StatementError::Xml("unexpected end tag".into()))?;
                attach(&mut stack, &mut root, node)?;
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => resolve_predefined_entity(&r)
                        .ok_or_else(|| StatementError::Xml(format!("unknown entity `&{};`", &*r)))?
                        .to_string(),
                    Err(e) => return Err(StatementError::Xml(e.to_string())),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(StatementError::Xml(format!(
            "the file ends inside <{}>",
            open.name
        )));
    }
    root.ok_or_else(|| StatementError::NotCamt053 {
        found: "no XML element".to_string(),
    })
}

fn element(start: &BytesStart) -> Result<Node, StatementError> {
    let mut node = Node {
        name: start.local_name().into_inner().to_string(),
        ..Node::default()
    };
    for attr in start.attributes() {
        let attr = attr.map_err(|e| StatementError::Xml(e.to_string()))?;
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| StatementError::Xml(e.to_string()))?;
        node.attrs.push((
            attr.key.local_name().into_inner().to_string(),
            value.into_owned(),
        ));
    }
    Ok(node)
}

fn attach(stack: &mut [Node], root: &mut Option<Node>, node: Node) -> Result<(), StatementError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None if root.is_none() => *root = Some(node),
        None => {
            return Err(StatementError::Xml(format!(
                "a second root element <{}>",
                node.name
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use renewals_domain::DocumentNumber;

    /// The document numbers a credit's title names, as the importer will look them up.
    fn document_numbers(title: &str) -> Vec<String> {
        DocumentNumber::find_in(title)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const MATCHED: &[u8] = include_bytes!("../../../tests/fixtures/camt053/matched.xml");
    const UNMATCHED: &[u8] = include_bytes!("../../../tests/fixtures/camt053/unmatched.xml");
    const DUPLICATE: &[u8] = include_bytes!("../../../tests/fixtures/camt053/duplicate.xml");
    const PARTIAL: &[u8] = include_bytes!("../../../tests/fixtures/camt053/partial.xml");
    const BATCH: &[u8] = include_bytes!("../../../tests/fixtures/camt053/batch.xml");

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// A camt.053.001.02 statement around the given entries.
    fn statement(entries: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>T1</MsgId><CreDtTm>2026-03-10T20:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>T1</Id><CreDtTm>2026-03-10T20:00:00</CreDtTm>
      <Acct><Id><IBAN>PL94105015041000009031876543</IBAN></Id><Ccy>PLN</Ccy></Acct>
      {entries}
    </Stmt>
  </BkToCstmrStmt>
</Document>"#
        )
    }

    fn entry(amount: &str, extra: &str) -> String {
        format!(
            r#"<Ntry><Amt Ccy="PLN">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
               <BookgDt><Dt>2026-03-10</Dt></BookgDt><AcctSvcrRef>R1</AcctSvcrRef>{extra}</Ntry>"#
        )
    }

    fn error_of(xml: &str) -> String {
        parse_camt053(xml.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn matched_fixture_gives_the_three_credits_with_their_numbers() {
        let credits = parse_camt053(MATCHED).unwrap();
        assert_eq!(
            credits,
            vec![
                Credit {
                    amount_grosze: 15006,
                    currency: "PLN".into(),
                    booking_date: date("2026-02-27"),
                    remittance: "PF/2026/02/0001 Microsoft 365 Business Standard - 1 mies.".into(),
                    reference: "S7A2602270012345".into(),
                    debtor: Some("KANCELARIA RADCY PRAWNEGO ANNA NOWAK".into()),
                    debtor_iban: Some("PL60102010260000612203456789".into()),
                    unreadable: None,
                },
                Credit {
                    amount_grosze: 15006,
                    currency: "PLN".into(),
                    booking_date: date("2026-02-27"),
                    remittance: "pf 2026/02/0002 zaplata za licencje".into(),
                    reference: "260227000981".into(),
                    debtor: Some("ZAKŁAD STOLARSKI TOMASZ WIŚNIEWSKI".into()),
                    debtor_iban: Some("PL54114020040000340212345678".into()),
                    unreadable: None,
                },
                Credit {
                    amount_grosze: 7624,
                    currency: "PLN".into(),
                    booking_date: date("2026-03-03"),
                    remittance: "Zapłata za zamówienie ZAM/2026/ 03/0001 - dodatkowe licencje"
                        .into(),
                    reference: "TX2603030004417".into(),
                    debtor: Some("BIURO RACHUNKOWE KOWALSKA & WSPÓLNICY SP.J.".into()),
                    debtor_iban: Some("PL60124060741111001012345678".into()),
                    unreadable: None,
                },
            ]
        );
        let numbers: Vec<Vec<String>> = credits
            .iter()
            .map(|c| document_numbers(&c.remittance))
            .collect();
        assert_eq!(
            numbers,
            vec![
                vec!["PF/2026/02/0001".to_string()],
                vec!["PF/2026/02/0002".to_string()],
                vec!["ZAM/2026/03/0001".to_string()],
            ]
        );
    }

    #[test]
    fn unmatched_fixture_keeps_only_the_booked_credit() {
        let credits = parse_camt053(UNMATCHED).unwrap();
        assert_eq!(credits.len(), 1, "{credits:?}");
        let credit = &credits[0];
        assert_eq!(credit.amount_grosze, 20000);
        assert_eq!(credit.booking_date, date("2026-03-04"));
        assert_eq!(credit.debtor.as_deref(), Some("JAN KOWALSKI"));
        assert_eq!(credit.reference, "S7A2603040015502");
        assert!(document_numbers(&credit.remittance).is_empty());
    }

    #[test]
    fn duplicate_fixture_returns_every_copy_with_the_same_reference() {
        let credits = parse_camt053(DUPLICATE).unwrap();
        assert_eq!(credits.len(), 3);
        assert_eq!(credits[0], credits[1], "the same entry twice in one file");
        assert_eq!(
            document_numbers(&credits[0].remittance),
            ["PF/2026/02/0004"]
        );
        let matched = parse_camt053(MATCHED).unwrap();
        assert_eq!(credits[2].reference, matched[0].reference);
        assert_eq!(credits[2].amount_grosze, matched[0].amount_grosze);
    }

    #[test]
    fn partial_fixture_in_camt_053_001_08() {
        let credits = parse_camt053(PARTIAL).unwrap();
        assert_eq!(
            credits,
            vec![Credit {
                amount_grosze: 10000,
                currency: "PLN".into(),
                booking_date: date("2026-03-06"),
                remittance: "Częściowa wpłata PF/2026/02/0001".into(),
                reference: "S7A2603060031120".into(),
                debtor: Some("KANCELARIA RADCY PRAWNEGO ANNA NOWAK".into()),
                debtor_iban: Some("PL60102010260000612203456789".into()),
                unreadable: None,
            }]
        );
        assert_eq!(
            document_numbers(&credits[0].remittance),
            ["PF/2026/02/0001"]
        );
    }

    #[test]
    fn batch_fixture_yields_one_credit_per_transaction() {
        let credits = parse_camt053(BATCH).unwrap();
        let summary: Vec<(i64, &str, Vec<String>, Option<&str>)> = credits
            .iter()
            .map(|c| {
                (
                    c.amount_grosze,
                    c.reference.as_str(),
                    document_numbers(&c.remittance),
                    c.debtor.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    15006,
                    "S7A2603090040001/1",
                    vec!["PF/2026/03/0007".to_string()],
                    Some("PIEKARNIA ZIELIŃSCY SP. Z O.O.")
                ),
                (
                    7624,
                    "S7A2603090040001/2",
                    vec!["ZAM/2026/03/0002".to_string()],
                    Some("GABINET STOMATOLOGICZNY DR EWA MAJEWSKA")
                ),
            ]
        );
        assert!(credits.iter().all(|c| c.booking_date == date("2026-03-09")));
    }

    #[test]
    fn batch_entries_use_transaction_references_when_distinct() {
        let tx = |r: &str, amount: &str, title: &str| {
            format!(
                r#"<TxDtls><Refs><AcctSvcrRef>{r}</AcctSvcrRef></Refs>
                   <AmtDtls><TxAmt><Amt Ccy="PLN">{amount}</Amt></TxAmt></AmtDtls>
                   <RmtInf><Ustrd>{title}</Ustrd></RmtInf></TxDtls>"#
            )
        };
        let xml = statement(&entry(
            "200.00",
            &format!(
                "<NtryDtls>{}{}</NtryDtls>",
                tx("T-A", "120.00", "PF/2026/03/0001"),
                tx("T-B", "80.00", "PF/2026/03/0002")
            ),
        ));
        let credits = parse_camt053(xml.as_bytes()).unwrap();
        let refs: Vec<(&str, i64)> = credits
            .iter()
            .map(|c| (c.reference.as_str(), c.amount_grosze))
            .collect();
        assert_eq!(refs, [("R1/T-A", 12000), ("R1/T-B", 8000)]);

        // Transactions without their own amounts cannot be split: one credit, all titles.
        let xml = statement(&entry(
            "200.00",
            "<NtryDtls><TxDtls><RmtInf><Ustrd>PF/2026/03/0001</Ustrd></RmtInf></TxDtls>\
             <TxDtls><RmtInf><Ustrd>PF/2026/03/0002</Ustrd></RmtInf></TxDtls></NtryDtls>",
        ));
        let credits = parse_camt053(xml.as_bytes()).unwrap();
        assert_eq!(credits.len(), 1);
        assert_eq!(credits[0].amount_grosze, 20000);
        assert_eq!(
            document_numbers(&credits[0].remittance),
            ["PF/2026/03/0001", "PF/2026/03/0002"]
        );
    }

    #[test]
    fn namespaces_and_prefixes_of_any_version_are_ignored() {
        for version in ["02", "04", "08", "10"] {
            let xml = format!(
                r#"<c:Document xmlns:c="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">
                  <c:BkToCstmrStmt><c:Stmt><c:Ntry>
                    <c:Amt Ccy="PLN">1234.5</c:Amt><c:CdtDbtInd>CRDT</c:CdtDbtInd>
                    <c:Sts><c:Cd>BOOK</c:Cd></c:Sts>
                    <c:BookgDt><c:DtTm>2026-03-10T09:15:00+01:00</c:DtTm></c:BookgDt>
                    <c:NtryDtls><c:TxDtls>
                      <c:Refs><c:EndToEndId>E2E-77</c:EndToEndId></c:Refs>
                      <c:RmtInf><c:Strd><c:CdtrRefInf><c:Ref>PF/2026/03/0009</c:Ref></c:CdtrRefInf></c:Strd></c:RmtInf>
                    </c:TxDtls></c:NtryDtls>
                  </c:Ntry></c:Stmt></c:BkToCstmrStmt>
                </c:Document>"#
            );
            let credits = parse_camt053(xml.as_bytes()).unwrap();
            assert_eq!(credits.len(), 1, "camt.053.001.{version}");
            assert_eq!(credits[0].amount_grosze, 123450);
            assert_eq!(credits[0].reference, "E2E-77");
            assert_eq!(credits[0].remittance, "PF/2026/03/0009");
            assert_eq!(credits[0].booking_date, date("2026-03-10"));
        }
    }

    #[test]
    fn reversals_are_not_payments_and_free_text_is_the_fallback_title() {
        let xml = statement(&format!(
            "{}{}",
            entry("10.00", "<RvslInd>true</RvslInd>"),
            entry(
                "20.00",
                "<AddtlNtryInf>WPLATA PF-2026-03-0004</AddtlNtryInf>"
            )
        ));
        let credits = parse_camt053(xml.as_bytes()).unwrap();
        assert_eq!(credits.len(), 1);
        assert_eq!(credits[0].amount_grosze, 2000);
        assert_eq!(
            document_numbers(&credits[0].remittance),
            ["PF/2026/03/0004"]
        );
        assert_eq!(credits[0].debtor, None);
    }

    #[test]
    fn refuses_files_that_are_not_camt_053() {
        let camt052 = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02">
            <BkToCstmrAcctRpt/></Document>"#;
        assert_eq!(
            error_of(camt052),
            "not a camt.053 statement: found <Document><BkToCstmrAcctRpt>, \
             expected <Document> holding <BkToCstmrStmt>"
        );
        let pain = r#"<?xml version="1.0"?><CstmrCdtTrfInitn/>"#;
        assert!(error_of(pain).starts_with("not a camt.053 statement: found <CstmrCdtTrfInitn>"));
        let mt940 = ":20:STARTUMS\n:25:PL94105015041000009031876543\n:28C:41";
        assert!(error_of(mt940).starts_with("not a camt.053 statement: found no XML element"));
        assert!(error_of("").starts_with("not a camt.053 statement"));
    }

    #[test]
    fn an_unreadable_entry_is_listed_with_the_entry_and_the_problem() {
        let debit = r#"<Ntry><Amt Ccy="PLN">5.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
                       <BookgDt><Dt>2026-03-10</Dt></BookgDt></Ntry>"#;
        let cases = [
            (
                format!("{debit}{debit}{}", entry("12,30", "")),
                "entry 3: amount `12,30` is not a decimal",
            ),
            (
                entry("-5.00", ""),
                "entry 1: amount `-5.00` is not a decimal",
            ),
            (entry("5.", ""), "entry 1: amount `5.` is not a decimal"),
            (
                entry("1.005", ""),
                "entry 1: amount `1.005` has fractions of a grosz",
            ),
            (
                entry("99999999999999999999", ""),
                "entry 1: amount `99999999999999999999` is too large",
            ),
            (
                entry("1.00", "").replace(" Ccy=\"PLN\"", ""),
                "entry 1: missing the Ccy attribute of Amt",
            ),
            (
                entry("1.00", "").replace("<Dt>2026-03-10</Dt>", "<Dt>10.03.2026</Dt>"),
                "entry 1: BookgDt `10.03.2026` is not a date (expected YYYY-MM-DD)",
            ),
            (
                entry("1.00", "").replace("<Sts>BOOK</Sts>", ""),
                "entry 1: missing Sts (entry status)",
            ),
            (
                entry("1.00", "").replace("CRDT", "CREDIT"),
                "entry 1: CdtDbtInd `CREDIT` is not one of CRDT, DBIT",
            ),
        ];
        for (entries, expected) in cases {
            let credits = parse_camt053(statement(&entries).as_bytes()).unwrap();
            let problems: Vec<&str> = credits
                .iter()
                .filter_map(|c| c.unreadable.as_deref())
                .collect();
            assert_eq!(
                problems,
                [expected],
                "one unreadable entry never aborts the file"
            );
            assert!(credits.iter().all(|c| c.reference.starts_with("h:")));
        }
    }

    #[test]
    fn malformed_xml_is_reported_as_such() {
        let truncated = &statement(&entry("1.00", ""))[..300];
        assert!(
            error_of(truncated).starts_with("the statement is not well-formed XML"),
            "{}",
            error_of(truncated)
        );
        let mismatched = "<Document><BkToCstmrStmt></Document>";
        assert!(error_of(mismatched).starts_with("the statement is not well-formed XML"));
        let latin2 = b"<Document><BkToCstmrStmt><Stmt><Ntry>Zak\xb3ad</Ntry></Stmt></BkToCstmrStmt></Document>";
        let error = parse_camt053(latin2).unwrap_err().to_string();
        assert!(error.contains("not UTF-8"), "{error}");
        let unknown_entity = statement(&entry("1.00", "<AddtlNtryInf>&nbsp;</AddtlNtryInf>"));
        assert!(error_of(&unknown_entity).contains("unknown entity `&nbsp;`"));
    }

    #[test]
    fn a_byte_order_mark_and_character_references_are_fine() {
        let xml = statement(&entry(
            "1.00",
            "<NtryDtls><TxDtls><RltdPties><Dbtr><Nm>Kowalski &amp; Syn &#x141;&#243;d&#378;</Nm></Dbtr></RltdPties>\
             <RmtInf><Ustrd><![CDATA[PF/2026/03/0001 <pilne>]]></Ustrd></RmtInf></TxDtls></NtryDtls>",
        ));
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(xml.as_bytes());
        let credits = parse_camt053(&bytes).unwrap();
        assert_eq!(credits[0].debtor.as_deref(), Some("Kowalski & Syn Łódź"));
        assert_eq!(credits[0].remittance, "PF/2026/03/0001 <pilne>");
    }
}
