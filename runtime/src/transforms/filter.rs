//! `Filter`: drops every record (usually behind a predicate).

use crate::config::{ConfigDef, ParsedConfig};
use crate::data::ConnectRecord;
use crate::errors::Result;
use crate::plugins::Plugin;
use crate::transforms::{Applied, RecordContext, Transformation};

pub const CLASS: &str = "org.apache.kafka.connect.transforms.Filter";

pub struct Filter;

impl Transformation for Filter {
    fn apply_mut(&mut self, _: &mut ConnectRecord, _: &RecordContext) -> Result<Applied> {
        Ok(Applied::Dropped)
    }
}

fn build(_: &ParsedConfig) -> Result<Box<dyn Transformation>> {
    Ok(Box::new(Filter))
}

pub fn plugins() -> Vec<Plugin> {
    vec![crate::transforms::plugins::transform(
        CLASS,
        build,
        ConfigDef::new,
    )]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn drops_every_record() {
        assert_eq!(
            Filter
                .apply(ConnectRecord::default(), &RecordContext::default())
                .unwrap(),
            None
        );
    }
}
