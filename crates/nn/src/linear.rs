//! Fully connected (dense) layer with parameter gradients.

use crate::init::{init_weights, Init};
use crate::rng::SplitMix64;

/// Callback used to walk parameters: `f(name, values, gradient)`, where `values` may be updated
/// in place and `gradient` is the accumulated gradient of the same shape.
pub type ParamVisitor<'a> = dyn FnMut(&str, &mut [f32], &[f32]) + 'a;

/// Dense layer `y = x W^T + b` with weights stored row-major as `[out, in]` and bias `[out]`.
///
/// Gradients are accumulated in `grad_weight` / `grad_bias` by [`Linear::backward`] until
/// [`Linear::zero_grad`] is called. Batched paths use `matrixmultiply::sgemm`, except forward
/// passes of 2-16 rows, which take a direct product with sgemm's bits (`few_rows`); the
/// single-sample path ([`Linear::forward_one`]) is a GEMV loop (in AVX registers where the CPU has
/// them, `one_row`, with the portable loop's bits), much faster at batch 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    in_dim: usize,
    out_dim: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
    grad_weight: Vec<f32>,
    grad_bias: Vec<f32>,
}

impl Linear {
    /// Creates a layer with weights drawn according to `init` from `rng` and zero bias.
    pub fn new(in_dim: usize, out_dim: usize, init: Init, rng: &mut SplitMix64) -> Self {
        let mut weight = vec![0.0; in_dim * out_dim];
        init_weights(&mut weight, out_dim, in_dim, init, rng);
        Self {
            in_dim,
            out_dim,
            weight,
            bias: vec![0.0; out_dim],
            grad_weight: vec![0.0; in_dim * out_dim],
            grad_bias: vec![0.0; out_dim],
        }
    }

    /// Number of input features.
    pub fn in_dim(&self) -> usize {
        self.in_dim
    }

    /// Number of output features.
    pub fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// Weight matrix, row-major `[out, in]`.
    pub fn weight(&self) -> &[f32] {
        &self.weight
    }

    /// Mutable weight matrix, row-major `[out, in]`.
    pub fn weight_mut(&mut self) -> &mut [f32] {
        &mut self.weight
    }

    /// Bias vector `[out]`.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// Mutable bias vector `[out]`.
    pub fn bias_mut(&mut self) -> &mut [f32] {
        &mut self.bias
    }

    /// Accumulated weight gradient, row-major `[out, in]`.
    pub fn grad_weight(&self) -> &[f32] {
        &self.grad_weight
    }

    /// Accumulated bias gradient `[out]`.
    pub fn grad_bias(&self) -> &[f32] {
        &self.grad_bias
    }

    /// Number of trainable parameters (`out * in + out`).
    pub fn num_params(&self) -> usize {
        self.weight.len() + self.bias.len()
    }

    /// Resets the accumulated gradients to zero.
    pub fn zero_grad(&mut self) {
        self.grad_weight.fill(0.0);
        self.grad_bias.fill(0.0);
    }

    /// Batched forward pass: `output[b, o] = bias[o] + sum_i input[b, i] * weight[o, i]`.
    ///
    /// # Panics
    /// If `input.len() != batch * in_dim` or `output.len() != batch * out_dim`.
    pub fn forward(&self, input: &[f32], batch: usize, output: &mut [f32]) {
        assert_eq!(
            input.len(),
            batch * self.in_dim,
            "Linear::forward input size"
        );
        assert_eq!(
            output.len(),
            batch * self.out_dim,
            "Linear::forward output size"
        );
        if batch == 1 {
            self.forward_one(input, output);
            return;
        }
        for row in output.chunks_exact_mut(self.out_dim) {
            row.copy_from_slice(&self.bias);
        }
        if batch == 0 || self.in_dim == 0 || self.out_dim == 0 {
            return;
        }
        if few_rows::applies(batch, self.in_dim) {
            few_rows::forward(input, batch, self.in_dim, &self.weight, output);
            return;
        }
        // C[B, out] = 1 * A[B, in] * W^T[in, out] + 1 * C (C pre-filled with the bias).
        gemm(
            batch,
            self.in_dim,
            self.out_dim,
            input,
            (self.in_dim as isize, 1),
            &self.weight,
            (1, self.in_dim as isize),
            1.0,
            output,
            (self.out_dim as isize, 1),
        );
    }

