//! Unit layouts, tags and the fixed neighbourhoods of a layer (spec section 2).

use crate::error::{Error, Result};

/// How a population of units is laid out in the plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A line of `n` units at x = j/(n-1), y = 0.
    Line,
    /// A `rows x cols` grid, unit j at row j / cols, column j % cols.
    Grid {
        /// Number of rows.
        rows: usize,
        /// Number of columns.
        cols: usize,
    },
}

impl Shape {
    /// Parse the scenario form (`[n]` or `[rows, cols]`, or absent) for `count` units.
    /// The shape must describe exactly `count` units.
    pub fn parse(dims: Option<&[usize]>, count: usize, field: &str) -> Result<Self> {
        match dims {
            None => Ok(Shape::Line),
            Some([n]) if *n == count => Ok(Shape::Line),
            Some([n]) => Err(Error::invalid(
                field,
                format!("1-D shape [{n}] does not match {count} units"),
            )),
            Some([rows, cols]) if rows * cols == count && *rows > 0 => Ok(Shape::Grid {
                rows: *rows,
                cols: *cols,
            }),
            Some([rows, cols]) => Err(Error::invalid(
                field,
                format!("2-D shape [{rows}, {cols}] does not match {count} units"),
            )),
            Some(other) => Err(Error::invalid(
                field,
                format!("a shape has 1 or 2 dimensions, got {}", other.len()),
            )),
        }
    }

    /// Positions of `count` units in this layout.
    pub fn positions(self, count: usize) -> Vec<[f64; 2]> {
        match self {
            Shape::Line if count == 1 => vec![[0.0, 0.0]],
            Shape::Line => (0..count)
                .map(|j| [j as f64 / (count - 1) as f64, 0.0])
                .collect(),
            Shape::Grid { rows, cols } => {
                let row_den = rows.saturating_sub(1).max(1) as f64;
                let col_den = cols.saturating_sub(1).max(1) as f64;
                (0..rows * cols)
                    .map(|j| [(j / cols) as f64 / row_den, (j % cols) as f64 / col_den])
                    .collect()
            }
        }
    }

    /// Default tags with `tag_count` groups: contiguous blocks along the line, or bands
    /// of rows on a grid. `tag_count == 0` puts every unit in group 0.
    pub fn default_tags(self, count: usize, tag_count: usize) -> Vec<i64> {
        if tag_count == 0 {
            return vec![0; count];
        }
        // In u128 so that the product cannot overflow; the quotient is below tag_count,
        // which callers keep at or below MAX_TAG_COUNT, so it fits in i64.
        let group = |position: usize, extent: usize| {
            (position as u128 * tag_count as u128 / extent.max(1) as u128) as i64
        };
        match self {
            Shape::Line => (0..count).map(|j| group(j, count)).collect(),
            Shape::Grid { rows, cols } => (0..rows * cols).map(|j| group(j / cols, rows)).collect(),
        }
    }
}

/// Largest `tag_count` accepted (default tags are numbered below it).
pub const MAX_TAG_COUNT: usize = 1 << 31;

/// Euclidean distance between two unit positions.
pub fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    (dx * dx + dy * dy).sqrt()
}

/// Explicit tags if given (checked against the unit count), else the layout's defaults.
pub fn resolve_tags(
    explicit: Option<&[i64]>,
    shape: Shape,
    count: usize,
    tag_count: usize,
    field: &str,
) -> Result<Vec<i64>> {
    match explicit {
        Some(tags) if tags.len() == count => Ok(tags.to_vec()),
        Some(tags) => Err(Error::invalid(
            field,
            format!("expected {count} tags, got {}", tags.len()),
        )),
        None => Ok(shape.default_tags(count, tag_count)),
    }
}

/// The wiring of one layer: which input each slot reads, and which slots exist.
#[derive(Debug, Clone, PartialEq)]
pub struct Wiring {
    /// Slots per output, `K = min(max_neighbors, inputs)`.
    pub k: usize,
    /// Input index read by slot `o*K + k` (0 where the slot is invalid).
    pub neighbors: Vec<u32>,
    /// 1 where slot `o*K + k` is connected.
    pub mask: Vec<u8>,
}

