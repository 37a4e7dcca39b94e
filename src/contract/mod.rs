//! Contracts and enforcement (placeholder until it lands).