    /// Single-sample forward pass (GEMV loop, no allocation).
    ///
    /// # Panics
    /// If `input.len() != in_dim` or `output.len() != out_dim`.
    pub fn forward_one(&self, input: &[f32], output: &mut [f32]) {
        assert_eq!(input.len(), self.in_dim, "Linear::forward_one input size");
        assert_eq!(
            output.len(),
            self.out_dim,
            "Linear::forward_one output size"
        );
        if self.in_dim == 0 {
            output.copy_from_slice(&self.bias);
            return;
        }
        if one_row::applies() {
            one_row::forward(input, &self.weight, &self.bias, output);
            return;
        }
        for ((o, row), b) in output
            .iter_mut()
            .zip(self.weight.chunks_exact(self.in_dim))
            .zip(&self.bias)
        {
            *o = b + dot(row, input);
        }
    }

    /// Backward pass for a batch: accumulates `grad_weight += grad_output^T input` and
    /// `grad_bias += sum_b grad_output[b]`, and writes `grad_input = grad_output W` when
    /// `grad_input` is given.
    ///
    /// `input` must be the same input that produced the output whose gradient is `grad_output`.
    ///
    /// # Panics
    /// On buffer size mismatches.
    pub fn backward(
        &mut self,
        input: &[f32],
        grad_output: &[f32],
        batch: usize,
        grad_input: Option<&mut [f32]>,
    ) {
        assert_eq!(
            input.len(),
            batch * self.in_dim,
            "Linear::backward input size"
        );
        assert_eq!(
            grad_output.len(),
            batch * self.out_dim,
            "Linear::backward grad_output size"
        );
        for row in grad_output.chunks_exact(self.out_dim.max(1)) {
            for (gb, g) in self.grad_bias.iter_mut().zip(row) {
                *gb += g;
            }
        }
        if batch == 0 || self.in_dim == 0 || self.out_dim == 0 {
            if let Some(gi) = grad_input {
                gi.fill(0.0);
            }
            return;
        }
        // dW[out, in] += G^T[out, B] * X[B, in]
        gemm(
            self.out_dim,
            batch,
            self.in_dim,
            grad_output,
            (1, self.out_dim as isize),
            input,
            (self.in_dim as isize, 1),
            1.0,
            &mut self.grad_weight,
            (self.in_dim as isize, 1),
        );
        if let Some(gi) = grad_input {
            assert_eq!(
                gi.len(),
                batch * self.in_dim,
                "Linear::backward grad_input size"
            );
            // dX[B, in] = G[B, out] * W[out, in]
            gemm(
                batch,
                self.out_dim,
                self.in_dim,
                grad_output,
                (self.out_dim as isize, 1),
                &self.weight,
                (self.in_dim as isize, 1),
                0.0,
                gi,
                (self.in_dim as isize, 1),
            );
        }
    }

    /// Calls `f(name, param, grad)` for the weight (`"weight"`) and the bias (`"bias"`).
    pub(crate) fn visit_mut(&mut self, f: &mut ParamVisitor<'_>) {
        f("weight", &mut self.weight, &self.grad_weight);
        f("bias", &mut self.bias, &self.grad_bias);
    }
}

/// Safe wrapper around `matrixmultiply::sgemm`: `C = A B + beta C` with `A: [m, k]`,
/// `B: [k, n]`, `C: [m, n]`, each given with its (row, column) strides.
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (rsa, csa): (isize, isize),
    b: &[f32],
    (rsb, csb): (isize, isize),
    beta: f32,
    c: &mut [f32],
    (rsc, csc): (isize, isize),
) {
    // The slice lengths are checked against the exact extents implied by the strides, so sgemm
    // can only touch memory inside the three slices.
    let extent = |rows: usize, cols: usize, rs: isize, cs: isize| {
        (rows - 1) * rs as usize + (cols - 1) * cs as usize + 1
    };
    assert!(m > 0 && k > 0 && n > 0);
    assert!(rsa > 0 && csa > 0 && rsb > 0 && csb > 0 && rsc > 0 && csc > 0);
    assert!(a.len() >= extent(m, k, rsa, csa), "gemm: A too small");
    assert!(b.len() >= extent(k, n, rsb, csb), "gemm: B too small");
    assert!(c.len() >= extent(m, n, rsc, csc), "gemm: C too small");
    sgemm_checked(m, k, n, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
}

/// One of the crate's three `unsafe` places (the others: `few_rows`, `one_row`): `matrixmultiply::sgemm` is an
/// `unsafe fn` taking raw pointers and strides. Callers go through [`gemm`], which checks every
/// extent first.
#[allow(clippy::too_many_arguments, unsafe_code)]
#[inline]
fn sgemm_checked(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    rsa: isize,
    csa: isize,
    b: &[f32],
    rsb: isize,
    csb: isize,
    beta: f32,
    c: &mut [f32],
    rsc: isize,
    csc: isize,
) {
    // SAFETY: see `gemm`: all accessed elements lie within the slices.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            rsc,
            csc,
        );
    }
}

