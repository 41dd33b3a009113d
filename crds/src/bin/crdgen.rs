//! Prints the Ferry CustomResourceDefinitions as multi-document YAML.
//!
//! Regenerate the committed manifests with
//! `cargo run -p ferry-crds --bin crdgen > crds/ferry-crds.yaml`.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let yaml = match ferry_crds::crds_yaml() {
        Ok(yaml) => yaml,
        Err(e) => {
            eprintln!("crdgen: cannot render the CRDs: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(yaml.as_bytes())
        .and_then(|()| stdout.flush())
    {
        eprintln!("crdgen: cannot write: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
