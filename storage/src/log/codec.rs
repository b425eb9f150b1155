//! Little-endian byte encoding of values and rows, used by WAL records.
//!
//! Value layout: one tag byte, then the payload.
//!
//! ```text
//! tag  value        payload
//! 0    NULL         -
//! 1    Bool         u8 (0 or 1)
//! 2    Int16        i16
//! 3    Int32        i32
//! 4    Int64        i64
//! 5    Float32      f32 bits
//! 6    Float64      f64 bits
//! 7    Decimal      i128
//! 8    Text         u32 length, UTF-8 bytes
//! 9    Bytes        u32 length, bytes
//! 10   Date         i32 days since epoch
//! 11   Timestamp    i64 microseconds since epoch
//! 12   TimestampTz  i64 microseconds since epoch, UTC
//! ```
//!
//! A row is a u16 value count followed by that many values. The decoder never
//! trusts a length: every read is bounds-checked and fails as `Corruption`.

use rustydb_common::limits::VALUE_BYTES_MAX;

use crate::error::{Result, StorageError};
use crate::value::{Row, Value};

/// Appends encodings to a byte buffer.
pub struct Encoder<'a>(pub &'a mut Vec<u8>);

impl Encoder<'_> {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bytes(&mut self, b: &[u8]) {
        let len = u32::try_from(b.len()).expect("values are capped at VALUE_BYTES_MAX < 4 GiB");
        self.u32(len);
        self.0.extend_from_slice(b);
    }

    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.u8(0),
            Value::Bool(b) => {
                self.u8(1);
                self.u8(u8::from(*b));
            }
            Value::Int16(x) => {
                self.u8(2);
                self.0.extend_from_slice(&x.to_le_bytes());
            }
            Value::Int32(x) => {
                self.u8(3);
                self.0.extend_from_slice(&x.to_le_bytes());
            }
            Value::Int64(x) => {
                self.u8(4);
                self.0.extend_from_slice(&x.to_le_bytes());
            }
            Value::Float32(x) => {
                self.u8(5);
                self.0.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            Value::Float64(x) => {
                self.u8(6);
                self.0.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            Value::Decimal(x) => {
                self.u8(7);
                self.0.extend_from_slice(&x.get().to_le_bytes());
            }
            Value::Text(s) => {
                self.u8(8);
                self.bytes(s.as_bytes());
            }
            Value::Bytes(b) => {
                self.u8(9);
                self.bytes(b);
            }
            Value::Date(x) => {
                self.u8(10);
                self.0.extend_from_slice(&x.to_le_bytes());
            }
            Value::Timestamp(x) => {
                self.u8(11);
                self.0.extend_from_slice(&x.to_le_bytes());
            }
            Value::TimestampTz(x) => {
                self.u8(12);
                self.0.extend_from_slice(&x.to_le_bytes());
            }
        }
    }

    pub fn row(&mut self, row: &[Value]) {
        let n = u16::try_from(row.len()).expect("tables are capped at TABLE_COLUMNS_MAX columns");
        self.u16(n);
        for v in row {
            self.value(v);
        }
    }
}

/// Reads encodings back, bounds-checked.
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder { buf, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| {
            StorageError::Corruption(format!("record ends early: need {n} bytes at offset {}", self.pos))
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        Ok(s.try_into().expect("take returned exactly N bytes"))
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        if len > VALUE_BYTES_MAX {
            return Err(StorageError::Corruption(format!("value of {len} bytes exceeds the limit")));
        }
        self.take(len)
    }

    pub fn value(&mut self) -> Result<Value> {
        Ok(match self.u8()? {
            0 => Value::Null,
            1 => Value::Bool(self.u8()? != 0),
            2 => Value::Int16(i16::from_le_bytes(self.array()?)),
            3 => Value::Int32(i32::from_le_bytes(self.array()?)),
            4 => Value::Int64(i64::from_le_bytes(self.array()?)),
            5 => Value::Float32(f32::from_bits(u32::from_le_bytes(self.array()?))),
            6 => Value::Float64(f64::from_bits(u64::from_le_bytes(self.array()?))),
            7 => Value::Decimal(i128::from_le_bytes(self.array()?).into()),
            8 => {
                let b = self.bytes()?;
                let s =
                    std::str::from_utf8(b).map_err(|_| StorageError::Corruption("text value is not UTF-8".into()))?;
                Value::Text(s.into())
            }
            9 => Value::Bytes(self.bytes()?.into()),
            10 => Value::Date(i32::from_le_bytes(self.array()?)),
            11 => Value::Timestamp(i64::from_le_bytes(self.array()?)),
            12 => Value::TimestampTz(i64::from_le_bytes(self.array()?)),
            t => return Err(StorageError::Corruption(format!("unknown value tag {t}"))),
        })
    }

    pub fn row(&mut self) -> Result<Row> {
        let n = self.u16()? as usize;
        (0..n).map(|_| self.value()).collect::<Result<Vec<_>>>().map(Vec::into_boxed_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_round_trips() {
        let row: Row = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int16(-2),
            Value::Int32(7),
            Value::Int64(i64::MIN),
            Value::Float32(1.5),
            Value::Float64(-0.25),
            Value::Decimal((-12345678901234567890123).into()),
            Value::Text("héllo".into()),
            Value::Bytes(vec![0, 255].into()),
            Value::Date(19000),
            Value::Timestamp(1),
            Value::TimestampTz(-1),
        ]
        .into();
        let mut buf = Vec::new();
        Encoder(&mut buf).row(&row);
        let mut d = Decoder::new(&buf);
        assert_eq!(d.row().unwrap(), row);
        assert!(d.is_empty());
    }

    #[test]
    fn truncated_input_is_corruption_not_panic() {
        let mut buf = Vec::new();
        Encoder(&mut buf).row(&[Value::Text("abcdef".into())]);
        for cut in 0..buf.len() {
            assert!(Decoder::new(&buf[..cut]).row().is_err());
        }
    }
}
