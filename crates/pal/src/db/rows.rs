use std::sync::Arc;

use sqlx::Column;

use super::{Row, Value};
use crate::error::Result;

/// Turns driver rows into pal rows: column names are read once per result and
/// shared by every row; `value` decodes one column of one row.
pub(crate) fn collect<R: sqlx::Row>(rows: &[R], value: impl Fn(&R, usize) -> Result<Value>) -> Result<Vec<Row>> {
    let Some(first) = rows.first() else { return Ok(Vec::new()) };
    let columns: Arc<[String]> = first.columns().iter().map(|c| c.name().to_string()).collect();
    rows.iter()
        .map(|row| {
            let values = (0..columns.len()).map(|i| value(row, i)).collect::<Result<Vec<_>>>()?;
            Ok(Row::new(columns.clone(), values))
        })
        .collect()
}
