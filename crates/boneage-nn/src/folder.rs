//! Model folders: a JSON config file beside `model.safetensors`. The file handling shared by
//! the segmentation and keypoint models (checking a folder, reading weights into a var store
//! from a folder or from bytes built into a binary, saving both files).

use crate::error::TrainError;
use crate::vgg::ConfigError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tch::{nn, Device, Tensor};

/// A model kept as a folder (a JSON config file beside `model.safetensors`): the segmentation
/// U-Net and the keypoint net. Loading, building from bytes built into a binary and saving are
/// written once, here.
pub trait ModelFolder: Sized {
    /// The model's config, as stored in [`ModelFolder::CONFIG_FILE`].
    type Config: Serialize + DeserializeOwned;
    /// Name of the config file in the folder.
    const CONFIG_FILE: &'static str;
    /// What the model is, in words ("segmentation", "keypoint").
    const KIND: &'static str;

    /// A freshly initialised model (the config is checked).
    fn new(config: &Self::Config, device: Device) -> Result<Self, TrainError>;
    /// Reads and checks a config file.
    fn read_config(path: &Path) -> Result<Self::Config, TrainError>;
    /// The model's config.
    fn config(&self) -> &Self::Config;
    /// Its variables.
    fn var_store(&self) -> &nn::VarStore;
    /// Its variables, to load into.
    fn var_store_mut(&mut self) -> &mut nn::VarStore;

    /// Loads the config file and `model.safetensors` from a model folder.
    fn load(dir: &Path, device: Device) -> Result<Self, TrainError> {
        let (cfg_path, weights) = files(dir, Self::CONFIG_FILE, Self::KIND)?;
        let config = Self::read_config(&cfg_path)?;
        let mut m = Self::new(&config, device)?;
        load(m.var_store_mut(), &weights)?;
        Ok(m)
    }

    /// A model from the bytes of its config file and weights (a model built into a binary).
    /// `source` names the model's folder in errors (e.g. "built-in bundle: segmentation").
    fn from_bytes(
        source: &str,
        config_json: &str,
        weights: &[u8],
        device: Device,
    ) -> Result<Self, TrainError> {
        let config: Self::Config = serde_json::from_str(config_json).map_err(|e| {
            TrainError::Config(ConfigError(format!("{source}: {} config: {e}", Self::KIND)))
        })?;
        let mut m = Self::new(&config, device).map_err(|e| {
            TrainError::Config(ConfigError(format!(
                "{source}: {} config: {}",
                Self::KIND,
                config_message(&e)
            )))
        })?;
        load_bytes(m.var_store_mut(), weights, &format!("{source}/{WEIGHTS}"))?;
        Ok(m)
    }

    /// Writes the config file and `model.safetensors` into `dir` (atomically each).
    fn save(&self, dir: &Path) -> Result<(), TrainError> {
        save(dir, Self::CONFIG_FILE, self.config(), self.var_store())
    }
}

/// Implements [`ModelFolder`] for a model struct with fields `config` (a config with
/// `validate`, `seed`, `model.init(&path)` and `read(path)`), `vs` and `net`.
macro_rules! impl_model_folder {
    ($model:ident, $config:ident, $file:literal, $kind:literal) => {
        impl $crate::folder::ModelFolder for $model {
            type Config = $config;
            const CONFIG_FILE: &'static str = $file;
            const KIND: &'static str = $kind;

            fn new(
                config: &$config,
                device: tch::Device,
            ) -> Result<$model, $crate::error::TrainError> {
                config.validate()?;
                tch::manual_seed(config.seed as i64);
                let vs = tch::nn::VarStore::new(device);
                let net = config.model.init(&vs.root())?;
                Ok($model {
                    config: config.clone(),
                    vs,
                    net,
                })
            }

            fn read_config(path: &std::path::Path) -> Result<$config, $crate::error::TrainError> {
                $config::read(path)
            }

            fn config(&self) -> &$config {
                &self.config
            }

            fn var_store(&self) -> &tch::nn::VarStore {
                &self.vs
            }

            fn var_store_mut(&mut self) -> &mut tch::nn::VarStore {
                &mut self.vs
            }
        }
    };
}
pub(crate) use impl_model_folder;

