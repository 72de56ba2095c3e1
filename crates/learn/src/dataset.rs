//! The supervised data of the imitation stage: states' features and the teacher's level for each,
//! filled by the optimum's own sessions ([`crate::imitation`]) and by DAgger's relabelled learner
//! states ([`crate::dagger`]). Its own module, so that both depend on it and not on each other.

/// `(features, label)` pairs, features row-major.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Feature width.
    pub dim: usize,
    /// `[len, dim]` features.
    pub features: Vec<f32>,
    /// Teacher level of every row.
    pub labels: Vec<usize>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no sample.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Appends another dataset of the same width.
    pub fn extend(&mut self, other: Dataset) {
        self.features.extend(other.features);
        self.labels.extend(other.labels);
    }
}
