//! `ferry-operator`: reconciles ConnectCluster and Connector resources (see the operator issue).

use clap::Parser;

/// Kubernetes operator for Ferry: reconciles `ConnectCluster` and `Connector` resources.
#[derive(Parser, Debug)]
#[command(name = "ferry-operator", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    eprintln!("ferry-operator: the controllers are not built yet; see `ferry-operator --help`");
    std::process::exit(2);
}
