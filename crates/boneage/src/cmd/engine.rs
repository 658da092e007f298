//! `boneage engine`: which libtorch the build uses and which devices it sees, as JSON.

pub fn run() -> anyhow::Result<()> {
    let info = boneage_nn::EngineInfo::probe();
    println!("{}", serde_json::to_string_pretty(&info)?);
    Ok(())
}
