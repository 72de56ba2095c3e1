//! PLACEHOLDER: learned ABR policies, being implemented.
