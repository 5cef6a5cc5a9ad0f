//! Images pulled from a registry over the OCI distribution API (see `stella-registry`).

use crate::source::{ImageSource, SourceOptions};
use crate::ImageError;
use std::io::Read;
use stella_model::ImageInfo;

pub(crate) struct RegistrySource {
    info: ImageInfo,
}

impl RegistrySource {
    pub(crate) fn open(reference: &str, _full: &str, _opts: &SourceOptions) -> Result<Self, ImageError> {
        Err(ImageError::BadTarget {
            target: reference.to_string(),
            message: "registry pulls are not wired yet".into(),
        })
    }
}

impl ImageSource for RegistrySource {
    fn info(&self) -> &ImageInfo {
        &self.info
    }
    fn open_layer(&self, _index: usize) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        unreachable!()
    }
}
