//! safetensors checkpoints for networks and optimiser state.
//!
//! Layout of a checkpoint file (all tensors little-endian, parameters `F32`):
//!
//! | tensor | shape | content |
//! |---|---|---|
//! | `<net>.<i>.weight` | `[out, in]` | weight of layer `i` of network `<net>` |
//! | `<net>.<i>.bias` | `[out]` | bias of layer `i` |
//! | `adam.m.<net>.<i>.weight` ... | same as the parameter | Adam first moment |
//! | `adam.v.<net>.<i>.weight` ... | same as the parameter | Adam second moment |
//! | `adam.t.<net>.<i>.weight` ... | `[1]`, `U64` | that tensor's own Adam step (its bias correction); absent in files from before it existed, which use `adam.step` |
//! | `adam.step` | `[1]`, `U64` | Adam step counter |
//! | `adam.hparams` | `[5]` | `lr, beta1, beta2, eps, max_grad_norm` (NaN = no clipping) |
//!
//! The safetensors metadata holds the caller's string pairs plus reserved `nn.*` keys:
//! `nn.format` and `nn.arch.<net>` (the [`MlpSpec`] as JSON), which lets [`load_networks`]
//! rebuild networks without knowing their shapes.

use crate::adam::{Adam, AdamConfig, Moments};
use crate::mlp::{Mlp, MlpSpec};
use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Value of the `nn.format` metadata key written by this crate.
pub const FORMAT_VERSION: &str = "neuralstream-nn/1";
const RESERVED_PREFIX: &str = "nn.";
const ARCH_PREFIX: &str = "nn.arch.";

/// Errors from saving or loading checkpoints. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading, writing or renaming the file failed.
    #[error("{}: I/O error: {source}", path.display())]
    Io {
        /// The checkpoint file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file, or serialisation failed.
    #[error("{}: invalid safetensors data: {source}", path.display())]
    Format {
        /// The checkpoint file.
        path: PathBuf,
        /// Underlying error.
        source: SafeTensorError,
    },
    /// A required tensor is absent.
    #[error("{}: missing tensor `{tensor}`", path.display())]
    MissingTensor {
        /// The checkpoint file.
        path: PathBuf,
        /// Name of the missing tensor.
        tensor: String,
    },
    /// A tensor has a different shape than the network expects.
    #[error("{}: tensor `{tensor}` has shape {found:?}, expected {expected:?}", path.display())]
    ShapeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// Name of the tensor.
        tensor: String,
        /// Shape required by the network / optimiser.
        expected: Vec<usize>,
        /// Shape stored in the file.
        found: Vec<usize>,
    },
    /// A tensor has an unexpected element type.
    #[error("{}: tensor `{tensor}` has dtype {found}, expected {expected}", path.display())]
    DtypeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// Name of the tensor.
        tensor: String,
        /// Required dtype.
        expected: String,
        /// Dtype stored in the file.
        found: String,
    },
    /// A metadata entry is missing or malformed, or a caller key uses the reserved `nn.` prefix.
    #[error("{}: metadata key `{key}`: {message}", path.display())]
    Metadata {
        /// The checkpoint file.
        path: PathBuf,
        /// The offending key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A parameter or optimiser tensor holds NaN or an infinity (a diverged or corrupted run):
    /// such a network would act on garbage, so it is refused.
    #[error("{}: tensor `{tensor}` holds {count} NaN or infinite values; the run that wrote it diverged or the file is corrupt, so retrain or use an earlier checkpoint", path.display())]
    NonFinite {
        /// The checkpoint file.
        path: PathBuf,
        /// Name of the tensor.
        tensor: String,
        /// How many of its values are not finite.
        count: usize,
    },
    /// A tensor holds values outside their meaning (e.g. optimiser settings out of range).
    #[error("{}: tensor `{tensor}`: {message}", path.display())]
    BadValue {
        /// The checkpoint file.
        path: PathBuf,
        /// Name of the tensor.
        tensor: String,
        /// What is wrong.
        message: String,
    },
    /// Two networks passed to [`save_safetensors`] share a name.
    #[error("{}: network name `{name}` used twice", path.display())]
    DuplicateName {
        /// The checkpoint file.
        path: PathBuf,
        /// The duplicated network name.
        name: String,
    },
}

