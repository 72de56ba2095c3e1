//! The ladder-agnostic policy's selection metric aligned with issue 17's bar, used with
//! [`super::Selection::Bar`] (opt-in: the default, [`super::Selection::Regret`], selects by the
//! regret to the optimum, which scored better on the test grid; every validation still reports
//! these margins).
//!
//! The bar holds per grid cell (trace set x video): the policy's mean QoE at least the best of
//! [`RULES`]' means, and its p10 at least RobustMPC's p10. Selection measures exactly that on
//! every validation (trace set, video) group, against the rules played on the *same* validation
//! sessions (played once per run; a rule is deterministic on the noise-free simulator):
//!
//! - `mean_margin = (mean(policy) - max_r mean(rule r)) / scale`: the best rule is chosen per
//!   group, by its mean there, as the bar chooses it per cell;
//! - `p10_margin = (p10(policy) - p10(robustmpc)) / scale`, p10 with the grid's definition
//!   ([`neuralstream_core::stats::percentile`], numpy's linear interpolation);
//! - the group's margin is the smaller of the two: at least 0 exactly when the group meets the bar.
//!
//! `scale` is the video's top utility (QoE_lin: its top bitrate in Mbit/s) times the mean number of
//! chunks scored per session, so a margin of -0.01 means "a hundredth of the top bitrate per chunk
//! short" on a 4.3 and a 40 Mbit/s ladder alike.
//!
//! The score aggregates the groups so the worst count: the mean of the `worst` lowest margins plus
//! `all_weight` times the mean of all margins. The first term is the bar (a policy is only as good
//! as its worst cells); the second keeps progress everywhere else visible where the worst groups
//! are stuck (a cell where every algorithm stalls, say), and breaks ties.
//!
//! Parameters (defaults): `worst` 3, `all_weight` 0.25.

use neuralstream_core::stats::{mean, percentile};

/// The rules of the bar, in this order everywhere (`rule_qoes[i][r]` is rule `r` on session `i`).
pub const RULES: [&str; 4] = ["bba0", "bola-e", "dynamic", "robustmpc"];

/// Index of RobustMPC in [`RULES`] (the p10 reference).
pub const ROBUSTMPC: usize = 3;

/// How group margins are aggregated into the selection score.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectionConfig {
    /// The lowest margins averaged for the main term.
    pub worst: usize,
    /// Weight of the mean of all margins.
    pub all_weight: f64,
}

impl Default for SelectionConfig {
    /// The mean of the 3 worst groups plus a quarter of the mean of all groups.
    fn default() -> Self {
        SelectionConfig {
            worst: 3,
            all_weight: 0.25,
        }
    }
}

/// One validation group measured against the bar.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMargin {
    /// Trace set.
    pub set: String,
    /// Video.
    pub video: String,
    /// Sessions in the group.
    pub sessions: usize,
    /// The policy's mean QoE per session.
    pub mean_qoe: f64,
    /// The policy's p10 QoE.
    pub p10_qoe: f64,
    /// The rule with the best mean here.
    pub best_rule: &'static str,
    /// Its mean QoE.
    pub best_rule_mean_qoe: f64,
    /// RobustMPC's p10 QoE.
    pub robustmpc_p10_qoe: f64,
    /// `(mean_qoe - best_rule_mean_qoe) / scale`.
    pub mean_margin: f64,
    /// `(p10_qoe - robustmpc_p10_qoe) / scale`.
    pub p10_margin: f64,
}

impl GroupMargin {
    /// The smaller of the two margins: at least 0 exactly when the group meets the bar.
    pub fn margin(&self) -> f64 {
        self.mean_margin.min(self.p10_margin)
    }
}

/// The rules' reference numbers of one group: the best rule by mean and RobustMPC's p10.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupBar {
    /// Index in [`RULES`] of the rule with the best mean.
    pub best_rule: usize,
    /// Its mean QoE.
    pub best_rule_mean_qoe: f64,
    /// RobustMPC's p10 QoE.
    pub robustmpc_p10_qoe: f64,
}

