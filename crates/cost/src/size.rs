//! DynamoDB's item size rules (DynamoDB Developer Guide, "DynamoDB item sizes and formats"), and
//! the capacity units a size costs (one write unit per 1 KB, one strongly consistent read unit
//! per 4 KB: the same guide's capacity pages).

use aws_sdk_dynamodb::types::AttributeValue;
use idle_aws::Item;

/// Bytes of an item as DynamoDB bills it: each attribute's name length plus its value's size.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, v)| name.len() + value_size(v))
        .sum()
}

/// A value's size: strings and binaries their length (UTF-8 bytes), numbers about one byte per
/// two significant digits plus one, booleans and nulls one byte, maps and lists three bytes plus
/// their elements, each element with one byte of overhead (a map's element includes its key's
/// length).
pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// `(significant digits + 1) / 2 + 1`: leading and trailing zeros, the sign and the point do not
/// count.
pub fn number_size(n: &str) -> usize {
    let digits: String = n.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.max(1).div_ceil(2) + 1
}

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
    fn sizes_follow_dynamodbs_rules() {
        assert_eq!(number_size("0"), 2);
        assert_eq!(number_size("12345"), 4);
        assert_eq!(number_size("-1200"), 2);
        assert_eq!(number_size("1800000000000"), 2);
        let item = Item::from([
            ("id".to_owned(), AttributeValue::S("héllo".into())),
            ("n".to_owned(), AttributeValue::N("123".into())),
            ("ok".to_owned(), AttributeValue::Bool(true)),
            (
                "l".to_owned(),
                AttributeValue::L(vec![
                    AttributeValue::Null(true),
                    AttributeValue::S("ab".into()),
                ]),
            ),
        ]);
        // 2+6 + 1+3 + 2+1 + 1+(3 + 1+1 + 1+2)
        assert_eq!(item_size(&item), 24);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(read_units(4097), 2);
        assert_eq!(read_units(0), 1);
    }
}
