//! The stand-in's online sessions: opening (the AES key decrypted), invoices (decrypted,
//! hashes and sizes checked, FA(3) XSD, seller, duplicates), status, UPO, closing.

use super::*;

pub(super) async fn open_session(
    State(inner): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = lock(&inner);
    let nip = match access_nip(&state, &headers) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let body = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let form = &body["formCode"];
    if form["systemCode"] != "FA (3)" || form["schemaVersion"] != "1-0E" || form["value"] != "FA" {
        return exception(
            21405,
            "Błąd walidacji danych wejściowych.",
            &[format!("Nieobsługiwany formCode {form}.")],
        );
    }
    let enc = &body["encryption"];
    let private = match private_key(&state, enc["publicKeyId"].as_str()) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let key = enc["encryptedSymmetricKey"]
        .as_str()
        .and_then(|k| unb64(k).ok())
        .and_then(|c| private.decrypt(Oaep::new::<Sha256>(), &c).ok())
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok());
    let iv = enc["initializationVector"]
        .as_str()
        .and_then(|v| unb64(v).ok())
        .and_then(|v| <[u8; 16]>::try_from(v.as_slice()).ok());
    let (Some(key), Some(iv)) = (key, iv) else {
        return exception(
            21405,
            "Błąd walidacji danych wejściowych.",
            &["Nie udało się odszyfrować klucza symetrycznego (32 B) lub odczytać wektora IV (16 B).".into()],
        );
    };
    let reference_number = reference("SO", today_in_poland());
    state.sessions.insert(
        reference_number.clone(),
        Session {
            nip,
            key,
            iv,
            open: true,
            invoices: 0,
        },
    );
    (
        StatusCode::CREATED,
        Json(json!({"referenceNumber": reference_number, "validUntil": Utc::now() + Duration::hours(12)})),
    )
        .into_response()
}

/// Validates against the FA(3) XSD with the project's Python `xmlschema`: `Ok(())`, or the
/// validator's reasons.
pub(super) fn validate_fa3(xml: &[u8]) -> Result<(), Result<String, String>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schema = root.join("shared/invoices/schema/fa3/schemat_FA(3)_v1-0E.xsd");
    let python = root.join(".venv/bin/python");
    if !python.exists() {
        return Err(Err(format!(
            "{} is missing: run scripts/xmlschema.sh (scripts/test does)",
            python.display()
        )));
    }
    let file = std::env::temp_dir().join(format!("ksef-standin-{}.xml", uuid::Uuid::new_v4()));
    if let Err(e) = std::fs::write(&file, xml) {
        return Err(Err(format!("cannot write {}: {e}", file.display())));
    }
    const SCRIPT: &str = r#"
import sys, xmlschema
try:
    schema = xmlschema.XMLSchema(sys.argv[2])
    errors = [f"{e.path}: {e.reason}" for e in schema.iter_errors(sys.argv[1])]
except xmlschema.XMLSchemaException as e:
    errors = [str(e).strip().splitlines()[0]]
except Exception as e:
    errors = [f"{type(e).__name__}: {e}"]
print("\n".join(errors))
sys.exit(3 if errors else 0)
"#;
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&file)
        .arg(&schema)
        .output();
    let _ = std::fs::remove_file(&file);
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) if o.status.code() == Some(3) => {
            Err(Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()))
        }
        Ok(o) => Err(Err(format!(
            "the XSD validator failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ))),
        Err(e) => Err(Err(format!("the XSD validator did not start: {e}"))),
    }
}

pub(super) fn upo_xml(
    ksef: &str,
    number: &str,
    nip: &str,
    hash: &str,
    at: DateTime<Utc>,
) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Potwierdzenie xmlns=\"http://upo.schematy.mf.gov.pl/KSeF/v4-3\"><NazwaPodmiotuPrzyjmujacego>Stand-in KSeF (testy)</NazwaPodmiotuPrzyjmujacego><Uwierzytelnienie><IdKontekstu><Nip>{nip}</Nip></IdKontekstu></Uwierzytelnienie><Dokument><NipSprzedawcy>{nip}</NipSprzedawcy><NumerKSeFDokumentu>{ksef}</NumerKSeFDokumentu><NumerFaktury>{}</NumerFaktury><DataPrzeslaniaDokumentu>{}</DataPrzeslaniaDokumentu><SkrotDokumentu>{hash}</SkrotDokumentu></Dokument></Potwierdzenie>\n",
        number.replace('&', "&amp;").replace('<', "&lt;"),
        at.to_rfc3339()
    )
    .into_bytes()
}