/// Reads a JSON config file and checks it with `validate`, naming the file in any error.
pub(crate) fn read_config<C: DeserializeOwned>(
    path: &Path,
    validate: impl Fn(&C) -> Result<(), TrainError>,
) -> Result<C, TrainError> {
    let bad = |e: &dyn std::fmt::Display| {
        TrainError::Config(ConfigError(format!("{}: {e}", path.display())))
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| TrainError::Io(path.to_path_buf(), e.to_string()))?;
    let cfg: C = serde_json::from_str(&text).map_err(|e| bad(&e))?;
    validate(&cfg).map_err(|e| bad(&config_message(&e)))?;
    Ok(cfg)
}

/// Name of the weights file in every model folder.
pub const WEIGHTS: &str = "model.safetensors";

/// The config and weights paths of a model folder, or an error saying what the folder lacks.
pub(crate) fn files(
    dir: &Path,
    config: &str,
    kind: &str,
) -> Result<(PathBuf, PathBuf), TrainError> {
    let (cfg, weights) = (dir.join(config), dir.join(WEIGHTS));
    if !cfg.is_file() || !weights.is_file() {
        return Err(TrainError::Config(ConfigError(format!(
            "{}: not a {kind} model (needs {config} and {WEIGHTS})",
            dir.display()
        ))));
    }
    Ok((cfg, weights))
}

/// Loads a weights file into `vs`, naming the file in any error.
pub(crate) fn load(vs: &mut nn::VarStore, weights: &Path) -> Result<(), TrainError> {
    vs.load(weights)
        .map_err(|e| TrainError::Io(weights.to_path_buf(), e.to_string()))
}

/// Loads safetensors bytes into a var store through a private temporary file (libtorch reads
/// safetensors from files only). `source` names the weights in errors (the bundle file they
/// came from), never the temporary file.
pub(crate) fn load_bytes(
    vs: &mut nn::VarStore,
    weights: &[u8],
    source: &str,
) -> Result<(), TrainError> {
    let tmp = std::env::temp_dir().join(format!(
        "boneage-weights-{}-{:?}.safetensors",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&tmp, weights).map_err(|e| TrainError::Io(tmp.clone(), e.to_string()))?;
    let loaded = vs.load(&tmp);
    let _ = std::fs::remove_file(&tmp);
    loaded.map_err(|e| {
        let detail = e.to_string().replace(&tmp.display().to_string(), source);
        let detail = detail.lines().next().unwrap_or_default().to_string();
        TrainError::Io(
            PathBuf::from(source),
            format!("not usable as this net's weights (a corrupt or foreign safetensors file): {detail}"),
        )
    })
}

/// The message of a config error without the "invalid network config" its display adds, for
/// wrapping it once with a file name.
pub(crate) fn config_message(e: &TrainError) -> String {
    match e {
        TrainError::Config(ConfigError(m)) => m.clone(),
        other => other.to_string(),
    }
}

/// Writes `config` as `dir/<name>` and the weights as `dir/model.safetensors` (each atomically).
pub(crate) fn save<C: Serialize>(
    dir: &Path,
    name: &str,
    config: &C,
    vs: &nn::VarStore,
) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::Io(dir.to_path_buf(), e.to_string()))?;
    write_json(&dir.join(name), config)?;
    save_atomic(vs, &dir.join(WEIGHTS))
}

/// Saves a var store atomically (temporary file in the same folder, then rename).
pub fn save_atomic(vs: &nn::VarStore, path: &Path) -> Result<(), TrainError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp.safetensors",
        path.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    // Channels-last weights are not contiguous in the default layout; safetensors wants them
    // contiguous. Sorted names give byte-identical files for identical weights.
    let mut named: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(k, v)| (k, v.contiguous()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    // A failed write (a full disk) leaves neither the temporary file nor a changed `path`, and
    // is named by `path`.
    let failed = |detail: String| {
        let _ = std::fs::remove_file(&tmp);
        TrainError::Io(
            path.to_path_buf(),
            format!("cannot write the weights: {detail}"),
        )
    };
    Tensor::write_safetensors(&named, &tmp).map_err(|e| match e {
        tch::TchError::SafeTensorError {
            err: safetensors::SafeTensorError::IoError(io),
            ..
        } => failed(io.to_string()),
        other => failed(other.to_string().replace(&tmp.display().to_string(), "")),
    })?;
    std::fs::rename(&tmp, path).map_err(|e| failed(e.to_string()))
}

/// Writes `v` as pretty JSON, atomically.
pub(crate) fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| TrainError::Io(path.to_path_buf(), e.to_string()))?
        + "\n";
    boneage_imaging::io::write_atomic(path, text.as_bytes())
        .map_err(|e| TrainError::Io(path.to_path_buf(), e.to_string()))
}
