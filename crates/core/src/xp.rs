//! The XP curve: RuneScape's, `XP(L) = floor(1/4 · Σ_{l=1}^{L-1} floor(l + 300·2^{l/7}))`.

use std::sync::OnceLock;

/// The highest level this table covers; a catalog's `max_level` may be lower, never higher.
pub const TABLE_MAX_LEVEL: u32 = 120;

fn table() -> &'static [u64] {
    static TABLE: OnceLock<Vec<u64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // table[i] is the XP needed for level i + 1.
        let mut table = Vec::with_capacity(TABLE_MAX_LEVEL as usize);
        let mut points = 0.0_f64;
        table.push(0);
        for level in 1..TABLE_MAX_LEVEL {
            let l = f64::from(level);
            points += (l + 300.0 * 2f64.powf(l / 7.0)).floor();
            table.push((points / 4.0).floor() as u64);
        }
        table
    })
}

/// Total XP needed to reach `level` (level 1 needs 0).
pub fn xp_for_level(level: u32) -> u64 {
    let index = level.clamp(1, TABLE_MAX_LEVEL) as usize - 1;
    table()[index]
}

/// The level reached with `xp`, capped at `max_level`.
pub fn level_for_xp(xp: u64, max_level: u32) -> u32 {
    let max = max_level.clamp(1, TABLE_MAX_LEVEL) as usize;
    // Levels reached are the table entries ≤ xp; the table rises strictly.
    let reached = table()[..max].partition_point(|&needed| needed <= xp);
    reached.max(1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_runescape_table() {
        assert_eq!(xp_for_level(1), 0);
        assert_eq!(xp_for_level(2), 83);
        assert_eq!(xp_for_level(10), 1_154);
        assert_eq!(xp_for_level(50), 101_333);
        assert_eq!(xp_for_level(92), 6_517_253);
        assert_eq!(xp_for_level(99), 13_034_431);
    }

    #[test]
    fn level_rises_exactly_at_each_threshold_and_caps() {
        assert_eq!(level_for_xp(0, 99), 1);
        assert_eq!(level_for_xp(82, 99), 1);
        assert_eq!(level_for_xp(83, 99), 2);
        assert_eq!(level_for_xp(13_034_430, 99), 98);
        assert_eq!(level_for_xp(13_034_431, 99), 99);
        assert_eq!(level_for_xp(u64::MAX, 99), 99);
        assert_eq!(level_for_xp(u64::MAX, 10), 10);
    }

    #[test]
    fn every_level_round_trips() {
        for level in 1..=99 {
            assert_eq!(level_for_xp(xp_for_level(level), 99), level);
        }
    }
}
