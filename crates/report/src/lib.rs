//! PLACEHOLDER: report, being implemented.
