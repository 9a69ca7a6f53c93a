//! A dense row-major matrix of f64, the batch type of the reference.

use crate::error::{Error, Result};

/// A dense, row-major `rows x cols` matrix of f64: one row per batch sample.
///
/// The storage is one flat vector so that a batch is a single allocation and can be
/// resized in place between steps without allocating again.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// A `rows x cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// A matrix from a flat row-major vector; errors when the length is not `rows * cols`.
    pub fn from_flat(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(Error::invalid(
                "matrix",
                format!("{} values do not fill {rows} x {cols}", data.len()),
            ));
        }
        Ok(Self { rows, cols, data })
    }

    /// A matrix from nested rows, all of which must have `cols` values. `field` names the
    /// matrix in errors (`phases[0].x`).
    pub fn from_rows(rows: &[Vec<f64>], cols: usize, field: &str) -> Result<Self> {
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (r, row) in rows.iter().enumerate() {
            if row.len() != cols {
                return Err(Error::invalid(
                    format!("{field}[{r}]"),
                    format!("expected {cols} values, got {}", row.len()),
                ));
            }
            if let Some(c) = row.iter().position(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    format!("{field}[{r}][{c}]"),
                    "not a finite number",
                ));
            }
            data.extend_from_slice(row);
        }
        Ok(Self {
            rows: rows.len(),
            cols,
            data,
        })
    }

    /// Number of rows (batch samples).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (units).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The flat row-major storage.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The flat row-major storage, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Row `r`.
    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Row `r`, mutable.
    pub fn row_mut(&mut self, r: usize) -> &mut [f64] {
        &mut self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Rows `first..first + count` as a new matrix.
    pub fn row_block(&self, first: usize, count: usize) -> Result<Matrix> {
        if first + count > self.rows {
            return Err(Error::invalid(
                "rows",
                format!(
                    "rows {first}..{} of a {}-row matrix",
                    first + count,
                    self.rows
                ),
            ));
        }
        let data = self.data[first * self.cols..(first + count) * self.cols].to_vec();
        Ok(Matrix {
            rows: count,
            cols: self.cols,
            data,
        })
    }

    /// The rows as nested vectors (for serialisation).
    pub fn to_rows(&self) -> Vec<Vec<f64>> {
        (0..self.rows).map(|r| self.row(r).to_vec()).collect()
    }

    /// Writes the transpose into `out` (reusing its allocation).
    pub fn transpose_into(&self, out: &mut Matrix) {
        const B: usize = 8;
        let (rows, cols) = (self.rows, self.cols);
        out.reshape(cols, rows);
        // B source rows at a time: every write fills a contiguous run of B values, and
        // the B reads walk B sequential streams.
        let mut r0 = 0;
        while r0 + B <= rows {
            let src: [&[f64]; B] =
                std::array::from_fn(|q| &self.data[(r0 + q) * cols..(r0 + q + 1) * cols]);
            for (c, dst) in out.data.chunks_exact_mut(rows).enumerate() {
                for (d, row) in dst[r0..r0 + B].iter_mut().zip(&src) {
                    *d = row[c];
                }
            }
            r0 += B;
        }
        for r in r0..rows {
            let src = &self.data[r * cols..(r + 1) * cols];
            for (&v, dst) in src.iter().zip(out.data.chunks_exact_mut(rows)) {
                dst[r] = v;
            }
        }
    }

    /// The transpose as a new matrix.
    pub fn transpose(&self) -> Matrix {
        let mut out = Matrix::default();
        self.transpose_into(&mut out);
        out
    }

    /// Reshape to `rows x cols`, reusing the allocation; the contents are unspecified
    /// afterwards (callers overwrite them).
    pub(crate) fn reshape(&mut self, rows: usize, cols: usize) {
        self.rows = rows;
        self.cols = cols;
        self.data.resize(rows * cols, 0.0);
    }
}