/// The forward pass of a few rows (one decision of a ladder-agnostic policy: one row per level)
/// without `matrixmultiply`, which packs both operands into fresh aligned buffers on every call:
/// for a dozen rows that packing cost more than the product (over a third of policy iteration's
/// time). Bit-identical to `matrixmultiply`'s fused kernels, which this path replaces only where
/// they run: each output is `fma(a_k, w_k, acc)` over `k` in order from zero (within one `KC`
/// block), then `acc + bias`, as their kernel and epilogue compute it with `alpha = beta = 1`.
/// Where the CPU lacks FMA, `matrixmultiply` multiplies and adds separately, and so does every
/// call there (this path is off), so a seed trains the same network as before on every machine.
mod few_rows {
    /// Most rows computed here (one 16-lane accumulator per output).
    pub const MAX_ROWS: usize = 16;
    /// Longest inner dimension: `matrixmultiply`'s `KC` (256), within which it sums in one pass.
    pub const MAX_DEPTH: usize = 256;
    /// Outputs accumulated side by side (independent chains hide the FMA latency).
    const OUTPUTS_AT_ONCE: usize = 4;

    /// Whether a `rows x depth` input takes this path: few rows, one pass, and a CPU on which
    /// `matrixmultiply` uses a fused kernel (AVX-512F, or AVX2 with FMA).
    pub fn applies(rows: usize, depth: usize) -> bool {
        rows <= MAX_ROWS && depth <= MAX_DEPTH && fused()
    }

