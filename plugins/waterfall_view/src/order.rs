//! The order of the builder columns: builders scheduled together sit together.
//!
//! Two builders are linked once for every group both have a shown build in; a group is a
//! buildset (the builds one scheduler requested together) or a source stamp (the same code,
//! whichever scheduler asked). The order is a greedy chain: start with the builder that has
//! the most links, then keep taking the builder most linked to the last one taken (ties: most
//! linked to the whole chain so far, then by name); when nothing left is linked to the chain,
//! start a new chain the same way among the remaining builders. Builders without links come
//! last, by name. Deterministic; the cost grows with the square of the number of shown
//! builders.

use std::collections::{BTreeMap, HashMap};

use buildbot_plugin_sdk::models::Build;

/// A builder to place: its id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column<'a> {
    /// `builderid`.
    pub builderid: i64,
    /// `name`.
    pub name: &'a str,
}

/// The builder ids of `builders` in display order. `groups` are sets of builder ids that were
/// scheduled together (ids not in `builders` and repeats within a group are ignored).
pub fn order_builders(builders: &[Column<'_>], groups: &[Vec<i64>]) -> Vec<i64> {
    let mut sorted: Vec<&Column<'_>> = builders.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(b.name).then(a.builderid.cmp(&b.builderid)));
    sorted.dedup_by_key(|c| c.builderid);
    let n = sorted.len();
    let ids: HashMap<i64, usize> = sorted
        .iter()
        .enumerate()
        .map(|(i, c)| (c.builderid, i))
        .collect();

    // links[a * n + b]: how many groups hold both a and b
    let mut links = vec![0u32; n * n];
    let mut members: Vec<usize> = Vec::new();
    for group in groups {
        members.clear();
        members.extend(group.iter().filter_map(|id| ids.get(id).copied()));
        members.sort_unstable();
        members.dedup();
        for (k, &a) in members.iter().enumerate() {
            for &b in &members[k + 1..] {
                links[a * n + b] += 1;
                links[b * n + a] += 1;
            }
        }
    }

    let mut placed = vec![false; n];
    // to_chain[x]: links between x and the builders of the current chain
    let mut to_chain = vec![0u32; n];
    // to_rest[x]: links between x and the builders not placed yet
    let mut to_rest: Vec<u32> = (0..n)
        .map(|x| links[x * n..(x + 1) * n].iter().sum())
        .collect();
    let mut order = Vec::with_capacity(n);
    let mut last: Option<usize> = None;
    while order.len() < n {
        let next = last.and_then(|last| {
            (0..n)
                .filter(|&x| !placed[x] && (links[last * n + x] > 0 || to_chain[x] > 0))
                // the smallest index wins ties: max_by_key keeps the last maximum, so reverse
                .rev()
                .max_by_key(|&x| (links[last * n + x], to_chain[x]))
        });
        let next = match next {
            Some(x) => x,
            None => {
                // a new chain, from the remaining builder with the most links
                to_chain.iter_mut().for_each(|c| *c = 0);
                (0..n)
                    .filter(|&x| !placed[x])
                    .rev()
                    .max_by_key(|&x| to_rest[x])
                    .unwrap_or_default()
            }
        };
        placed[next] = true;
        let row = &links[next * n..(next + 1) * n];
        for ((chain, rest), &count) in to_chain.iter_mut().zip(&mut to_rest).zip(row) {
            *chain += count;
            *rest -= count;
        }
        order.push(sorted[next].builderid);
        last = Some(next);
    }
    order
}

/// The groups of builders scheduled together among `builds`, given the buildset and source
/// stamps of each build request (`origins`): for every buildset and every source stamp, the
/// builders of its builds, when there are at least two.
pub fn groups(builds: &[Build], origins: &HashMap<i64, (i64, Vec<i64>)>) -> Vec<Vec<i64>> {
    let mut by_buildset: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut by_stamp: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for build in builds {
        let Some((bsid, stamps)) = origins.get(&build.buildrequestid) else {
            continue;
        };
        by_buildset.entry(*bsid).or_default().push(build.builderid);
        for &ssid in stamps {
            by_stamp.entry(ssid).or_default().push(build.builderid);
        }
    }
    by_buildset
        .into_values()
        .chain(by_stamp.into_values())
        .filter(|group| group.len() > 1)
        .collect()
}
