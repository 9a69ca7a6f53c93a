//! Local replay (spec section 9; a project definition, the paper names it without
//! equations).
//!
//! A bounded buffer keeps past training rows `(x, target, output mask)`, chosen by
//! reservoir sampling so that every row offered so far has the same chance to be in it.
//! Replayed rows are mixed into a batch at a fixed ratio, and additionally after a
//! conflict: a step whose mode was neighbor-follow (its loss rose) makes the next batch
//! carry extra replayed rows. The network's per-layer update simply consumes the larger
//! batch, so everything stays local. All draws come from `mulberry32(seed)`.
//!
//! Only the fresh rows count in the loss that drives budget adaptation: otherwise the
//! replayed rows would change the loss, and the loss change would itself look like a
//! conflict.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::network::{Network, OutputMask, StepReport};
use crate::rng::Mulberry32;
use crate::Mode;

/// Replay settings (the `replay` object of a scenario; every key optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplayConfig {
    /// Rows the buffer keeps (default 256).
    pub capacity: usize,
    /// Replayed rows per fresh row on every step (default 0: only on conflict).
    pub ratio: f64,
    /// Extra replayed rows per fresh row on the step after a conflict (default 1).
    pub conflict_ratio: f64,
    /// Seed of the reservoir and of the row draws (default 0).
    pub seed: u32,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            capacity: 256,
            ratio: 0.0,
            conflict_ratio: 1.0,
            seed: 0,
        }
    }
}

impl ReplayConfig {
    /// Checks the settings; field names are the scenario keys.
    pub fn validate(&self) -> Result<()> {
        if self.capacity == 0 {
            return Err(Error::invalid("capacity", "must be at least 1"));
        }
        for (name, v) in [
            ("ratio", self.ratio),
            ("conflict_ratio", self.conflict_ratio),
        ] {
            if !v.is_finite() || !(0.0..=16.0).contains(&v) {
                return Err(Error::invalid(
                    name,
                    format!("must be between 0 and 16, got {v}"),
                ));
            }
        }
        Ok(())
    }

    /// Replayed rows for a batch of `rows` fresh rows, after a step in mode `previous`.
    pub fn rows_to_replay(&self, rows: usize, previous: Option<Mode>) -> usize {
        let mut ratio = self.ratio;
        if previous == Some(Mode::NeighborFollow) {
            ratio += self.conflict_ratio;
        }
        (ratio * rows as f64).round() as usize
    }
}

/// One stored row.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRow {
    /// Input values.
    pub x: Vec<f64>,
    /// Target values.
    pub target: Vec<f64>,
    /// Output weights the row was trained with (all ones without a mask).
    pub mask: Vec<f64>,
}

/// The replay buffer, with reusable scratch for the mixed batch.
#[derive(Debug, Clone)]
pub struct ReplayBuffer {
    config: ReplayConfig,
    rows: Vec<ReplayRow>,
    seen: u64,
    rng: Mulberry32,
    draws: Vec<usize>,
    x: Matrix,
    target: Matrix,
    mask: Matrix,
}

/// What a step with replay did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayStep {
    /// The network's report (its loss is over the fresh rows only).
    pub report: StepReport,
    /// Replayed rows mixed into the batch.
    pub replayed: usize,
}

