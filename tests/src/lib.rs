//! Test-only crate: see tests/ and golden/.
