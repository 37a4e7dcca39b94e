//! The transfer log (placeholder until it lands).
