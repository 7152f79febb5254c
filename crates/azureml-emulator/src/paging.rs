//! `$skip` continuation and absolute `nextLink`s for list routes.

use crate::arm::ArmError;
use crate::dispatch::Ctx;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

fn encode(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("skip:{offset}"))
}

fn decode(token: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("skip:")?
        .parse()
        .ok()
}

/// One page of `items` starting at the request's `$skip` token. The token is opaque to clients;
/// `nextLink` repeats the request's other query parameters on the same host.
pub(crate) fn page(ctx: &Ctx, items: Vec<Value>, page_size: usize) -> Result<Value, ArmError> {
    let offset = match ctx.query("$skip") {
        None => 0,
        Some(token) => decode(token).ok_or_else(|| {
            ArmError::user(
                "$skip",
                format!("The continuation token '{token}' is invalid."),
            )
        })?,
    };
    let size = page_size.max(1);
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(offset).take(size).collect();
    let mut body = json!({ "value": value });
    if offset + size < total {
        // Keys stay literal (`$skip`, as ARM writes it); values are form-encoded.
        let mut pairs: Vec<String> = ctx
            .query
            .iter()
            .filter(|(k, _)| k != "$skip")
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                )
            })
            .collect();
        pairs.push(format!("$skip={}", encode(offset + size)));
        let next = format!("{}{}?{}", ctx.base_url, ctx.path, pairs.join("&"));
        if let Some(obj) = body.as_object_mut() {
            obj.insert("nextLink".into(), Value::String(next));
        }
    }
    Ok(body)
}