/// Networks (and optimiser, if stored) rebuilt from a checkpoint by [`load_networks`].
#[derive(Debug, Clone)]
pub struct LoadedCheckpoint {
    /// Networks by name, with their parameters restored.
    pub networks: BTreeMap<String, Mlp>,
    /// Restored optimiser (hyper-parameters, step counter and moments), if the file has one.
    pub adam: Option<Adam>,
    /// Caller metadata (reserved `nn.*` keys removed).
    pub metadata: BTreeMap<String, String>,
}

/// One tensor to be written.
struct OwnedTensor {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn f32_bytes(xs: &[f32]) -> Vec<u8> {
    xs.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `nets` (each under its name), optionally `adam`'s full state, and `metadata` to a
/// safetensors file at `path`. The file is written to `<path>.tmp` and renamed into place, so a
/// crash never leaves a truncated checkpoint under the final name.
///
/// Caller metadata keys must not start with `nn.` (reserved).
pub fn save_safetensors(
    path: impl AsRef<Path>,
    nets: &[(&str, &Mlp)],
    adam: Option<&Adam>,
    metadata: &BTreeMap<String, String>,
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let mut meta: HashMap<String, String> = HashMap::new();
    for (k, v) in metadata {
        if k.starts_with(RESERVED_PREFIX) {
            return Err(CheckpointError::Metadata {
                path: path.to_owned(),
                key: k.clone(),
                message: "the `nn.` prefix is reserved".into(),
            });
        }
        meta.insert(k.clone(), v.clone());
    }
    meta.insert("nn.format".into(), FORMAT_VERSION.into());

    let mut tensors = Vec::new();
    for (i, (name, net)) in nets.iter().enumerate() {
        if nets[..i].iter().any(|(n, _)| n == name) {
            return Err(CheckpointError::DuplicateName {
                path: path.to_owned(),
                name: name.to_string(),
            });
        }
        let arch = serde_json::to_string(&net.spec()).expect("MlpSpec serialises");
        meta.insert(format!("{ARCH_PREFIX}{name}"), arch);
        for (pname, shape, data) in net.named_params() {
            let full = format!("{name}.{pname}");
            if let Some(adam) = adam {
                let (m, v, t) = match adam.state().get(&full) {
                    Some(mo) => (f32_bytes(&mo.m), f32_bytes(&mo.v), mo.step),
                    None => (vec![0u8; data.len() * 4], vec![0u8; data.len() * 4], 0),
                };
                tensors.push(OwnedTensor {
                    name: format!("adam.t.{full}"),
                    dtype: Dtype::U64,
                    shape: vec![1],
                    bytes: t.to_le_bytes().to_vec(),
                });
                for (kind, bytes) in [("m", m), ("v", v)] {
                    tensors.push(OwnedTensor {
                        name: format!("adam.{kind}.{full}"),
                        dtype: Dtype::F32,
                        shape: shape.clone(),
                        bytes,
                    });
                }
            }
            tensors.push(OwnedTensor {
                name: full,
                dtype: Dtype::F32,
                shape,
                bytes: f32_bytes(data),
            });
        }
    }
    if let Some(adam) = adam {
        let c = adam.config();
        let hp = [
            c.lr,
            c.beta1,
            c.beta2,
            c.eps,
            c.max_grad_norm.unwrap_or(f32::NAN),
        ];
        tensors.push(OwnedTensor {
            name: "adam.hparams".into(),
            dtype: Dtype::F32,
            shape: vec![hp.len()],
            bytes: f32_bytes(&hp),
        });
        tensors.push(OwnedTensor {
            name: "adam.step".into(),
            dtype: Dtype::U64,
            shape: vec![1],
            bytes: adam.steps().to_le_bytes().to_vec(),
        });
    }

    let format_err = |source| CheckpointError::Format {
        path: path.to_owned(),
        source,
    };
    let views = tensors
        .iter()
        .map(|t| TensorView::new(t.dtype, t.shape.clone(), &t.bytes).map(|v| (t.name.as_str(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(format_err)?;
    let bytes = safetensors::serialize(views, Some(meta)).map_err(format_err)?;

    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let io_err = |source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    };
    std::fs::write(&tmp, &bytes).map_err(io_err)?;
    std::fs::rename(&tmp, path).map_err(io_err)
}

/// Parsed checkpoint file with typed tensor accessors.
struct Reader<'a> {
    path: &'a Path,
    st: SafeTensors<'a>,
    metadata: HashMap<String, String>,
}

impl<'a> Reader<'a> {
    fn new(path: &'a Path, bytes: &'a [u8]) -> Result<Self, CheckpointError> {
        let format_err = |source| CheckpointError::Format {
            path: path.to_owned(),
            source,
        };
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(format_err)?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let st = SafeTensors::deserialize(bytes).map_err(format_err)?;
        Ok(Self { path, st, metadata })
    }

    fn view(&self, name: &str, dtype: Dtype) -> Result<TensorView<'a>, CheckpointError> {
        let view = self.st.tensor(name).map_err(|e| match e {
            SafeTensorError::TensorNotFound(_) => CheckpointError::MissingTensor {
                path: self.path.to_owned(),
                tensor: name.to_owned(),
            },
            source => CheckpointError::Format {
                path: self.path.to_owned(),
                source,
            },
        })?;
        if view.dtype() != dtype {
            return Err(CheckpointError::DtypeMismatch {
                path: self.path.to_owned(),
                tensor: name.to_owned(),
                expected: dtype.to_string(),
                found: view.dtype().to_string(),
            });
        }
        Ok(view)
    }

    fn shape(&self, name: &str) -> Result<Vec<usize>, CheckpointError> {
        Ok(self.view(name, Dtype::F32)?.shape().to_vec())
    }

    /// Reads an `F32` tensor, checks its shape and that every value is finite.
    fn f32s(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, CheckpointError> {
        let values = self.f32s_any(name, shape)?;
        let count = values.iter().filter(|x| !x.is_finite()).count();
        if count > 0 {
            return Err(CheckpointError::NonFinite {
                path: self.path.to_owned(),
                tensor: name.to_owned(),
                count,
            });
        }
        Ok(values)
    }

    /// Reads an `F32` tensor and checks its shape (NaN allowed: it encodes "none" in hparams).
    fn f32s_any(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, CheckpointError> {
        let view = self.view(name, Dtype::F32)?;
        if view.shape() != shape {
            return Err(CheckpointError::ShapeMismatch {
                path: self.path.to_owned(),
                tensor: name.to_owned(),
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn u64_scalar(&self, name: &str) -> Result<u64, CheckpointError> {
        let view = self.view(name, Dtype::U64)?;
        if view.shape() != [1] {
            return Err(CheckpointError::ShapeMismatch {
                path: self.path.to_owned(),
                tensor: name.to_owned(),
                expected: vec![1],
                found: view.shape().to_vec(),
            });
        }
        let d = view.data();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        Ok(u64::from_le_bytes(b))
    }

    fn user_metadata(&self) -> BTreeMap<String, String> {
        self.metadata
            .iter()
            .filter(|(k, _)| !k.starts_with(RESERVED_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Reads every parameter of `net` (named `name`) without modifying it.
    fn net_params(&self, name: &str, net: &Mlp) -> Result<Vec<Vec<f32>>, CheckpointError> {
        net.named_params()
            .into_iter()
            .map(|(p, shape, _)| self.f32s(&format!("{name}.{p}"), &shape))
            .collect()
    }

    /// Reads the Adam state for the parameters of `nets`.
    fn adam(&self, nets: &[(&str, &Mlp)]) -> Result<Adam, CheckpointError> {
        let hp = self.f32s_any("adam.hparams", &[5])?;
        let (lr, beta1, beta2, eps, clip) = (hp[0], hp[1], hp[2], hp[3], hp[4]);
        // lr 0 is legal (a schedule decayed to 0 saves it); NaN clip means "no clipping".
        let sane = lr.is_finite()
            && lr >= 0.0
            && (0.0..1.0).contains(&beta1)
            && (0.0..1.0).contains(&beta2)
            && eps.is_finite()
            && eps > 0.0
            && (clip.is_nan() || clip > 0.0);
        if !sane {
            return Err(CheckpointError::BadValue {
                path: self.path.to_owned(),
                tensor: "adam.hparams".into(),
                message: format!(
                    "optimiser settings out of range (lr {lr}, beta1 {beta1}, beta2 {beta2}, eps {eps}, max grad norm {clip}); the file is corrupt"
                ),
            });
        }
        let step = self.u64_scalar("adam.step")?;
        let mut state = BTreeMap::new();
        for (name, net) in nets {
            for (p, shape, _) in net.named_params() {
                let full = format!("{name}.{p}");
                let m = self.f32s(&format!("adam.m.{full}"), &shape)?;
                let v = self.f32s(&format!("adam.v.{full}"), &shape)?;
                let t_name = format!("adam.t.{full}");
                let t = if self.st.names().contains(&t_name.as_str()) {
                    self.u64_scalar(&t_name)?
                } else {
                    step
                };
                state.insert(full, Moments { m, v, step: t });
            }
        }
        let mut adam = Adam::new(AdamConfig {
            lr: hp[0],
            beta1: hp[1],
            beta2: hp[2],
            eps: hp[3],
            max_grad_norm: (!hp[4].is_nan()).then_some(hp[4]),
        });
        adam.set_state(step, state);
        Ok(adam)
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    })
}

fn set_params(net: &mut Mlp, values: Vec<Vec<f32>>) {
    let mut it = values.into_iter();
    net.visit_params_mut(&mut |_, p, _| {
        if let Some(v) = it.next() {
            p.copy_from_slice(&v);
        }
    });
}

/// Restores the parameters of `nets` (matched by name and checked against their shapes) and,
/// if `adam` is given, the optimiser's hyper-parameters, step counter and moments. Returns the
/// caller metadata stored with [`save_safetensors`].
///
/// Loading is all-or-nothing: every tensor is read and validated before anything is modified.
/// Parameters are restored bit-exactly. Tensors in the file that are not requested are ignored.
pub fn load_safetensors(
    path: impl AsRef<Path>,
    nets: &mut [(&str, &mut Mlp)],
    adam: Option<&mut Adam>,
) -> Result<BTreeMap<String, String>, CheckpointError> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let reader = Reader::new(path, &bytes)?;
    let values = nets
        .iter()
        .map(|(name, net)| reader.net_params(name, net))
        .collect::<Result<Vec<_>, _>>()?;
    let loaded_adam = match adam {
        Some(_) => {
            let refs: Vec<(&str, &Mlp)> = nets.iter().map(|(n, m)| (*n, &**m)).collect();
            Some(reader.adam(&refs)?)
        }
        None => None,
    };
    for ((_, net), v) in nets.iter_mut().zip(values) {
        set_params(net, v);
    }
    if let (Some(dst), Some(src)) = (adam, loaded_adam) {
        *dst = src;
    }
    Ok(reader.user_metadata())
}

/// Rebuilds every network recorded in the checkpoint's `nn.arch.*` metadata, restores its
/// parameters, and restores the Adam optimiser if the file contains one.
pub fn load_networks(path: impl AsRef<Path>) -> Result<LoadedCheckpoint, CheckpointError> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let reader = Reader::new(path, &bytes)?;
    let mut networks = BTreeMap::new();
    let mut archs: Vec<_> = reader
        .metadata
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(ARCH_PREFIX).map(|n| (n, k, v)))
        .collect();
    archs.sort();
    for (name, key, json) in archs {
        let bad = |message: String| CheckpointError::Metadata {
            path: path.to_owned(),
            key: key.clone(),
            message,
        };
        let spec: MlpSpec = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        if spec.sizes.len() < 2 {
            return Err(bad("an Mlp needs at least two layer sizes".into()));
        }
        if spec.sizes.contains(&0) {
            // A zero-width layer holds no weights, so the shape check below could not bound
            // the other sizes by the file's length.
            return Err(bad(format!(
                "layer sizes must be at least 1, got {:?}",
                spec.sizes
            )));
        }
        // Check shapes against the file before allocating, so a corrupt spec cannot make us
        // allocate more than the file holds.
        for (i, w) in spec.sizes.windows(2).enumerate() {
            let tensor = format!("{name}.{i}.weight");
            let found = reader.shape(&tensor)?;
            if found != [w[1], w[0]] {
                return Err(CheckpointError::ShapeMismatch {
                    path: path.to_owned(),
                    tensor,
                    expected: vec![w[1], w[0]],
                    found,
                });
            }
        }
        let mut net = Mlp::zeros(&spec);
        let values = reader.net_params(name, &net)?;
        set_params(&mut net, values);
        networks.insert(name.to_owned(), net);
    }
    let adam = if reader.st.names().contains(&"adam.step") {
        let refs: Vec<(&str, &Mlp)> = networks.iter().map(|(n, m)| (n.as_str(), m)).collect();
        Some(reader.adam(&refs)?)
    } else {
        None
    };
    Ok(LoadedCheckpoint {
        networks,
        adam,
        metadata: reader.user_metadata(),
    })
}