pub(super) async fn send_invoice(
    State(inner): State<Shared>,
    Path(session_ref): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = |code: u32, what: String| {
        exception(
            code,
            if code == 21403 {
                "Nieprawidłowy skrót faktury."
            } else {
                "Nieprawidłowy rozmiar faktury."
            },
            &[what],
        )
    };
    let (nip, plain, invoice_hash) = {
        let state = lock(&inner);
        let token_nip = match access_nip(&state, &headers) {
            Ok(n) => n,
            Err(r) => return r,
        };
        let Some(session) = state.sessions.get(&session_ref) else {
            return exception(
                21173,
                "Brak sesji o wskazanym numerze referencyjnym.",
                &[session_ref],
            );
        };
        if !session.open {
            return exception(
                21180,
                "Status sesji nie pozwala na wykonanie operacji.",
                &[format!("{session_ref} jest zamknięta.")],
            );
        }
        if session.nip != token_nip {
            return exception(
                21405,
                "Błąd walidacji danych wejściowych.",
                &["Sesja należy do innego kontekstu.".into()],
            );
        }
        let body = match parse(&body) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let content = match field(&body, "encryptedInvoiceContent").map(unb64) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return exception(
                    21405,
                    "Błąd walidacji danych wejściowych.",
                    &[format!("encryptedInvoiceContent: {e}")],
                )
            }
            Err(r) => return r,
        };
        if body["encryptedInvoiceSize"].as_u64() != Some(content.len() as u64) {
            return bad(
                21402,
                format!(
                    "encryptedInvoiceSize {} ≠ {} B",
                    body["encryptedInvoiceSize"],
                    content.len()
                ),
            );
        }
        if body["encryptedInvoiceHash"].as_str() != Some(sha256_b64(&content).as_str()) {
            return bad(
                21403,
                "encryptedInvoiceHash nie odpowiada zawartości.".into(),
            );
        }
        let plain = aes_decrypt(&session.key, &session.iv, &content);
        if let Ok(plain) = &plain {
            if body["invoiceSize"].as_u64() != Some(plain.len() as u64) {
                return bad(
                    21402,
                    format!("invoiceSize {} ≠ {} B", body["invoiceSize"], plain.len()),
                );
            }
            if body["invoiceHash"].as_str() != Some(sha256_b64(plain).as_str()) {
                return bad(
                    21403,
                    "invoiceHash nie odpowiada odszyfrowanej fakturze.".into(),
                );
            }
        }
        let hash = body["invoiceHash"].as_str().unwrap_or("").to_string();
        (session.nip.clone(), plain, hash)
    };
    // Processing: decryption, XSD, seller, duplicate (the verdict shows in the status).
    let received = Utc::now();
    let mut record = StoredInvoice {
        session: session_ref.clone(),
        ordinal: 0,
        number: None,
        hash: invoice_hash.clone(),
        code: 200,
        description: "Sukces".into(),
        details: vec![],
        extensions: None,
        ksef_number: None,
        upo: None,
        processing_polls: 0,
        decrypted: vec![],
        received,
        offline: false,
    };
    let mut verdict_needs_registry = false;
    match plain {
        Err(e) => {
            record.code = 435;
            record.description = "Błąd odszyfrowania pliku".into();
            record.details = vec![e];
        }
        Ok(plain) => {
            record.decrypted = plain.clone();
            let checked = tokio::task::spawn_blocking(move || validate_fa3(&plain)).await;
            match checked {
                Ok(Ok(())) => verdict_needs_registry = true,
                Ok(Err(Ok(reason))) => {
                    record.code = 430;
                    record.description = "Błąd weryfikacji pliku faktury".into();
                    record.details = vec![reason];
                }
                Ok(Err(Err(why))) => {
                    record.code = 500;
                    record.description = "Nieznany błąd (stand-in)".into();
                    record.details = vec![why];
                }
                Err(e) => {
                    record.code = 500;
                    record.description = "Nieznany błąd (stand-in)".into();
                    record.details = vec![format!("the XSD validator crashed: {e}")];
                }
            }
        }
    }
    let mut state = lock(&inner);
    record.processing_polls = state.processing_polls;
    if verdict_needs_registry {
        match invoice_fields(&record.decrypted) {
            Err(e) => {
                record.code = 430;
                record.description = "Błąd weryfikacji pliku faktury".into();
                record.details = vec![e];
            }
            Ok(fields) => {
                record.number = Some(fields.number.clone());
                let today = state.today();
                let p1 = chrono::NaiveDate::parse_from_str(&fields.issued, "%Y-%m-%d").ok();
                if fields.seller_nip != nip {
                    record.code = 410;
                    record.description = "Nieprawidłowy zakres uprawnień".into();
                    record.details = vec![format!(
                        "NIP sprzedawcy {} (Podmiot1) nie jest NIP-em kontekstu {nip}.",
                        fields.seller_nip
                    )];
                } else if p1.is_some_and(|p1| p1 > today) {
                    record.code = 450;
                    record.description = "Błąd weryfikacji semantyki dokumentu faktury".into();
                    record.details = vec![format!(
                        "Data wystawienia P_1 {} jest późniejsza niż data przyjęcia {today}.",
                        fields.issued
                    )];
                } else if let Some((original, original_session)) =
                    state.registered.get(&fields.duplicate_key()).cloned()
                {
                    record.code = 440;
                    record.description = "Duplikat faktury".into();
                    record.details = vec![format!(
                        "Faktura o numerze {} jest już zarejestrowana jako {original}.",
                        fields.number
                    )];
                    record.extensions = Some(
                        json!({"originalSessionReferenceNumber": original_session, "originalKsefNumber": original}),
                    );
                } else {
                    // Auto-offline (API.md §5): an issue day before the day of acceptance.
                    record.offline = p1.is_some_and(|p1| p1 < today);
                    let ksef = ksef_number(&nip, today, rand::thread_rng().gen::<u64>());
                    state
                        .registered
                        .insert(fields.duplicate_key(), (ksef.clone(), session_ref.clone()));
                    record.upo = Some(upo_xml(
                        &ksef,
                        &fields.number,
                        &nip,
                        &invoice_hash,
                        received,
                    ));
                    record.ksef_number = Some(ksef);
                }
            }
        }
    }
    let Some(session) = state.sessions.get_mut(&session_ref) else {
        return exception(
            21173,
            "Brak sesji o wskazanym numerze referencyjnym.",
            &[session_ref],
        );
    };
    session.invoices += 1;
    record.ordinal = session.invoices;
    let invoice_ref = reference("EE", today_in_poland());
    state.invoices.insert(invoice_ref.clone(), record);
    (
        StatusCode::ACCEPTED,
        Json(json!({"referenceNumber": invoice_ref})),
    )
        .into_response()
}

