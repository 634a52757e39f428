//! The wire format of `codex app-server`: JSON-RPC without the `jsonrpc` field, one JSON object
//! per line. Reading is bounded: a line longer than [`MAX_LINE`] is dropped (and reported), so
//! a runaway agent cannot exhaust memory.

use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The longest line accepted from the agent.
pub const MAX_LINE: usize = 8 * 1024 * 1024;

/// One line read with [`read_line_bounded`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line (without its newline).
    Text(Vec<u8>),
    /// A line longer than the limit; its length in bytes. Its content was discarded.
    TooLong(usize),
}

/// Reads one line of at most `max` bytes; `None` at end of input. A longer line is consumed
/// entirely but only its length is kept.
pub async fn read_line_bounded<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let mut len = 0usize;
    let mut saw_any = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            if !saw_any {
                return Ok(None);
            }
            break;
        }
        saw_any = true;
        let (chunk, consumed, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        len = len.saturating_add(chunk.len());
        if len <= max {
            buf.extend_from_slice(chunk);
        } else if !buf.is_empty() {
            buf = Vec::new();
        }
        reader.consume(consumed);
        if done {
            break;
        }
    }
    if len > max {
        return Ok(Some(Line::TooLong(len)));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(Line::Text(buf)))
}

/// A message from the agent, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The answer to one of our requests.
    Response {
        id: u64,
        result: Result<Value, String>,
    },
    /// A request from the agent, to be answered.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
    /// A line that is not a JSON-RPC message (shown truncated).
    Unexpected(String),
}

/// Classifies one line of output.
pub fn parse_line(line: &[u8]) -> Option<Incoming> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return None;
    }
    let value: Value = match serde_json::from_slice(trimmed) {
        Ok(v) => v,
        Err(_) => {
            return Some(Incoming::Unexpected(truncate(
                &String::from_utf8_lossy(trimmed),
                NOTICE_SNIPPET,
            )))
        }
    };
    Some(classify(value, trimmed))
}

const NOTICE_SNIPPET: usize = 512;

fn classify(value: Value, raw: &[u8]) -> Incoming {
    let unexpected =
        || Incoming::Unexpected(truncate(&String::from_utf8_lossy(raw), NOTICE_SNIPPET));
    let Value::Object(mut obj) = value else {
        return unexpected();
    };
    let id = obj.remove("id").filter(|v| !v.is_null());
    let params = obj.remove("params").unwrap_or(Value::Null);
    match (obj.remove("method"), id) {
        (Some(Value::String(method)), Some(id)) => Incoming::Request { id, method, params },
        (Some(Value::String(method)), None) => Incoming::Notification { method, params },
        (Some(_), _) => unexpected(),
        (None, Some(id)) => {
            let Some(id) = id.as_u64() else {
                return unexpected();
            };
            if let Some(error) = obj.remove("error").filter(|e| !e.is_null()) {
                Incoming::Response {
                    id,
                    result: Err(describe_rpc_error(&error)),
                }
            } else if let Some(result) = obj.remove("result") {
                Incoming::Response {
                    id,
                    result: Ok(result),
                }
            } else {
                unexpected()
            }
        }
        (None, None) => unexpected(),
    }
}

/// `code: message` of a JSON-RPC error object (or the value itself, if it is something else).
pub fn describe_rpc_error(error: &Value) -> String {
    match (
        error.get("code").and_then(Value::as_i64),
        error.get("message").and_then(Value::as_str),
    ) {
        (Some(code), Some(message)) => format!("{code}: {}", truncate(message, 2048)),
        (None, Some(message)) => truncate(message, 2048),
        _ => truncate(&error.to_string(), 2048),
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), with a marker when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[{} bytes truncated]", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn bounded_lines() {
        let data = b"short\r\n0123456789abc\nlast".to_vec();
        let mut reader = tokio::io::BufReader::with_capacity(4, &data[..]);
        assert_eq!(
            read_line_bounded(&mut reader, 10).await.unwrap(),
            Some(Line::Text(b"short".to_vec()))
        );
        assert_eq!(
            read_line_bounded(&mut reader, 10).await.unwrap(),
            Some(Line::TooLong(13))
        );
        assert_eq!(
            read_line_bounded(&mut reader, 10).await.unwrap(),
            Some(Line::Text(b"last".to_vec()))
        );
        assert_eq!(read_line_bounded(&mut reader, 10).await.unwrap(), None);
    }

    #[test]
    fn classification() {
        assert_eq!(
            parse_line(br#"{"id":3,"result":{"ok":true}}"#),
            Some(Incoming::Response {
                id: 3,
                result: Ok(json!({"ok": true}))
            })
        );
        assert_eq!(
            parse_line(br#"{"id":4,"error":{"code":-1,"message":"no"}}"#),
            Some(Incoming::Response {
                id: 4,
                result: Err("-1: no".into())
            })
        );
        assert_eq!(
            parse_line(br#"{"id":"x","method":"item/tool/call","params":{}}"#),
            Some(Incoming::Request {
                id: json!("x"),
                method: "item/tool/call".into(),
                params: json!({})
            })
        );
        assert_eq!(
            parse_line(br#"{"method":"turn/started"}"#),
            Some(Incoming::Notification {
                method: "turn/started".into(),
                params: Value::Null
            })
        );
        assert!(matches!(
            parse_line(b"garbage {"),
            Some(Incoming::Unexpected(_))
        ));
        assert!(matches!(
            parse_line(b"[1,2]"),
            Some(Incoming::Unexpected(_))
        ));
        assert_eq!(parse_line(b"   "), None);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…[5 bytes truncated]");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
