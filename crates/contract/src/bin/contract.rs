//! Writes the contract the code generates into `contract/` (`./dev contract`); with `--release`,
//! also freezes it as the released copy of its major version (`contract/released/v<MAJOR>/`).

use std::path::Path;

fn write_all(dir: &Path) -> anyhow::Result<()> {
    for (name, text) in marketplace_contract::generated_files() {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == text);
        std::fs::write(&path, &text)?;
        println!("{} {}", if unchanged { "unchanged" } else { "wrote    " }, path.display());
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let release = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--release") => true,
        Some(other) => anyhow::bail!("unknown argument {other:?}; usage: contract [--release]"),
    };
    write_all(&marketplace_contract::contract_dir())?;
    if release {
        write_all(&marketplace_contract::released_dir(marketplace_contract::MAJOR))?;
    }
    println!("contract version {}", marketplace_contract::version());
    Ok(())
}