    #[cfg(target_arch = "x86_64")]
    fn fused() -> bool {
        std::is_x86_feature_detected!("avx512f")
            || (std::is_x86_feature_detected!("fma") && std::is_x86_feature_detected!("avx2"))
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn fused() -> bool {
        false
    }

    /// `output[r, o] = fma-sum_k input[r, k] * weight[o, k] + output[r, o]` (output holds the
    /// bias), for `rows <= MAX_ROWS`, `depth <= MAX_DEPTH`, where [`applies`] said so.
    #[cfg(target_arch = "x86_64")]
    pub fn forward(input: &[f32], rows: usize, depth: usize, weight: &[f32], output: &mut [f32]) {
        assert!(applies(rows, depth) && input.len() == rows * depth);
        let out_dim = output.len() / rows;
        assert!(weight.len() == out_dim * depth && output.len() == rows * out_dim);
        // The input transposed: one 16-lane row per k (lanes past `rows` stay zero).
        let mut at = vec![[0.0f32; MAX_ROWS]; depth];
        for (r, row) in input.chunks_exact(depth).enumerate() {
            for (k, &x) in row.iter().enumerate() {
                at[k][r] = x;
            }
        }
        let mut o = 0;
        while o < out_dim {
            let n = OUTPUTS_AT_ONCE.min(out_dim - o);
            let mut sums = [[0.0f32; MAX_ROWS]; OUTPUTS_AT_ONCE];
            let block = &weight[o * depth..(o + n) * depth];
            // SAFETY: `applies` checked that the CPU has AVX2 and FMA (every AVX-512F CPU does).
            #[allow(unsafe_code)]
            unsafe {
                match (n == OUTPUTS_AT_ONCE, rows <= 8) {
                    (true, true) => sums_fma::<OUTPUTS_AT_ONCE, 1>(&at, block, &mut sums),
                    (true, false) => sums_fma::<OUTPUTS_AT_ONCE, 2>(&at, block, &mut sums),
                    (false, _) => {
                        for t in 0..n {
                            let w = &block[t * depth..(t + 1) * depth];
                            sums_fma::<1, 2>(&at, w, std::slice::from_mut(&mut sums[t]));
                        }
                    }
                }
            }
            for (t, sum) in sums.iter().enumerate().take(n) {
                for (r, &a) in sum.iter().enumerate().take(rows) {
                    output[r * out_dim + o + t] += a;
                }
            }
            o += n;
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub fn forward(_: &[f32], _: usize, _: usize, _: &[f32], _: &mut [f32]) {
        unreachable!("few_rows::applies is false off x86_64")
    }

    /// `sums[t][r] = fma(at[k][r], w[t][k], ...)` over `k` in order from zero, for `T` outputs
    /// whose weights are the rows of `w` (`T x depth`), in `H` 8-lane registers per output (1:
    /// the first 8 rows only).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(unsafe_code)]
    unsafe fn sums_fma<const T: usize, const H: usize>(
        at: &[[f32; MAX_ROWS]],
        w: &[f32],
        sums: &mut [[f32; MAX_ROWS]],
    ) {
        use std::arch::x86_64::*;
        let depth = at.len();
        let mut acc = [[_mm256_setzero_ps(); H]; T];
        for (k, lanes) in at.iter().enumerate() {
            let mut a = [_mm256_setzero_ps(); H];
            for (h, a) in a.iter_mut().enumerate() {
                *a = _mm256_loadu_ps(lanes[8 * h..].as_ptr());
            }
            for (t, acc) in acc.iter_mut().enumerate() {
                let wk = _mm256_set1_ps(w[t * depth + k]);
                for h in 0..H {
                    acc[h] = _mm256_fmadd_ps(a[h], wk, acc[h]);
                }
            }
        }
        for (sum, acc) in sums.iter_mut().zip(&acc) {
            for (h, &v) in acc.iter().enumerate() {
                _mm256_storeu_ps(sum[8 * h..].as_mut_ptr(), v);
            }
        }
    }
}

/// [`Linear::forward_one`] in 8-lane AVX registers, four outputs at a time: for each output the
/// same eight partial sums as [`dot`] (lane `i` adds `w[k] * x[k]` for `k = i mod 8`, a multiply
/// then an add, from zero), finished by the same `finish_dot`, then the bias added as it is, so
/// the bits are [`dot`]'s on every machine. The compiler vectorised [`dot`] into shuffles on
/// every step (it pairs the lanes as the reduction does), which cost most of a fixed-ladder
/// training's forward passes.
mod one_row {
    /// Outputs accumulated side by side (their loads of the input are shared).
    const OUTPUTS_AT_ONCE: usize = 4;

    /// Whether the CPU has AVX (detected once, then a cached test).
    #[cfg(target_arch = "x86_64")]
    pub fn applies() -> bool {
        std::is_x86_feature_detected!("avx")
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub fn applies() -> bool {
        false
    }

    /// `output[o] = bias[o] + dot(weight[o], input)`, bit for bit, where [`applies`] said so.
    #[cfg(target_arch = "x86_64")]
    pub fn forward(input: &[f32], weight: &[f32], bias: &[f32], output: &mut [f32]) {
        let depth = input.len();
        assert!(applies() && depth > 0);
        assert!(weight.len() == output.len() * depth && bias.len() == output.len());
        let body = depth - depth % 8;
        let mut o = 0;
        while o < output.len() {
            let n = OUTPUTS_AT_ONCE.min(output.len() - o);
            let mut lanes = [[0.0f32; 8]; OUTPUTS_AT_ONCE];
            let block = &weight[o * depth..(o + n) * depth];
            // SAFETY: `applies` checked that the CPU has AVX; every load is within `input` or
            // `block` (`body` is a multiple of 8 no larger than `depth`).
            #[allow(unsafe_code)]
            unsafe {
                if n == OUTPUTS_AT_ONCE {
                    partial_sums::<OUTPUTS_AT_ONCE>(input, block, body, &mut lanes);
                } else {
                    for t in 0..n {
                        let w = &block[t * depth..(t + 1) * depth];
                        partial_sums::<1>(input, w, body, std::slice::from_mut(&mut lanes[t]));
                    }
                }
            }
            for (t, acc) in lanes.iter().enumerate().take(n) {
                let w = &block[t * depth..(t + 1) * depth];
                output[o + t] = bias[o + t] + super::finish_dot(acc, &w[body..], &input[body..]);
            }
            o += n;
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub fn forward(_: &[f32], _: &[f32], _: &[f32], _: &mut [f32]) {
        unreachable!("one_row::applies is false off x86_64")
    }

    /// `lanes[t][i] = Σ w[t][k] * x[k]` over `k < body`, `k = i mod 8`, in order from zero, for
    /// `T` outputs whose weights are the rows of `w` (`T x depth`).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    #[allow(unsafe_code)]
    unsafe fn partial_sums<const T: usize>(
        x: &[f32],
        w: &[f32],
        body: usize,
        lanes: &mut [[f32; 8]],
    ) {
        use std::arch::x86_64::*;
        let depth = x.len();
        let mut acc = [_mm256_setzero_ps(); T];
        let mut k = 0;
        while k < body {
            let xk = _mm256_loadu_ps(x[k..k + 8].as_ptr());
            for (t, acc) in acc.iter_mut().enumerate() {
                let wk = _mm256_loadu_ps(w[t * depth + k..t * depth + k + 8].as_ptr());
                *acc = _mm256_add_ps(*acc, _mm256_mul_ps(wk, xk));
            }
            k += 8;
        }
        for (lane, acc) in lanes.iter_mut().zip(&acc) {
            _mm256_storeu_ps(lane.as_mut_ptr(), *acc);
        }
    }
}

/// Dot product with 8 independent accumulators so the compiler can vectorise it.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut acc = [0.0f32; 8];
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    finish_dot(&acc, ra, rb)
}

/// The end of [`dot`], shared with `one_row` so that both reduce in one order: the eight partial
/// sums pairwise, then the tail (`a_tail[k] * b_tail[k]`, in order) added one by one.
#[inline]
fn finish_dot(acc: &[f32; 8], a_tail: &[f32], b_tail: &[f32]) -> f32 {
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in a_tail.iter().zip(b_tail) {
        s += x * y;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The few-rows path gives `matrixmultiply`'s bits on every shape it takes (where it runs).
    #[test]
    fn few_rows_forward_is_bit_identical_to_sgemm() {
        let mut rng = SplitMix64::new(17);
        let mut checked = 0;
        for case in 0..400 {
            let rows = 2 + case % (few_rows::MAX_ROWS - 1);
            let depth = [1, 3, 8, 17, 40, 64, 129, 256][case % 8];
            let out = [1, 4, 5, 64, 67, 128][case % 6];
            if !few_rows::applies(rows, depth) {
                continue;
            }
            let mut draw = |n: usize, scale: f32| -> Vec<f32> {
                (0..n)
                    .map(|_| (rng.next_f64() as f32 * 2.0 - 1.0) * scale)
                    .collect()
            };
            let input = draw(rows * depth, 3.0);
            let weight = draw(out * depth, 0.5);
            let bias = draw(out, 1.0);
            let fill = || -> Vec<f32> { bias.iter().copied().cycle().take(rows * out).collect() };
            let mut direct = fill();
            few_rows::forward(&input, rows, depth, &weight, &mut direct);
            let mut packed = fill();
            gemm(
                rows,
                depth,
                out,
                &input,
                (depth as isize, 1),
                &weight,
                (1, depth as isize),
                1.0,
                &mut packed,
                (out as isize, 1),
            );
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&direct), bits(&packed), "{rows} x {depth} -> {out}");
            checked += 1;
        }
        // On a CPU without FMA the path is off and nothing is compared.
        if few_rows::applies(2, 1) {
            assert!(checked > 300, "{checked}");
        }
    }

    /// The AVX single-row path gives the portable loop's bits on every shape.
    #[test]
    fn one_row_forward_is_bit_identical_to_dot() {
        if !one_row::applies() {
            return; // Nothing to compare: forward_one is the portable loop itself.
        }
        let mut rng = SplitMix64::new(23);
        for case in 0..300 {
            let depth = [1, 5, 8, 9, 16, 23, 48, 64, 128, 131, 256][case % 11];
            let out = [1, 3, 4, 5, 6, 64, 67, 128][case % 8];
            let input: Vec<f32> = (0..depth).map(|_| rng.normal() as f32 * 3.0).collect();
            let weight: Vec<f32> = (0..depth * out).map(|_| rng.normal() as f32).collect();
            let bias: Vec<f32> = (0..out).map(|_| rng.normal() as f32).collect();
            let mut fast = vec![0.0f32; out];
            one_row::forward(&input, &weight, &bias, &mut fast);
            let portable: Vec<f32> = weight
                .chunks_exact(depth)
                .zip(&bias)
                .map(|(row, b)| b + dot(row, &input))
                .collect();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&portable), "{depth} -> {out}");
        }
    }
}
