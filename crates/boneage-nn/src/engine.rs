//! The tensor engine: which libtorch this build uses, which devices it sees, and how a user's
//! `--device cpu|cuda|auto` becomes a [`tch::Device`].

use serde::Serialize;
use std::str::FromStr;

/// What the engine reports about itself.
#[derive(Debug, Clone, Serialize)]
pub struct EngineInfo {
    /// libtorch version the bindings were built for.
    pub libtorch_version: &'static str,
    /// libtorch sees a CUDA device.
    pub cuda_available: bool,
    /// cuDNN is available.
    pub cudnn_available: bool,
    /// CUDA devices libtorch sees.
    pub cuda_device_count: i64,
    /// Intra-op CPU threads libtorch uses.
    pub cpu_threads: i32,
    /// libtorch was built with oneDNN (MKL-DNN).
    pub mkldnn: bool,
}

/// libtorch version the pinned `tch` expects (checked at build time by torch-sys).
pub const LIBTORCH_VERSION: &str = "2.11.0";

impl EngineInfo {
    /// Asks libtorch what it has.
    pub fn probe() -> EngineInfo {
        EngineInfo {
            libtorch_version: LIBTORCH_VERSION,
            cuda_available: tch::Cuda::is_available(),
            cudnn_available: tch::Cuda::cudnn_is_available(),
            cuda_device_count: tch::Cuda::device_count(),
            cpu_threads: tch::get_num_threads(),
            mkldnn: tch::utils::has_mkldnn(),
        }
    }
}

/// A device as the user asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU.
    Cpu,
    /// CUDA device by index; an error at [`DeviceChoice::resolve`] if libtorch sees no GPU.
    Cuda(usize),
    /// CUDA:0 when available, else CPU.
    Auto,
}

/// A device that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// Not a device name.
    #[error("unknown device {0:?} (expected cpu, cuda, cuda:N or auto)")]
    Unknown(String),
    /// A CUDA device libtorch does not see.
    #[error("device cuda:{index} requested, but libtorch sees {count} CUDA device(s)")]
    NoCuda {
        /// The device asked for.
        index: usize,
        /// CUDA devices libtorch sees.
        count: i64,
    },
}

impl FromStr for DeviceChoice {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            "auto" => Ok(DeviceChoice::Auto),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or(DeviceError::Unknown(s.clone())),
        }
    }
}

impl DeviceChoice {
    /// The device to use; an error for a CUDA device libtorch does not see.
    pub fn resolve(self) -> Result<tch::Device, DeviceError> {
        match self {
            DeviceChoice::Cpu => Ok(tch::Device::Cpu),
            DeviceChoice::Auto => Ok(tch::Device::cuda_if_available()),
            DeviceChoice::Cuda(index) => {
                let count = tch::Cuda::device_count();
                if (index as i64) < count {
                    Ok(tch::Device::Cuda(index))
                } else {
                    Err(DeviceError::NoCuda { index, count })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_parsing_and_resolution() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!(
            "CUDA:1".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(1)
        );
        assert!("tpu".parse::<DeviceChoice>().is_err());
        assert_eq!(DeviceChoice::Cpu.resolve().unwrap(), tch::Device::Cpu);
        let count = tch::Cuda::device_count();
        let e = DeviceChoice::Cuda(count as usize).resolve().unwrap_err();
        assert!(e.to_string().contains("CUDA device"), "{e}");
        let info = EngineInfo::probe();
        assert!(info.cpu_threads >= 1);
    }
}

/// Sets the number of threads libtorch runs CPU work on (intra-op parallelism).
pub fn set_cpu_threads(n: usize) {
    tch::set_num_threads(n.max(1) as i32);
}