impl ReplayBuffer {
    /// An empty buffer.
    pub fn new(config: ReplayConfig) -> Result<Self> {
        config.validate()?;
        let rng = Mulberry32::new(config.seed);
        Ok(ReplayBuffer {
            config,
            rows: Vec::new(),
            seen: 0,
            rng,
            draws: Vec::new(),
            x: Matrix::default(),
            target: Matrix::default(),
            mask: Matrix::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &ReplayConfig {
        &self.config
    }

    /// The stored rows.
    pub fn rows(&self) -> &[ReplayRow] {
        &self.rows
    }

    /// Rows offered so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Offers one row (reservoir sampling, Algorithm R): the first `capacity` rows are
    /// kept; row number n (1-based) then replaces a random slot with probability
    /// capacity / n.
    pub fn offer(&mut self, x: &[f64], target: &[f64], mask: &[f64]) {
        self.seen += 1;
        let row = || ReplayRow {
            x: x.to_vec(),
            target: target.to_vec(),
            mask: mask.to_vec(),
        };
        if self.rows.len() < self.config.capacity {
            self.rows.push(row());
        } else {
            let j = (self.rng.next_f64() * self.seen as f64) as u64;
            if (j as usize) < self.config.capacity {
                self.rows[j as usize] = row();
            }
        }
    }

    /// Draws `n` stored rows uniformly, with replacement, into `out` (indices).
    pub fn draw(&mut self, n: usize, out: &mut Vec<usize>) {
        out.clear();
        if self.rows.is_empty() {
            return;
        }
        let len = self.rows.len();
        out.extend((0..n).map(|_| ((self.rng.next_f64() * len as f64) as usize).min(len - 1)));
    }

    /// One training step of `net` on the fresh batch with replayed rows mixed in, after
    /// which the fresh rows are offered to the buffer. `previous` is the mode of the
    /// network's previous step (`None` before the first).
    pub fn step(
        &mut self,
        net: &mut Network,
        x: &Matrix,
        target: &Matrix,
        mask: Option<&[f64]>,
        previous: Option<Mode>,
    ) -> Result<ReplayStep> {
        let rows = x.rows();
        let outputs = net.outputs();
        let wanted = self.config.rows_to_replay(rows, previous);
        let mut draws = std::mem::take(&mut self.draws);
        self.draw(wanted, &mut draws);
        let replayed = draws.len();
        // Nothing to replay, or a batch that does not fit: the plain step (which reports
        // the exact shape or mask problem).
        let fits = x.cols() == net.inputs()
            && target.cols() == outputs
            && target.rows() == rows
            && mask.is_none_or(|m| m.len() == outputs);
        let report = if replayed == 0 || !fits {
            net.step(x, target, mask)?
        } else {
            let total = rows + replayed;
            self.x.reshape(total, x.cols());
            self.target.reshape(total, outputs);
            self.mask.reshape(total, outputs);
            for r in 0..rows {
                self.x.row_mut(r).copy_from_slice(x.row(r));
                self.target.row_mut(r).copy_from_slice(target.row(r));
                match mask {
                    Some(m) => self.mask.row_mut(r).copy_from_slice(m),
                    None => self.mask.row_mut(r).fill(1.0),
                }
            }
            for (q, &i) in draws.iter().enumerate() {
                let stored = &self.rows[i];
                if stored.x.len() != x.cols() || stored.target.len() != outputs {
                    return Err(Error::invalid(
                        "replay",
                        "stored rows do not fit this network",
                    ));
                }
                self.x.row_mut(rows + q).copy_from_slice(&stored.x);
                self.target
                    .row_mut(rows + q)
                    .copy_from_slice(&stored.target);
                self.mask.row_mut(rows + q).copy_from_slice(&stored.mask);
            }
            net.step_masked(&self.x, &self.target, OutputMask::PerRow(&self.mask), rows)?
        };
        self.draws = draws;
        let ones;
        let row_mask = match mask {
            Some(m) => m,
            None => {
                ones = vec![1.0; outputs];
                &ones
            }
        };
        for r in 0..rows {
            self.offer(x.row(r), target.row(r), row_mask);
        }
        Ok(ReplayStep { report, replayed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(capacity: usize, seed: u32) -> ReplayBuffer {
        ReplayBuffer::new(ReplayConfig {
            capacity,
            seed,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn capacity_is_a_bound_and_the_first_rows_fill_it() {
        let mut b = buffer(3, 1);
        for i in 0..3 {
            b.offer(&[i as f64], &[0.0], &[1.0]);
        }
        assert_eq!(
            b.rows().iter().map(|r| r.x[0]).collect::<Vec<_>>(),
            vec![0.0, 1.0, 2.0]
        );
        for i in 3..100 {
            b.offer(&[i as f64], &[0.0], &[1.0]);
        }
        assert_eq!(b.rows().len(), 3);
        assert_eq!(b.seen(), 100);
    }

    #[test]
    fn reservoir_is_uniform_over_the_stream() {
        // 2000 trials of a 10-row reservoir over 100 rows: each row should be kept with
        // probability 0.1, i.e. about 200 times.
        let mut kept = [0u32; 100];
        for trial in 0..2000 {
            let mut b = buffer(10, trial);
            for i in 0..100 {
                b.offer(&[i as f64], &[0.0], &[1.0]);
            }
            for r in b.rows() {
                kept[r.x[0] as usize] += 1;
            }
        }
        let (min, max) = (kept.iter().min().unwrap(), kept.iter().max().unwrap());
        assert!(*min > 140 && *max < 260, "min {min} max {max}");
        // Early and late rows alike.
        let early: u32 = kept[..50].iter().sum();
        let late: u32 = kept[50..].iter().sum();
        assert!(
            (early as f64 / late as f64 - 1.0).abs() < 0.1,
            "{early} vs {late}"
        );
    }

    #[test]
    fn same_seed_same_buffer_and_draws() {
        let run = |seed| {
            let mut b = buffer(5, seed);
            for i in 0..40 {
                b.offer(&[i as f64], &[0.0], &[1.0]);
            }
            let mut d = Vec::new();
            b.draw(8, &mut d);
            (b.rows().to_vec(), d)
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn conflict_adds_rows() {
        let c = ReplayConfig {
            ratio: 0.25,
            conflict_ratio: 1.0,
            ..Default::default()
        };
        assert_eq!(c.rows_to_replay(8, Some(Mode::Exploit)), 2);
        assert_eq!(c.rows_to_replay(8, Some(Mode::NeighborFollow)), 10);
        assert_eq!(c.rows_to_replay(8, None), 2);
        assert!(ReplayConfig {
            capacity: 0,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(ReplayConfig {
            ratio: -1.0,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
