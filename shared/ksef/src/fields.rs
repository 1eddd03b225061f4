//! The few fields of an FA(3) invoice KSeF keys on: the seller's NIP (`Podmiot1`), the kind
//! (`RodzajFaktury`) and our number (`P_2`) make the duplicate key; `P_1` is the issue day.

use quick_xml::events::Event;
use quick_xml::Reader;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceFields {
    pub seller_nip: String,
    pub kind: String,
    pub number: String,
    pub issued: String,
}

impl InvoiceFields {
    /// KSeF's duplicate key: `(Podmiot1 NIP, RodzajFaktury, P_2)`.
    pub fn duplicate_key(&self) -> (String, String, String) {
        (
            self.seller_nip.clone(),
            self.kind.clone(),
            self.number.clone(),
        )
    }
}

/// Reads the key fields; fails on XML that is not well-formed or lacks one of them.
pub fn invoice_fields(xml: &[u8]) -> Result<InvoiceFields, String> {
    let text = std::str::from_utf8(xml).map_err(|e| format!("the invoice is not UTF-8: {e}"))?;
    if text.starts_with('\u{feff}') {
        return Err("the invoice starts with a byte order mark".into());
    }
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = vec![];
    let (mut nip, mut kind, mut number, mut issued) = (None, None, None, None);
    let mut seen_root = false;
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Err(e) => {
                return Err(format!(
                    "the invoice is not well-formed XML (at byte {}): {e}",
                    reader.error_position()
                ))
            }
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                seen_root = true;
                text.clear();
                path.push(e.local_name().into_inner().to_string());
            }
            Ok(Event::Empty(_)) => seen_root = true,
            Ok(Event::Text(t)) => text.push_str(&t.xml10_content()),
            Ok(Event::CData(t)) => text.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                _ => match quick_xml::escape::resolve_predefined_entity(&r) {
                    Some(s) => text.push_str(s),
                    None => return Err(format!("the invoice uses an unknown entity `&{};`", &*r)),
                },
            },
            Ok(Event::End(_)) => {
                let value = std::mem::take(&mut text).trim().to_string();
                let at: Vec<&str> = path.iter().map(String::as_str).collect();
                match at.as_slice() {
                    ["Faktura", "Podmiot1", "DaneIdentyfikacyjne", "NIP"] => nip = Some(value),
                    ["Faktura", "Fa", "RodzajFaktury"] => kind = Some(value),
                    ["Faktura", "Fa", "P_2"] => number = Some(value),
                    ["Faktura", "Fa", "P_1"] => issued = Some(value),
                    _ => {}
                }
                path.pop();
            }
            Ok(_) => {}
        }
    }
    if !path.is_empty() {
        return Err(format!(
            "the invoice is not well-formed XML: <{}> is never closed",
            path.join("/")
        ));
    }
    if !seen_root {
        return Err("the invoice has no root element".into());
    }
    let missing = |what: &str| format!("the invoice has no {what}");
    Ok(InvoiceFields {
        seller_nip: nip.ok_or_else(|| missing("Podmiot1/DaneIdentyfikacyjne/NIP"))?,
        kind: kind.ok_or_else(|| missing("Fa/RodzajFaktury"))?,
        number: number.ok_or_else(|| missing("Fa/P_2"))?,
        issued: issued.ok_or_else(|| missing("Fa/P_1"))?,
    })
}
