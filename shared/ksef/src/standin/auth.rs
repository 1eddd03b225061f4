//! The stand-in's MF keys and authentication: certificates, challenge, KSeF token (really
//! decrypted and checked), status, redeem once, refresh.

use super::*;

pub(super) async fn certificates(State(inner): State<Shared>) -> Response {
    let state = lock(&inner);
    // The certificates' own dates are those of the machine that made them; the listing says
    // a key is valid from a day before the stand-in started, so any clock accepts it.
    let mut list = vec![];
    for key in &state.keys {
        for usage in ["KsefTokenEncryption", "SymmetricKeyEncryption"] {
            list.push(json!({
                "certificate": b64(key.cert),
                "certificateId": sha256_b64(key.cert),
                "publicKeyId": key.id,
                "validFrom": key.valid_from,
                "validTo": key.valid_to,
                "usage": [usage],
            }));
        }
    }
    Json(Value::Array(list)).into_response()
}

/// The private key for `publicKeyId` (21470 when unknown or revoked); without one, the
/// current key.
pub(super) fn private_key<'a>(
    state: &'a Inner,
    id: Option<&str>,
) -> Result<&'a RsaPrivateKey, Response> {
    let key = match id {
        Some(id) => state.keys.iter().find(|k| k.id == id && !k.revoked),
        None => state.keys.iter().rfind(|k| !k.revoked),
    };
    key.map(|k| &k.private).ok_or_else(|| {
        exception(
            21470,
            "Nieznany lub unieważniony klucz publiczny.",
            &[format!("publicKeyId {}", id.unwrap_or("(brak)"))],
        )
    })
}

pub(super) async fn challenge(State(inner): State<Shared>) -> Response {
    let now = Utc::now();
    let challenge = reference("CR", today_in_poland());
    lock(&inner)
        .challenges
        .insert(challenge.clone(), (now_ms(now), now, false));
    Json(json!({
        "challenge": challenge,
        "timestamp": now,
        "timestampMs": now_ms(now),
        "clientIp": "127.0.0.1",
    }))
    .into_response()
}

