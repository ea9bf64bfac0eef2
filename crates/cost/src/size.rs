//! The capacity units an item's size costs (the size is `idle_aws::item_size`, the adapter's
//! own): one write unit per 1 KB, one strongly consistent read unit per 4 KB (DynamoDB
//! Developer Guide, "Read/write capacity mode").

/// Write units of one item: 1 per KB, rounded up, at least 1.
pub fn write_units(bytes: usize) -> u64 {
    bytes.div_ceil(1024).max(1) as u64
}

/// Read units of a strongly consistent read of `bytes`: 1 per 4 KB, rounded up, at least 1.
pub fn read_units(bytes: usize) -> u64 {
    bytes.div_ceil(4096).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_up_per_kb_and_per_4_kb() {
        assert_eq!(write_units(0), 1);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(read_units(4096), 1);
        assert_eq!(read_units(4097), 2);
        assert_eq!(read_units(0), 1);
    }
}
