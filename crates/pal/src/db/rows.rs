use std::sync::Arc;

use sqlx::Column;

use super::value::{Row, Value};
use crate::error::Result;

/// What a streaming query hands each row to.
pub(crate) type Each<'a> = &'a mut (dyn FnMut(Row) -> Result<()> + Send);

/// Driver rows to pal rows one at a time, as they arrive: the column names are
/// read from the first and shared by all.
#[derive(Default)]
pub(crate) struct RowBuilder {
    columns: Option<Arc<[String]>>,
}

impl RowBuilder {
    pub(crate) fn row<R: sqlx::Row>(&mut self, row: &R, value: impl Fn(&R, usize) -> Result<Value>) -> Result<Row> {
        let columns =
            self.columns.get_or_insert_with(|| row.columns().iter().map(|c| c.name().to_string()).collect()).clone();
        let values = (0..columns.len()).map(|i| value(row, i)).collect::<Result<Vec<_>>>()?;
        Ok(Row::new(columns, values))
    }
}
