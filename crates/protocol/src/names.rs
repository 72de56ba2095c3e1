//! Algorithm names as clients, the server and the CLI spell them: built-in names, and
//! `learned:PATH` for a trained policy.

/// Prefix of a learned policy's algorithm name (`learned:PATH`).
pub const LEARNED_PREFIX: &str = "learned:";

/// The checkpoint path of a `learned:PATH` algorithm name, or `None` for any other name. The
/// prefix matches in any ASCII case (`Learned:p.safetensors`), as algorithm names do; the path is
/// returned as written, possibly empty.
pub fn learned_policy_path(name: &str) -> Option<&str> {
    let prefix = name.get(..LEARNED_PREFIX.len())?;
    prefix
        .eq_ignore_ascii_case(LEARNED_PREFIX)
        .then(|| &name[LEARNED_PREFIX.len()..])
}

/// The spelling one algorithm name has everywhere (result rows, `--timeline-abr`, the server's
/// list): built-in names in lower case, and `learned:PATH` with the prefix in lower case and the
/// path as written (paths are case-sensitive).
pub fn canonical_algorithm_name(name: &str) -> String {
    match learned_policy_path(name) {
        Some(path) => format!("{LEARNED_PREFIX}{path}"),
        None => name.to_ascii_lowercase(),
    }
}

/// Which of the `enabled` algorithm names a client's `asked` name means: the same name ignoring
/// ASCII case, or, for plain `learned`, the one learned policy when exactly one is enabled. The
/// server decides with it, and a player checks a name against `GET /api/v1/algorithms` with it.
pub fn resolve_algorithm_name<'a>(
    enabled: impl IntoIterator<Item = &'a str> + Clone,
    asked: &str,
) -> Option<&'a str> {
    // The exact name first (learned paths are case-sensitive), then one that differs in case only
    // when it is the only one.
    let canonical = canonical_algorithm_name(asked);
    if let Some(name) = enabled
        .clone()
        .into_iter()
        .find(|n| canonical_algorithm_name(n) == canonical)
    {
        return Some(name);
    }
    let mut loose = enabled
        .clone()
        .into_iter()
        .filter(|n| n.eq_ignore_ascii_case(asked));
    if let (Some(only), None) = (loose.next(), loose.next()) {
        return Some(only);
    }
    if asked.eq_ignore_ascii_case("learned") {
        let mut learned = enabled
            .into_iter()
            .filter(|n| learned_policy_path(n).is_some());
        if let (Some(only), None) = (learned.next(), learned.next()) {
            return Some(only);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_resolve_ignoring_case_and_learned_names_the_only_policy() {
        let one = ["robustmpc", "bb", "learned:p.safetensors"];
        assert_eq!(resolve_algorithm_name(one, "RobustMPC"), Some("robustmpc"));
        assert_eq!(
            resolve_algorithm_name(one, "learned"),
            Some("learned:p.safetensors")
        );
        assert_eq!(resolve_algorithm_name(one, "nope"), None);
        let two = ["learned:a", "learned:b"];
        assert_eq!(resolve_algorithm_name(two, "learned"), None);
        assert_eq!(resolve_algorithm_name(two, "LEARNED:b"), Some("learned:b"));
        // Paths differing in case only are different policies: the exact one is chosen, and a
        // path matching neither exactly is ambiguous.
        let cased = ["learned:a/P.st", "learned:a/p.st"];
        assert_eq!(
            resolve_algorithm_name(cased, "learned:a/p.st"),
            Some("learned:a/p.st")
        );
        assert_eq!(resolve_algorithm_name(cased, "learned:A/p.st"), None);
    }

    #[test]
    fn learned_names_give_their_path_in_any_case() {
        assert_eq!(learned_policy_path("learned:a/p.st"), Some("a/p.st"));
        assert_eq!(learned_policy_path("Learned:A/P.st"), Some("A/P.st"));
        assert_eq!(learned_policy_path("learned:"), Some(""));
        assert_eq!(learned_policy_path("learned"), None);
        assert_eq!(learned_policy_path("robustmpc"), None);
        // A multi-byte character across the prefix's end (byte 8 falls inside the e-acute) is not
        // a panic.
        assert_eq!(learned_policy_path("learned\u{e9}x"), None);
        assert_eq!(canonical_algorithm_name("RobustMPC"), "robustmpc");
        assert_eq!(
            canonical_algorithm_name("LEARNED:Out/P.st"),
            "learned:Out/P.st"
        );
    }
}