/// The invoice `invoice_ref` of session `session_ref`, for a valid access token of its context.
pub(super) fn invoice_of<'a>(
    state: &'a mut Inner,
    headers: &HeaderMap,
    session_ref: &str,
    invoice_ref: &str,
) -> Result<&'a mut StoredInvoice, Response> {
    let nip = access_nip(state, headers)?;
    match state.sessions.get(session_ref) {
        Some(s) if s.nip == nip => {}
        _ => {
            return Err(exception(
                21173,
                "Brak sesji o wskazanym numerze referencyjnym.",
                &[session_ref.to_string()],
            ))
        }
    }
    state
        .invoices
        .get_mut(invoice_ref)
        .filter(|i| i.session == session_ref)
        .ok_or_else(|| {
            exception(
                21178,
                "Nie znaleziono faktury o podanym numerze referencyjnym.",
                &[invoice_ref.to_string()],
            )
        })
}

pub(super) async fn invoice_status(
    State(inner): State<Shared>,
    Path((session_ref, invoice_ref)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&inner);
    let invoice = match invoice_of(&mut state, &headers, &session_ref, &invoice_ref) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let mut body = json!({
        "ordinalNumber": invoice.ordinal,
        "invoiceNumber": invoice.number,
        "referenceNumber": invoice_ref,
        "invoiceHash": invoice.hash,
        "invoicingDate": invoice.received,
        "invoicingMode": if invoice.offline { "Offline" } else { "Online" },
    });
    if invoice.processing_polls > 0 {
        invoice.processing_polls -= 1;
        body["status"] = json!({"code": 150, "description": "Trwa przetwarzanie"});
        return Json(body).into_response();
    }
    let mut status = json!({"code": invoice.code, "description": invoice.description});
    if !invoice.details.is_empty() {
        status["details"] = json!(invoice.details);
    }
    if let Some(x) = &invoice.extensions {
        status["extensions"] = x.clone();
    }
    body["status"] = status;
    if let Some(k) = &invoice.ksef_number {
        body["ksefNumber"] = json!(k);
        body["acquisitionDate"] = json!(invoice.received);
        body["permanentStorageDate"] = json!(invoice.received);
    }
    Json(body).into_response()
}

pub(super) async fn invoice_upo(
    State(inner): State<Shared>,
    Path((session_ref, invoice_ref)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&inner);
    let invoice = match invoice_of(&mut state, &headers, &session_ref, &invoice_ref) {
        Ok(i) => i,
        Err(r) => return r,
    };
    match (&invoice.upo, invoice.processing_polls) {
        (Some(upo), 0) => (
            [
                ("Content-Type", "application/xml".to_string()),
                ("x-ms-meta-hash", sha256_b64(upo)),
            ],
            upo.clone(),
        )
            .into_response(),
        _ => exception(
            21178,
            "Nie znaleziono UPO dla podanych parametrów.",
            &[invoice_ref],
        ),
    }
}

pub(super) async fn close_session(
    State(inner): State<Shared>,
    Path(session_ref): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&inner);
    let nip = match access_nip(&state, &headers) {
        Ok(n) => n,
        Err(r) => return r,
    };
    match state.sessions.get_mut(&session_ref) {
        Some(s) if s.nip == nip && s.open => {
            s.open = false;
            StatusCode::NO_CONTENT.into_response()
        }
        Some(s) if s.nip == nip => exception(
            21180,
            "Status sesji nie pozwala na wykonanie operacji.",
            &[format!("{session_ref} jest już zamknięta.")],
        ),
        _ => exception(
            21173,
            "Brak sesji o wskazanym numerze referencyjnym.",
            &[session_ref],
        ),
    }
}
