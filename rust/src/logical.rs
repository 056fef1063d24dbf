//! The logical type of a numeric attribute: what its stored integers or
//! floats mean (plain numbers, days since the epoch, or timestamp ticks), so
//! that DSL dates, timestamps and `WITHIN` convert to the column's own unit,
//! and the store file records it.

/// How a numeric column's values are read back: plain numbers, or days /
/// timestamps in a unit (so DSL dates and `WITHIN` can be converted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logical {
    Int,
    Float,
    /// Days since the epoch.
    Date,
    /// Ticks since the epoch, `ticks_per_second` of them a second (1, 1e3, 1e6, 1e9).
    Timestamp {
        ticks_per_second: i64,
    },
}

impl Logical {
    pub fn name(self) -> &'static str {
        match self {
            Logical::Int => "integer",
            Logical::Float => "float",
            Logical::Date => "date",
            Logical::Timestamp { .. } => "timestamp",
        }
    }

    pub fn code(self) -> (u8, i64) {
        match self {
            Logical::Int => (0, 0),
            Logical::Float => (1, 0),
            Logical::Date => (2, 0),
            Logical::Timestamp { ticks_per_second } => (3, ticks_per_second),
        }
    }

    pub fn from_code(code: u8, ticks_per_second: i64) -> Option<Self> {
        match code {
            0 => Some(Logical::Int),
            1 => Some(Logical::Float),
            2 => Some(Logical::Date),
            3 if [1, 1_000, 1_000_000, 1_000_000_000].contains(&ticks_per_second) => {
                Some(Logical::Timestamp { ticks_per_second })
            }
            _ => None,
        }
    }
}
