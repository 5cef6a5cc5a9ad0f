//! Errors of image sources and layer reading. Every message names the input and the place.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{target}: {message}")]
    BadTarget { target: String, message: String },
    #[error("{path}: {message}")]
    Io {
        path: PathBuf,
        message: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{source_name}: {message}")]
    BadImage {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: layer {layer}: {message}")]
    BadLayer {
        source_name: String,
        layer: String,
        message: String,
    },
    #[error("{source_name}: no image for platform {platform} (available: {available})")]
    NoMatchingPlatform {
        source_name: String,
        platform: String,
        available: String,
    },
    /// A registry pull failed (the message names registry, repository and reference).
    #[error(transparent)]
    Registry(Box<dyn std::error::Error + Send + Sync>),
}

impl ImageError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        message: impl Into<String>,
        source: std::io::Error,
    ) -> Self {
        ImageError::Io {
            path: path.into(),
            message: message.into(),
            source,
        }
    }
    pub(crate) fn bad_image(source_name: impl Into<String>, message: impl Into<String>) -> Self {
        ImageError::BadImage {
            source_name: source_name.into(),
            message: message.into(),
        }
    }
}
