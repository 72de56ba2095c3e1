//! PLACEHOLDER: offline optimum, being implemented.
