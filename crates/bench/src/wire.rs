//! floor-wire: the changed cells as packed fixed-size tuples (journal, lesson, student as
//! indexes both sides are assumed to share; status, grade, hours), zstd-compressed, sent in
//! one request. No ids, no history, no metadata: the least any sync could send.

use std::collections::HashMap;

use anyhow::{Result, anyhow};
use daftar_core::model::{Attendance, MarkValue};

/// Bytes per packed cell: journal u16, lesson u16, student u32, status u8, grade u8, hours u8.
pub const TUPLE_BYTES: usize = 11;

/// Turns ids into small integers (both sides of floor-wire are assumed to know the mapping).
#[derive(Debug, Default)]
pub struct Interner {
    ids: HashMap<String, u32>,
}

impl Interner {
    pub fn id(&mut self, s: &str) -> u32 {
        let n = self.ids.len() as u32;
        *self.ids.entry(s.to_string()).or_insert(n)
    }
}

/// One changed cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub journal: u16,
    pub lesson: u16,
    pub student: u32,
    pub status: u8,
    pub grade: u8,
    pub hours: u8,
}

impl Cell {
    pub fn new(
        ids: &mut Interner,
        journal: &str,
        lesson: &str,
        student: &str,
        m: &MarkValue,
    ) -> Cell {
        Cell {
            journal: ids.id(journal) as u16,
            lesson: ids.id(lesson) as u16,
            student: ids.id(student),
            status: match m.status {
                Attendance::Present => 0,
                Attendance::Absent => 1,
                Attendance::Excused => 2,
                Attendance::Late => 3,
            },
            grade: m.grade.unwrap_or(0).min(255) as u8,
            hours: m.hours.min(255) as u8,
        }
    }
}

pub fn pack(cells: &[Cell]) -> Vec<u8> {
    let mut out = Vec::with_capacity(cells.len() * TUPLE_BYTES);
    for c in cells {
        out.extend_from_slice(&c.journal.to_le_bytes());
        out.extend_from_slice(&c.lesson.to_le_bytes());
        out.extend_from_slice(&c.student.to_le_bytes());
        out.extend_from_slice(&[c.status, c.grade, c.hours]);
    }
    out
}

pub fn unpack(raw: &[u8]) -> Result<Vec<Cell>> {
    if !raw.len().is_multiple_of(TUPLE_BYTES) {
        return Err(anyhow!(
            "{} bytes is not a whole number of tuples",
            raw.len()
        ));
    }
    Ok(raw
        .chunks_exact(TUPLE_BYTES)
        .map(|b| Cell {
            journal: u16::from_le_bytes([b[0], b[1]]),
            lesson: u16::from_le_bytes([b[2], b[3]]),
            student: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            status: b[8],
            grade: b[9],
            hours: b[10],
        })
        .collect())
}

/// Packed and zstd-compressed (level 3, zstd's default).
pub fn compress(cells: &[Cell]) -> Result<Vec<u8>> {
    Ok(zstd::encode_all(&pack(cells)[..], 3)?)
}

pub fn decompress(bytes: &[u8]) -> Result<Vec<Cell>> {
    unpack(&zstd::decode_all(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_round_trip_through_zstd() {
        let mut ids = Interner::default();
        let mut m = MarkValue::new(Attendance::Present);
        m.grade = Some(91);
        let cells: Vec<Cell> = (0..100)
            .map(|i| Cell::new(&mut ids, "journal/a", "L001", &format!("s{i}"), &m))
            .collect();
        let z = compress(&cells).expect("compress");
        assert!(z.len() < cells.len() * TUPLE_BYTES);
        assert_eq!(decompress(&z).expect("decompress"), cells);
    }
}