/// The bar of a group from its sessions' rule QoEs (`rule_qoes[i][r]`: rule `r`, session `i`).
pub fn group_bar(rule_qoes: &[[f64; 4]]) -> GroupBar {
    let means: Vec<f64> = (0..RULES.len())
        .map(|r| mean(&rule_qoes.iter().map(|q| q[r]).collect::<Vec<_>>()))
        .collect();
    let best_rule = (0..RULES.len())
        .max_by(|&a, &b| means[a].total_cmp(&means[b]).then(b.cmp(&a)))
        .unwrap_or(ROBUSTMPC);
    let robustmpc: Vec<f64> = rule_qoes.iter().map(|q| q[ROBUSTMPC]).collect();
    GroupBar {
        best_rule,
        best_rule_mean_qoe: means[best_rule],
        robustmpc_p10_qoe: percentile(&robustmpc, 10.0),
    }
}

/// Measures a group: the policy's session QoEs against the rules' on the same sessions, in units
/// of `scale` (the video's top utility times the chunks scored per session).
pub fn group_margin(
    set: &str,
    video: &str,
    policy_qoes: &[f64],
    rule_qoes: &[[f64; 4]],
    scale: f64,
) -> GroupMargin {
    let bar = group_bar(rule_qoes);
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let mean_qoe = mean(policy_qoes);
    let p10_qoe = percentile(policy_qoes, 10.0);
    GroupMargin {
        set: set.to_owned(),
        video: video.to_owned(),
        sessions: policy_qoes.len(),
        mean_qoe,
        p10_qoe,
        best_rule: RULES[bar.best_rule],
        best_rule_mean_qoe: bar.best_rule_mean_qoe,
        robustmpc_p10_qoe: bar.robustmpc_p10_qoe,
        mean_margin: (mean_qoe - bar.best_rule_mean_qoe) / scale,
        p10_margin: (p10_qoe - bar.robustmpc_p10_qoe) / scale,
    }
}

/// The selection score of the groups' margins (higher is better; see the module doc); 0 when
/// there is no group.
pub fn selection_score(groups: &[GroupMargin], cfg: &SelectionConfig) -> f64 {
    if groups.is_empty() {
        return 0.0;
    }
    let mut margins: Vec<f64> = groups.iter().map(GroupMargin::margin).collect();
    margins.sort_by(|a, b| a.total_cmp(b));
    let worst = cfg.worst.clamp(1, margins.len());
    mean(&margins[..worst]) + cfg.all_weight * mean(&margins)
}

/// The score of [`super::Selection::Grid`]: the mean over groups of each group's mean margin
/// plus `p10_weight` times its p10 shortfall, `mean_margin + p10_weight * min(0, p10_margin)`
/// (higher is better; 0 when there is no group). Its first term ranks policies as the regret
/// selection does (a group's mean margin and its normalised regret to the optimum differ by a
/// constant of the group: the optimum's lead over the best rule), without solving an optimum;
/// the second counts a tail below RobustMPC's p10, which the bar counts and the mean does not.
pub fn grid_score(groups: &[GroupMargin], p10_weight: f64) -> f64 {
    if groups.is_empty() {
        return 0.0;
    }
    let per_group: Vec<f64> = groups.iter().map(|g| group_term(g, p10_weight)).collect();
    mean(&per_group)
}

/// One group's term of [`grid_score`].
fn group_term(g: &GroupMargin, p10_weight: f64) -> f64 {
    g.mean_margin + p10_weight * g.p10_margin.min(0.0)
}

/// [`grid_score`] plus `weight` times the term of the group of trace set `set` and video `video`
/// (none: nothing added): one cell weighed more, as the bar holds Pensieve's test cell to 47.0
/// besides the per-cell comparison with the rules.
pub fn grid_score_with_home(
    groups: &[GroupMargin],
    p10_weight: f64,
    set: &str,
    video: &str,
    weight: f64,
) -> f64 {
    let home = groups
        .iter()
        .find(|g| g.set == set && g.video == video)
        .map_or(0.0, |g| weight * group_term(g, p10_weight));
    grid_score(groups, p10_weight) + home
}

