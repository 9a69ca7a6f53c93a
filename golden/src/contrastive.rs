//! The target-free local contrastive step (spec section 11; a project definition, the
//! paper names it without equations).
//!
//! Positive rows are real inputs; negative rows are the same inputs with their features
//! shuffled within each input tag group ([`corrupt`]), which keeps every group's values
//! but destroys where they sit. Each layer's *goodness* of a row is its activity
//! `sum_o h[o]^2`; its local error is the gradient of `h^2 / 2` with respect to the
//! pre-activation, `h * f'(z)`, with a plus sign on positive rows (Hebbian: raise the
//! activity) and a minus sign on negative rows (anti-Hebbian: lower it). Every layer then
//! runs the same budgeted, pheromone-gated local update on the combined batch; no error
//! crosses layers. Budget adaptation sees `-separation` as its loss, where the
//! separation is the scale-free contrast between the output layer's mean goodness on
//! positive and on negative rows ([`crate::network::Network::separation`]).

use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::rng::Mulberry32;

/// Negative rows: each row of `x` with its features shuffled (Fisher-Yates, draws from
/// `rng`) within each group of equal `tags`. Values never leave their group.
pub fn corrupt(x: &Matrix, tags: &[i64], rng: &mut Mulberry32) -> Result<Matrix> {
    if tags.len() != x.cols() {
        return Err(Error::invalid(
            "tags",
            format!("expected {} tags, got {}", x.cols(), tags.len()),
        ));
    }
    let mut groups: Vec<(i64, Vec<usize>)> = Vec::new();
    for (j, &t) in tags.iter().enumerate() {
        match groups.iter_mut().find(|(tag, _)| *tag == t) {
            Some((_, members)) => members.push(j),
            None => groups.push((t, vec![j])),
        }
    }
    let mut out = x.clone();
    let mut order = Vec::new();
    for r in 0..x.rows() {
        for (_, members) in &groups {
            order.clear();
            order.extend_from_slice(members);
            for i in (1..order.len()).rev() {
                let j = ((rng.next_f64() * (i + 1) as f64) as usize).min(i);
                order.swap(i, j);
            }
            for (&dst, &src) in members.iter().zip(&order) {
                out.row_mut(r)[dst] = x.row(r)[src];
            }
        }
    }
    Ok(out)
}

/// `(pos - neg) / (pos + neg)`, 0 when both are 0.
pub fn contrast(pos: f64, neg: f64) -> f64 {
    if pos + neg > 0.0 {
        (pos - neg) / (pos + neg)
    } else {
        0.0
    }
}

/// Mean over rows of `sum_o y[o]^2`.
pub fn mean_goodness(y: &Matrix) -> f64 {
    if y.rows() == 0 {
        return 0.0;
    }
    let total: f64 = (0..y.rows())
        .map(|r| y.row(r).iter().map(|v| v * v).sum::<f64>())
        .sum();
    total / y.rows() as f64
}