/// Everything that determines a layer's wiring.
#[derive(Debug, Clone, Copy)]
pub struct WiringSpec<'a> {
    /// Input unit positions.
    pub input_positions: &'a [[f64; 2]],
    /// Output unit positions.
    pub output_positions: &'a [[f64; 2]],
    /// Input unit tags.
    pub input_tags: &'a [i64],
    /// Output unit tags.
    pub output_tags: &'a [i64],
    /// Upper bound on slots per output.
    pub max_neighbors: usize,
    /// Largest allowed |tag(o) - tag(j)|.
    pub tag_distance: u64,
    /// Optional Euclidean radius limiting candidates.
    pub connection_radius: Option<f64>,
}

/// Wire every output to its nearest tag-compatible inputs (spec section 2). `layer`
/// is only used to name the layer in errors.
pub fn wire(spec: &WiringSpec<'_>, layer: usize) -> Result<Wiring> {
    let inputs = spec.input_positions.len();
    let outputs = spec.output_positions.len();
    let k = spec.max_neighbors.min(inputs);
    let mut neighbors = vec![0u32; outputs * k];
    let mut mask = vec![0u8; outputs * k];
    let mut candidates: Vec<(usize, f64)> = Vec::with_capacity(inputs);
    for o in 0..outputs {
        let pos_o = spec.output_positions[o];
        let compatible =
            |j: usize| spec.output_tags[o].abs_diff(spec.input_tags[j]) <= spec.tag_distance;
        candidates.clear();
        candidates.extend(
            (0..inputs)
                .filter(|&j| compatible(j))
                .map(|j| (j, distance(pos_o, spec.input_positions[j])))
                .filter(|&(_, d)| spec.connection_radius.is_none_or(|r| d <= r)),
        );
        if candidates.is_empty() {
            // The radius left nothing: fall back to tag compatibility alone.
            candidates.extend(
                (0..inputs)
                    .filter(|&j| compatible(j))
                    .map(|j| (j, distance(pos_o, spec.input_positions[j]))),
            );
        }
        if candidates.is_empty() {
            return Err(Error::Topology {
                layer,
                output: o,
                message: "output unit has no tag-compatible input (adjust tag_count, tag_distance, input_tags or output_tags)".into(),
            });
        }
        // Stable: equal distances keep input order.
        candidates.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
        for (slot, &(j, _)) in candidates.iter().take(k).enumerate() {
            neighbors[o * k + slot] = j as u32;
            mask[o * k + slot] = 1;
        }
    }
    Ok(Wiring { k, neighbors, mask })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_positions_and_tags() {
        assert_eq!(Shape::Line.positions(1), vec![[0.0, 0.0]]);
        assert_eq!(
            Shape::Line.positions(3),
            vec![[0.0, 0.0], [0.5, 0.0], [1.0, 0.0]]
        );
        assert_eq!(Shape::Line.default_tags(8, 4), vec![0, 0, 1, 1, 2, 2, 3, 3]);
        assert_eq!(Shape::Line.default_tags(5, 2), vec![0, 0, 0, 1, 1]);
        assert_eq!(Shape::Line.default_tags(3, 0), vec![0, 0, 0]);
    }

    #[test]
    fn huge_tag_counts_do_not_overflow() {
        let tags = Shape::Line.default_tags(4, MAX_TAG_COUNT);
        assert_eq!(tags[0], 0);
        assert!(tags.windows(2).all(|w| w[0] < w[1]), "{tags:?}");
    }

    #[test]
    fn grid_positions_and_tags() {
        let g = Shape::Grid { rows: 2, cols: 3 };
        assert_eq!(
            g.positions(6),
            vec![
                [0.0, 0.0],
                [0.0, 0.5],
                [0.0, 1.0],
                [1.0, 0.0],
                [1.0, 0.5],
                [1.0, 1.0]
            ]
        );
        assert_eq!(g.default_tags(6, 2), vec![0, 0, 0, 1, 1, 1]);
        // A single row divides by max(rows-1, 1) = 1.
        assert_eq!(
            Shape::Grid { rows: 1, cols: 2 }.positions(2),
            vec![[0.0, 0.0], [0.0, 1.0]]
        );
    }

    #[test]
    fn shape_parse_rejects_mismatch() {
        assert!(Shape::parse(Some(&[2, 3]), 6, "s").is_ok());
        assert_eq!(
            Shape::parse(Some(&[2, 3]), 5, "network.input_shape")
                .unwrap_err()
                .to_string(),
            "network.input_shape: 2-D shape [2, 3] does not match 5 units"
        );
        assert!(Shape::parse(Some(&[1, 2, 3]), 6, "s").is_err());
        assert!(Shape::parse(Some(&[4]), 5, "s").is_err());
    }

    #[test]
    fn explicit_tags_must_match_count() {
        assert_eq!(
            resolve_tags(Some(&[0, 1]), Shape::Line, 3, 4, "network.input_tags")
                .unwrap_err()
                .to_string(),
            "network.input_tags: expected 3 tags, got 2"
        );
    }

    fn spec<'a>(
        ip: &'a [[f64; 2]],
        op: &'a [[f64; 2]],
        it: &'a [i64],
        ot: &'a [i64],
        k: usize,
        radius: Option<f64>,
    ) -> WiringSpec<'a> {
        WiringSpec {
            input_positions: ip,
            output_positions: op,
            input_tags: it,
            output_tags: ot,
            max_neighbors: k,
            tag_distance: 0,
            connection_radius: radius,
        }
    }

    #[test]
    fn nearest_first_with_stable_ties() {
        // Inputs at 0, .25, .5, .75, 1; output at .5: distances .5 .25 0 .25 .5.
        let ip = Shape::Line.positions(5);
        let op = [[0.5, 0.0]];
        let w = wire(&spec(&ip, &op, &[0; 5], &[0], 4, None), 0).unwrap();
        assert_eq!(w.k, 4);
        assert_eq!(w.neighbors, vec![2, 1, 3, 0]);
        assert_eq!(w.mask, vec![1, 1, 1, 1]);
    }

    #[test]
    fn tags_restrict_and_short_lists_leave_invalid_slots() {
        let ip = Shape::Line.positions(4);
        let op = Shape::Line.positions(2);
        let w = wire(&spec(&ip, &op, &[0, 0, 1, 1], &[0, 1], 3, None), 0).unwrap();
        assert_eq!(w.k, 3);
        assert_eq!(w.neighbors, vec![0, 1, 0, 3, 2, 0]);
        assert_eq!(w.mask, vec![1, 1, 0, 1, 1, 0]);
    }

    #[test]
    fn radius_limits_and_falls_back() {
        let ip = Shape::Line.positions(5);
        let op = [[0.0, 0.0], [0.0, 5.0]];
        let w = wire(&spec(&ip, &op, &[0; 5], &[0, 0], 5, Some(0.3)), 0).unwrap();
        // Output 0 reaches inputs 0 and 1 only; output 1 is out of range of all and falls
        // back to every tag-compatible input, nearest first.
        assert_eq!(&w.mask[..5], &[1, 1, 0, 0, 0]);
        assert_eq!(&w.neighbors[..2], &[0, 1]);
        assert_eq!(&w.mask[5..], &[1, 1, 1, 1, 1]);
        assert_eq!(&w.neighbors[5..], &[0, 1, 2, 3, 4]);
    }

    #[test]
    fn no_compatible_input_is_an_error() {
        let ip = Shape::Line.positions(2);
        let op = Shape::Line.positions(1);
        let err = wire(&spec(&ip, &op, &[0, 0], &[3], 2, None), 1).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("layer 1, output unit 0: output unit has no tag-compatible input"));
    }
}
