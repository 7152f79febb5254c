//! `pool-commands` invocation bodies built as the Functions host builds them (see
//! `functions_host::encoding` and its Service Bus trigger payload), for driving the handler's
//! HTTP route directly.

use functions_host::encoding;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

pub const ROUTE: &str = "pool-commands";

pub fn pool_commands_body(command: &Value, message_id: &str, reply_to: Option<&str>) -> String {
    let now = OffsetDateTime::now_utc();
    let mut data = Map::new();
    data.insert("command".into(), encoding::string(&command.to_string()));
    let mut md = Map::new();
    md.insert("DeliveryCount".into(), encoding::integer(1));
    md.insert(
        "LockToken".into(),
        encoding::string(&uuid::Uuid::new_v4().to_string()),
    );
    md.insert("EnqueuedTimeUtc".into(), encoding::date_time(now));
    md.insert("EnqueuedTime".into(), encoding::date_time_offset(now));
    md.insert("MessageId".into(), encoding::string(message_id));
    md.insert("ContentType".into(), encoding::string("application/json"));
    if let Some(queue) = reply_to {
        md.insert("ReplyTo".into(), encoding::string(queue));
    }
    md.insert("SequenceNumber".into(), encoding::integer(1));
    md.insert("CorrelationId".into(), encoding::string(message_id));
    md.insert("ApplicationProperties".into(), json!({}));
    md.insert("UserProperties".into(), json!({}));
    md.insert(
        "Client".into(),
        json!({
            "FullyQualifiedNamespace": "poolbroker-local.servicebus.windows.net",
            "IsClosed": false,
            "TransportType": 0,
            "Identifier": "bench",
        }),
    );
    let metadata = encoding::metadata_with_sys(md, ROUTE, now);
    json!({"Data": Value::Object(data), "Metadata": metadata}).to_string()
}
