//! The one way an error and its causes become a line of text (for logs and one-line CLI
//! failures), shared by every crate.

use std::error::Error;

/// "outer: inner: innermost", outermost first. A cause whose text the line already holds is
/// skipped: many errors repeat their source in their own message.
pub fn error_chain(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    fn layer(text: &'static str, source: Option<Layer>) -> Layer {
        Layer {
            text,
            source: source.map(Box::new),
        }
    }

    #[test]
    fn joins_causes_outermost_first_and_skips_repeats() {
        let inner = layer("connection refused", None);
        let middle = layer("cannot connect: connection refused", Some(inner));
        let outer = layer("migration V2 failed", Some(middle));
        assert_eq!(
            error_chain(&outer),
            "migration V2 failed: cannot connect: connection refused"
        );
        assert_eq!(error_chain(&layer("alone", None)), "alone");
    }
}
