//! The dense baseline of the experiments: a fully connected multi-layer perceptron
//! trained by ordinary backpropagation with plain (full-batch) gradient descent on the
//! same masked mean squared error as the LPN. It exists only to give the experiments a
//! comparison row, and is written here (no ML framework).

use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::network::{Activation, Network, OutputMask};
use crate::rng::Gaussian;

/// A dense MLP: every unit of a layer reads every unit of the previous one.
#[derive(Debug, Clone)]
pub struct DenseMlp {
    sizes: Vec<usize>,
    /// Per layer, `outputs x inputs`, row-major.
    weights: Vec<Matrix>,
    biases: Vec<Vec<f64>>,
    activation: Activation,
    learning_rate: f64,
}

impl DenseMlp {
    /// A network with layer sizes `sizes` (input first), hidden `activation`, linear
    /// output, weights `N(0, 1) / sqrt(fan_in)` from `seed`, zero biases.
    pub fn new(
        sizes: &[usize],
        activation: Activation,
        learning_rate: f64,
        seed: u32,
    ) -> Result<Self> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(Error::invalid(
                "sizes",
                "need at least an input and an output size, all positive",
            ));
        }
        if !learning_rate.is_finite() || learning_rate <= 0.0 {
            return Err(Error::invalid("learning_rate", "must be a positive number"));
        }
        let mut gaussian = Gaussian::new(seed);
        let weights = sizes
            .windows(2)
            .map(|w| {
                let scale = 1.0 / (w[0] as f64).sqrt();
                let data = (0..w[0] * w[1])
                    .map(|_| gaussian.sample() * scale)
                    .collect();
                Matrix::from_flat(w[1], w[0], data)
            })
            .collect::<Result<_>>()?;
        let biases = sizes[1..].iter().map(|&n| vec![0.0; n]).collect();
        Ok(DenseMlp {
            sizes: sizes.to_vec(),
            weights,
            biases,
            activation,
            learning_rate,
        })
    }

    /// Trainable parameters of `inputs -> hidden -> outputs` (no hidden layer when
    /// `hidden` is 0).
    pub fn parameters_of(inputs: usize, hidden: usize, outputs: usize) -> usize {
        if hidden == 0 {
            inputs * outputs + outputs
        } else {
            inputs * hidden + hidden + hidden * outputs + outputs
        }
    }

    /// A one-hidden-layer network (or none) whose parameter count is closest to `target`;
    /// an error if the closest is more than 10% away from it.
    pub fn with_parameters_near(
        inputs: usize,
        outputs: usize,
        target: usize,
        activation: Activation,
        learning_rate: f64,
        seed: u32,
    ) -> Result<Self> {
        let best = (0..=target.max(1))
            .min_by_key(|&h| Self::parameters_of(inputs, h, outputs).abs_diff(target))
            .unwrap_or(0);
        let count = Self::parameters_of(inputs, best, outputs);
        if count.abs_diff(target) * 10 > target {
            return Err(Error::invalid(
                "parameters",
                format!("no dense {inputs}-h-{outputs} network has within 10% of {target} parameters (closest: {count})"),
            ));
        }
        let sizes: Vec<usize> = if best == 0 {
            vec![inputs, outputs]
        } else {
            vec![inputs, best, outputs]
        };
        Self::new(&sizes, activation, learning_rate, seed)
    }

    /// The baseline for `net`: same inputs and outputs, a parameter count within 10% of
    /// the network's trainable parameters (see [`DenseMlp::with_parameters_near`]).
    pub fn matching(
        net: &Network,
        activation: Activation,
        learning_rate: f64,
        seed: u32,
    ) -> Result<Self> {
        let params = net.trainable_parameters();
        Self::with_parameters_near(
            net.inputs(),
            net.outputs(),
            params,
            activation,
            learning_rate,
            seed,
        )
    }

    /// Layer sizes, input first.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Number of trainable parameters (weights and biases).
    pub fn parameter_count(&self) -> usize {
        self.sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
    }

    /// Forward pass, keeping every layer's pre-activation and activation.
    fn forward_all(&self, x: &Matrix) -> Result<(Vec<Matrix>, Vec<Matrix>)> {
        if x.cols() != self.sizes[0] {
            return Err(Error::invalid(
                "x",
                format!("expected {} columns, got {}", self.sizes[0], x.cols()),
            ));
        }
        let n = self.weights.len();
        let mut acts = vec![x.clone()];
        let mut pres = Vec::with_capacity(n);
        for (l, (w, b)) in self.weights.iter().zip(&self.biases).enumerate() {
            let input = &acts[l];
            let mut z = Matrix::zeros(input.rows(), w.rows());
            for r in 0..input.rows() {
                for (o, &bias) in b.iter().enumerate() {
                    let mut acc = bias;
                    for (wi, xi) in w.row(o).iter().zip(input.row(r)) {
                        acc += wi * xi;
                    }
                    z.row_mut(r)[o] = acc;
                }
            }
            let mut a = z.clone();
            if l + 1 < n {
                for v in a.as_mut_slice() {
                    *v = self.activation.apply(*v);
                }
            }
            pres.push(z);
            acts.push(a);
        }
        Ok((pres, acts))
    }

    /// The network's output for `x`.
    pub fn forward(&self, x: &Matrix) -> Result<Matrix> {
        Ok(self.forward_all(x)?.1.pop().unwrap_or_default())
    }

    /// The same masked loss as [`Network::loss`].
    pub fn loss(&self, x: &Matrix, target: &Matrix, mask: Option<&[f64]>) -> Result<f64> {
        Ok(Network::loss(&self.forward(x)?, target, mask))
    }

    /// One full-batch gradient step on the masked loss; returns the loss before it.
    pub fn step(&mut self, x: &Matrix, target: &Matrix, mask: Option<&[f64]>) -> Result<f64> {
        let (pres, acts) = self.forward_all(x)?;
        let y = &acts[acts.len() - 1];
        let outputs = self.sizes[self.sizes.len() - 1];
        if target.rows() != x.rows() || target.cols() != outputs {
            return Err(Error::invalid(
                "target",
                format!("expected {} x {outputs}", x.rows()),
            ));
        }
        if mask.is_some_and(|m| m.len() != outputs) {
            return Err(Error::invalid(
                "output_mask",
                format!("expected {outputs} values"),
            ));
        }
        let om = mask.map_or(OutputMask::All, OutputMask::Shared);
        let loss = Network::masked_loss(y, target, om, x.rows());
        // dL/dy: 2 m (y - t) / W, with W the count or the mask's total weight (>= 1).
        let denominator = match mask {
            None => (x.rows() * outputs) as f64,
            Some(m) => (m.iter().sum::<f64>() * x.rows() as f64).max(1.0),
        };
        let mut delta = Matrix::zeros(x.rows(), outputs);
        for r in 0..x.rows() {
            for o in 0..outputs {
                let m = om.row(r).map_or(1.0, |m| m[o]);
                delta.row_mut(r)[o] = 2.0 * m * (y.row(r)[o] - target.row(r)[o]) / denominator;
            }
        }
        for l in (0..self.weights.len()).rev() {
            let input = &acts[l];
            let w = &self.weights[l];
            // Gradient to pass down, computed with the weights before this update.
            let mut below = Matrix::zeros(x.rows(), w.cols());
            if l > 0 {
                for r in 0..x.rows() {
                    for (o, &d) in delta.row(r).iter().enumerate() {
                        for (b, wi) in below.row_mut(r).iter_mut().zip(w.row(o)) {
                            *b += d * wi;
                        }
                    }
                    for (b, (&z, &a)) in below
                        .row_mut(r)
                        .iter_mut()
                        .zip(pres[l - 1].row(r).iter().zip(acts[l].row(r)))
                    {
                        *b *= self.activation.derivative(z, a);
                    }
                }
            }
            let (w, bias) = (&mut self.weights[l], &mut self.biases[l]);
            for r in 0..x.rows() {
                for (o, &d) in delta.row(r).iter().enumerate() {
                    bias[o] -= self.learning_rate * d;
                    for (wi, &xi) in w.row_mut(o).iter_mut().zip(input.row(r)) {
                        *wi -= self.learning_rate * d * xi;
                    }
                }
            }
            delta = below;
        }
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (Matrix, Matrix) {
        let x = Matrix::from_flat(
            4,
            3,
            vec![
                0.1, -0.4, 0.7, 0.9, 0.2, -0.3, -0.5, 0.6, 0.1, 0.3, 0.3, 0.3,
            ],
        )
        .unwrap();
        let t = Matrix::from_flat(4, 2, vec![0.2, -0.1, 0.5, 0.4, -0.3, 0.1, 0.0, 0.2]).unwrap();
        (x, t)
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (x, t) = data();
        for mask in [None, Some(vec![1.0, 0.5])] {
            let base = DenseMlp::new(&[3, 4, 2], Activation::Tanh, 1.0, 9).unwrap();
            // With learning rate 1 the step moves each weight by minus its gradient.
            let mut stepped = base.clone();
            stepped.step(&x, &t, mask.as_deref()).unwrap();
            for l in 0..2 {
                for i in 0..base.weights[l].as_slice().len() {
                    let h = 1e-6;
                    let mut plus = base.clone();
                    plus.weights[l].as_mut_slice()[i] += h;
                    let mut minus = base.clone();
                    minus.weights[l].as_mut_slice()[i] -= h;
                    let numeric = (plus.loss(&x, &t, mask.as_deref()).unwrap()
                        - minus.loss(&x, &t, mask.as_deref()).unwrap())
                        / (2.0 * h);
                    let analytic = base.weights[l].as_slice()[i] - stepped.weights[l].as_slice()[i];
                    assert!(
                        (numeric - analytic).abs() < 1e-7,
                        "layer {l} weight {i}: {numeric} vs {analytic}"
                    );
                }
            }
        }
    }

    #[test]
    fn learns_and_matches_parameter_budgets() {
        let (x, t) = data();
        let mut net = DenseMlp::new(&[3, 8, 2], Activation::Tanh, 0.3, 1).unwrap();
        let first = net.step(&x, &t, None).unwrap();
        let mut last = first;
        for _ in 0..500 {
            last = net.step(&x, &t, None).unwrap();
        }
        assert!(last < 0.05 * first, "{first} -> {last}");
        let m = DenseMlp::with_parameters_near(16, 4, 100, Activation::Tanh, 0.1, 0).unwrap();
        assert_eq!(m.sizes(), &[16, 5, 4]); // 16*5 + 5 + 5*4 + 4 = 109, closest to 100
        assert_eq!(m.parameter_count(), 109);
        assert!(DenseMlp::with_parameters_near(16, 4, 30, Activation::Tanh, 0.1, 0).is_err());
    }
}