pub(super) async fn ksef_token(State(inner): State<Shared>, body: Bytes) -> Response {
    let body = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (challenge, encrypted) = match (field(&body, "challenge"), field(&body, "encryptedToken")) {
        (Ok(c), Ok(e)) => (c.to_string(), e.to_string()),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let ctx_type = body["contextIdentifier"]["type"].as_str().unwrap_or("");
    let ctx_value = body["contextIdentifier"]["value"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if !["Nip", "InternalId", "NipVatUe", "PeppolId"].contains(&ctx_type) || ctx_value.is_empty() {
        return exception(
            21405,
            "Błąd walidacji danych wejściowych.",
            &["Nieprawidłowy contextIdentifier.".into()],
        );
    }
    let mut state = lock(&inner);
    let key = match private_key(&state, body["publicKeyId"].as_str()) {
        Ok(k) => k.clone(),
        Err(r) => return r,
    };
    let fresh = match state.challenges.get_mut(&challenge) {
        Some((ms, at, used)) if !*used && Utc::now() - *at < Duration::minutes(10) => {
            *used = true;
            Some(*ms)
        }
        _ => None,
    };
    let Some(timestamp_ms) = fresh else {
        return exception(
            21111,
            "Nieprawidłowe wyzwanie autoryzacyjne.",
            &[format!("{challenge}: nieznane, użyte lub przeterminowane.")],
        );
    };
    // Really decrypt and compare `token|timestampMs`.
    let plain = unb64(&encrypted)
        .ok()
        .and_then(|c| key.decrypt(Oaep::new::<Sha256>(), &c).ok())
        .and_then(|p| String::from_utf8(p).ok());
    let expected = format!("{}|{timestamp_ms}", state.token);
    let (code, description) = if plain.as_deref() != Some(expected.as_str()) {
        (
            450,
            "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu, wyzwania lub czasu.",
        )
    } else if ctx_type != "Nip" || ctx_value != state.nip {
        (
            415,
            "Uwierzytelnianie zakończone niepowodzeniem z powodu braku przypisanych uprawnień.",
        )
    } else {
        (200, "Uwierzytelnianie zakończone sukcesem")
    };
    let reference_number = reference("AU", today_in_poland());
    let auth_token = opaque_token("authentication");
    let token_until = Utc::now() + Duration::minutes(15);
    let pending_polls = state.auth_pending_polls;
    state.auths.insert(
        reference_number.clone(),
        AuthOp {
            auth_token: auth_token.clone(),
            token_until,
            nip: ctx_value,
            code,
            description: description.into(),
            pending_polls,
            redeemed: false,
            started: Utc::now(),
        },
    );
    (
        StatusCode::ACCEPTED,
        Json(json!({
            "referenceNumber": reference_number,
            "authenticationToken": {"token": auth_token, "validUntil": token_until},
        })),
    )
        .into_response()
}

/// The authentication operation whose authentication token is the bearer.
pub(super) fn auth_op<'a>(
    state: &'a mut Inner,
    headers: &HeaderMap,
) -> Result<(String, &'a mut AuthOp), Response> {
    let token = bearer(headers).ok_or_else(|| unauthorized("Brak tokenu uwierzytelniania."))?;
    state
        .auths
        .iter_mut()
        .find(|(_, op)| op.auth_token == token)
        .filter(|(_, op)| Utc::now() < op.token_until)
        .map(|(r, op)| (r.clone(), op))
        .ok_or_else(|| unauthorized("Nieprawidłowy lub przeterminowany token uwierzytelniania."))
}

pub(super) async fn auth_status(
    State(inner): State<Shared>,
    Path(reference_number): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&inner);
    let (op_ref, op) = match auth_op(&mut state, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if op_ref != reference_number {
        return unauthorized("Token uwierzytelniania dotyczy innej operacji.");
    }
    let (code, description) = if op.pending_polls > 0 {
        op.pending_polls -= 1;
        (100, "Uwierzytelnianie w toku".to_string())
    } else {
        (op.code, op.description.clone())
    };
    Json(json!({
        "startDate": op.started,
        "authenticationMethod": "Token",
        "authenticationMethodInfo": {"category": "Token", "code": "token.ksef", "displayName": "Token KSeF"},
        "status": {"code": code, "description": description},
        "isTokenRedeemed": op.redeemed,
    }))
    .into_response()
}

pub(super) fn issue_access(state: &mut Inner, nip: &str) -> (String, DateTime<Utc>) {
    let token = opaque_token("access");
    let until = Utc::now() + state.access_lifetime;
    state.access.insert(
        token.clone(),
        Grant {
            nip: nip.to_string(),
            until,
        },
    );
    (token, until)
}

pub(super) async fn redeem(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = lock(&inner);
    let (op_ref, op) = match auth_op(&mut state, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if op.redeemed {
        return exception(
            21301,
            "Brak autoryzacji.",
            &[format!("Tokeny dla {op_ref} zostały już pobrane.")],
        );
    }
    if op.pending_polls > 0 || op.code != 200 {
        return exception(
            21301,
            "Brak autoryzacji.",
            &[format!(
                "Uwierzytelnianie {op_ref} nie zakończyło się sukcesem."
            )],
        );
    }
    op.redeemed = true;
    let nip = op.nip.clone();
    let (access, access_until) = issue_access(&mut state, &nip);
    let refresh = opaque_token("refresh");
    let refresh_until = Utc::now() + Duration::days(7);
    state.refresh.insert(
        refresh.clone(),
        Grant {
            nip,
            until: refresh_until,
        },
    );
    Json(json!({
        "accessToken": {"token": access, "validUntil": access_until},
        "refreshToken": {"token": refresh, "validUntil": refresh_until},
    }))
    .into_response()
}

pub(super) async fn refresh(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = lock(&inner);
    let Some(token) = bearer(&headers) else {
        return unauthorized("Brak tokenu odświeżającego.");
    };
    let nip = match state.refresh.get(&token) {
        Some(g) if Utc::now() < g.until => g.nip.clone(),
        Some(_) => return unauthorized("Token odświeżający wygasł."),
        None => {
            return exception(
                21301,
                "Brak autoryzacji.",
                &["Nieznany lub unieważniony token odświeżający.".into()],
            )
        }
    };
    let (access, access_until) = issue_access(&mut state, &nip);
    Json(json!({"accessToken": {"token": access, "validUntil": access_until}})).into_response()
}
