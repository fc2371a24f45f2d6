//! Turning one raw payload (JSON, CSV or XML) into records: one JSON object per report
//! row, whatever the wire format, so field mapping has a single shape to read.

use cutover_plan::sources::Format;
use serde_json::{Map, Value};

use crate::PullError;

/// A decoded page: the body (JSON only, for paging and truncation paths) and its records.
pub(crate) struct Parsed {
    pub root: Option<Value>,
    pub records: Vec<Value>,
}

/// Looks up a dot path (`a.b.0.c`); an empty path is the value itself.
pub(crate) fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(v);
    }
    // A key that contains dots itself (a CSV header "Amount (e.g. EUR)") wins.
    if let Value::Object(m) = v
        && let Some(found) = m.get(path)
    {
        return Some(found);
    }
    let mut cur = v;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn take(v: &mut Value, path: &str) -> Option<Value> {
    if path.is_empty() {
        return Some(v.take());
    }
    let mut cur = v;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get_mut(seg)?,
            Value::Array(a) => a.get_mut(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur.take())
}

pub(crate) fn parse(format: &Format, body: &[u8], page: u32) -> Result<Parsed, PullError> {
    // A UTF-8 byte order mark (Excel's CSV, some XML) is not part of the data.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match format {
        Format::Json { rows } => json(body, rows, page),
        Format::Csv { delimiter } => csv(body, *delimiter, page),
        Format::Xml { rows } => xml(body, rows, page),
    }
}

fn json(body: &[u8], rows: &str, page: u32) -> Result<Parsed, PullError> {
    let mut root: Value = serde_json::from_slice(body).map_err(|e| PullError::Decode {
        page,
        message: format!("the body is not valid JSON ({e})"),
    })?;
    let found = take(&mut root, rows).ok_or_else(|| PullError::RowPath {
        page,
        path: rows.to_owned(),
        message: "is not in the body".to_owned(),
    })?;
    let records = match found {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        // Some APIs key rows by id: take the values in order.
        Value::Object(m) => m.into_iter().map(|(_, v)| v).collect(),
        other => {
            return Err(PullError::RowPath {
                page,
                path: rows.to_owned(),
                message: format!("is not a list (found {})", kind(&other)),
            });
        }
    };
    if records.iter().any(|r| !r.is_object()) {
        return Err(PullError::RowPath {
            page,
            path: rows.to_owned(),
            message: "holds items that are not objects".to_owned(),
        });
    }
    Ok(Parsed {
        root: Some(root),
        records,
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn csv(body: &[u8], delimiter: u8, page: u32) -> Result<Parsed, PullError> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .from_reader(body);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| PullError::Decode {
            page,
            message: format!("bad CSV header ({e})"),
        })?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut records = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| PullError::Decode {
            page,
            message: format!("bad CSV at data line {} ({e})", i + 1),
        })?;
        let mut m = Map::with_capacity(headers.len());
        for (h, v) in headers.iter().zip(rec.iter()) {
            m.insert(h.clone(), Value::String(v.to_owned()));
        }
        records.push(Value::Object(m));
    }
    Ok(Parsed {
        root: None,
        records,
    })
}

fn xml(body: &[u8], rows: &str, page: u32) -> Result<Parsed, PullError> {
    let text = std::str::from_utf8(body).map_err(|_| PullError::Decode {
        page,
        message: "the body is not UTF-8".to_owned(),
    })?;
    let doc = roxmltree::Document::parse(text).map_err(|e| PullError::Decode {
        page,
        message: format!("the body is not valid XML ({e})"),
    })?;
    // `row` matches every element named so; `Cube/Cube/Cube` every element whose own
    // name and its ancestors' end in that chain (local names, namespaces ignored).
    let chain: Vec<&str> = rows.split('/').filter(|s| !s.is_empty()).collect();
    let matches = |n: &roxmltree::Node<'_, '_>| -> bool {
        let mut cur = Some(*n);
        for want in chain.iter().rev() {
            match cur {
                Some(c) if c.is_element() && c.tag_name().name() == *want => {
                    cur = c.parent();
                }
                _ => return false,
            }
        }
        true
    };
    let mut records = Vec::new();
    for node in doc.descendants().filter(|n| n.is_element() && matches(n)) {
        let mut m = Map::new();
        for a in node.attributes() {
            m.insert(
                format!("@{}", a.name()),
                Value::String(a.value().to_owned()),
            );
        }
        // Attributes of enclosing elements the row does not have itself are inherited,
        // nearest first (the ECB's `<Cube time=..>` around its `<Cube currency=..>`).
        for anc in node.ancestors().skip(1).filter(|a| a.is_element()) {
            for a in anc.attributes() {
                m.entry(format!("@{}", a.name()))
                    .or_insert_with(|| Value::String(a.value().to_owned()));
            }
        }
        for child in node.children().filter(|c| c.is_element()) {
            let text = child.text().unwrap_or("").trim().to_owned();
            m.insert(child.tag_name().name().to_owned(), Value::String(text));
        }
        records.push(Value::Object(m));
    }
    if records.is_empty() && !doc.descendants().any(|n| n.is_element()) {
        return Err(PullError::Decode {
            page,
            message: "the XML document is empty".to_owned(),
        });
    }
    Ok(Parsed {
        root: None,
        records,
    })
}