/// The bars of every group of `keys` (one `(set, video)` key per session, with its rule QoEs):
/// `bars[g]` for the group `groups[g]`, and each session's group index.
pub fn bars_by_group(
    keys: &[(usize, usize)],
    rule_qoes: &[[f64; 4]],
) -> (Vec<(usize, usize)>, Vec<GroupBar>, Vec<usize>) {
    let mut groups: Vec<(usize, usize)> = keys.to_vec();
    groups.sort_unstable();
    groups.dedup();
    let index: Vec<usize> = keys
        .iter()
        .map(|k| groups.binary_search(k).unwrap_or(0))
        .collect();
    let bars = (0..groups.len())
        .map(|g| {
            let members: Vec<[f64; 4]> = index
                .iter()
                .zip(rule_qoes)
                .filter(|(&i, _)| i == g)
                .map(|(_, q)| *q)
                .collect();
            group_bar(&members)
        })
        .collect();
    (groups, bars, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rule QoEs of a session: bba0, bola-e, dynamic, robustmpc.
    fn rules(b: f64, o: f64, d: f64, r: f64) -> [f64; 4] {
        [b, o, d, r]
    }

    #[test]
    fn a_group_is_measured_against_its_best_rule_and_robustmpcs_p10() {
        // Means: bba0 10, bola-e 12, dynamic 11, robustmpc 11.5; RobustMPC's p10 over
        // [5, 18] is 5 + 0.1 * 13 = 6.3.
        let r = [rules(10.0, 14.0, 11.0, 5.0), rules(10.0, 10.0, 11.0, 18.0)];
        let m = group_margin("s", "v", &[13.0, 9.0], &r, 2.0);
        assert_eq!(m.best_rule, "bola-e");
        assert_eq!(m.best_rule_mean_qoe, 12.0);
        assert!((m.robustmpc_p10_qoe - 6.3).abs() < 1e-12);
        assert_eq!(m.mean_qoe, 11.0);
        assert!((m.p10_qoe - 9.4).abs() < 1e-12);
        assert!((m.mean_margin - (11.0 - 12.0) / 2.0).abs() < 1e-12);
        assert!((m.p10_margin - (9.4 - 6.3) / 2.0).abs() < 1e-12);
        // The mean misses, the tail holds: the group misses the bar by the mean's margin.
        assert!((m.margin() + 0.5).abs() < 1e-12);
        // A policy above the best mean but with a worse tail misses by its tail.
        let m = group_margin("s", "v", &[30.0, 0.0], &r, 2.0);
        assert!(m.mean_margin > 0.0 && m.p10_margin < 0.0);
        assert_eq!(m.margin(), m.p10_margin);
        // Ties between rules go to the first in RULES.
        let tie = group_bar(&[rules(5.0, 5.0, 5.0, 5.0)]);
        assert_eq!(tie.best_rule, 0);
    }

    /// A group with these margins (its other fields do not enter a score).
    fn with_margins(mean_margin: f64, p10_margin: f64) -> GroupMargin {
        GroupMargin {
            set: "s".into(),
            video: "v".into(),
            sessions: 1,
            mean_qoe: 0.0,
            p10_qoe: 0.0,
            best_rule: "bba0",
            best_rule_mean_qoe: 0.0,
            robustmpc_p10_qoe: 0.0,
            mean_margin,
            p10_margin,
        }
    }

    #[test]
    fn the_worst_groups_dominate_the_score() {
        let g = |margin: f64| with_margins(margin, margin + 1.0);
        let cfg = SelectionConfig::default();
        // Margins 0.1, 0.2, -0.3, 0.4, -0.1: worst three -0.3, -0.1, 0.1 (mean -0.1), all 0.06.
        let groups: Vec<_> = [0.1, 0.2, -0.3, 0.4, -0.1].map(g).to_vec();
        let s = selection_score(&groups, &cfg);
        assert!((s - (-0.1 + 0.25 * 0.06)).abs() < 1e-12, "{s}");
        // Raising the best group barely moves it; mending the worst moves it a lot.
        let mut better_best = groups.clone();
        better_best[3] = g(1.4);
        let mut mended_worst = groups.clone();
        mended_worst[2] = g(0.0);
        let (b, w) = (
            selection_score(&better_best, &cfg),
            selection_score(&mended_worst, &cfg),
        );
        assert!(b - s < 0.06 && w - s > 0.1, "{s} {b} {w}");
        // A policy that trades a shortfall in one group for a larger lead in another loses,
        // though its mean margin is higher (0.23 against 0.17).
        let meets: Vec<_> = [0.1, 0.2, 0.05, 0.4, 0.1].map(g).to_vec();
        let traded: Vec<_> = [0.1, 0.2, 0.05, 0.9, -0.1].map(g).to_vec();
        assert!(selection_score(&traded, &cfg) < selection_score(&meets, &cfg) - 0.05);
        // Fewer groups than `worst`: the mean of them all (plus the all-groups term).
        let two = [g(-1.0), g(1.0)];
        assert!((selection_score(&two, &cfg) - 0.0).abs() < 1e-12);
        assert_eq!(selection_score(&[], &cfg), 0.0);
    }

    #[test]
    fn the_grid_score_is_the_mean_margin_plus_the_tail_shortfall() {
        let g = with_margins;
        // Group 1: 0.1 + 0.5 * 0 (its tail leads); group 2: -0.2 + 0.5 * -0.4.
        let groups = [g(0.1, 0.3), g(-0.2, -0.4)];
        let s = grid_score(&groups, 0.5);
        assert!((s - (0.1 + (-0.2 - 0.2)) / 2.0).abs() < 1e-12, "{s}");
        // Without the tail term it is the mean of the mean margins.
        assert!((grid_score(&groups, 0.0) - (-0.05)).abs() < 1e-12);
        // A lead in the tail earns nothing; a shortfall there costs.
        assert_eq!(
            grid_score(&[g(0.1, 5.0)], 0.5),
            grid_score(&[g(0.1, 0.0)], 0.5)
        );
        assert!(grid_score(&[g(0.1, -1.0)], 0.5) < 0.1 - 0.49);
        assert_eq!(grid_score(&[], 0.5), 0.0);
        // The home group's term counts `weight` more; a missing home adds nothing.
        let mut home = g(-0.2, -0.4);
        home.set = "home".into();
        let groups = [g(0.1, 0.3), home];
        let plain = grid_score(&groups, 0.5);
        let with = grid_score_with_home(&groups, 0.5, "home", "v", 0.25);
        assert!((with - (plain + 0.25 * -0.4)).abs() < 1e-12, "{with}");
        assert_eq!(grid_score_with_home(&groups, 0.5, "away", "v", 0.25), plain);
    }

    #[test]
    fn sessions_are_grouped_by_set_and_video() {
        let keys = [(1, 0), (0, 1), (1, 0), (0, 1), (0, 0)];
        let q = [
            rules(1.0, 2.0, 0.0, 0.0),
            rules(0.0, 0.0, 0.0, 7.0),
            rules(3.0, 2.0, 0.0, 0.0),
            rules(0.0, 0.0, 0.0, 9.0),
            rules(0.0, 0.0, 4.0, 0.0),
        ];
        let (groups, bars, index) = bars_by_group(&keys, &q);
        assert_eq!(groups, vec![(0, 0), (0, 1), (1, 0)]);
        assert_eq!(index, vec![2, 1, 2, 1, 0]);
        assert_eq!(RULES[bars[0].best_rule], "dynamic");
        assert_eq!(RULES[bars[1].best_rule], "robustmpc");
        assert!((bars[1].robustmpc_p10_qoe - 7.2).abs() < 1e-12);
        // bba0 and bola-e both average 2 in group (1, 0): the tie goes to bba0.
        assert_eq!(RULES[bars[2].best_rule], "bba0");
    }
}
