//! Scale-out partitions (`--partition i/N`).
//!
//! A run can be split into N independent processes: partition `i` reads every unit of work
//! whose index `k` satisfies `k mod N = i` — export files in sorted path order, or
//! (day, shard) pairs of the DeploymentLogs table in (day, shard) order — and writes a
//! partial-aggregate JSON file. `merge` folds the partials and writes the same outputs a
//! single run would, byte for byte (see `marketplace_reports::aggregate`).

use std::fmt;
use std::str::FromStr;

/// Partition `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// This partition, `0..count`.
    pub index: usize,
    /// Number of partitions, ≥ 1.
    pub count: usize,
}

impl Partition {
    /// Whether unit of work `k` belongs to this partition.
    pub fn owns(self, k: usize) -> bool {
        k % self.count == self.index
    }
}

/// `--partition` text is not `i/N` with `0 ≤ i < N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("partition must be i/N with 0 <= i < N, got `{0}`")]
pub struct BadPartition(pub String);

impl FromStr for Partition {
    type Err = BadPartition;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadPartition(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Partition { index, count })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_parse_and_split_work_round_robin() {
        let p: Partition = "1/3".parse().expect("valid");
        assert_eq!((0..7).filter(|k| p.owns(*k)).collect::<Vec<_>>(), [1, 4]);
        for count in 1..=5 {
            for k in 0..50 {
                let owners = (0..count).filter(|&index| Partition { index, count }.owns(k)).count();
                assert_eq!(owners, 1, "unit {k} of {count} partitions has exactly one owner");
            }
        }
        for bad in ["3/3", "1", "a/2", "0/0"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }
}
