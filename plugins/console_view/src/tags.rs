//! Grouping builders by tags, as Buildbot's console describes it: first by the tag most
//! builders have, then, within each group, again by the tag most of its builders have, and so
//! on.
//!
//! At each level the tag the most builders of the set have (ties: the smallest name) makes a
//! group of those builders; the next most frequent tag among the builders left makes the next
//! group, until the builders left have none of the tags not used above them, which make a
//! last group without a tag. A group is split again while it has more than one builder and its
//! builders have further tags. Builders are sorted by name within their group.

use std::collections::BTreeMap;

use buildbot_plugin_sdk::models::Builder;

/// A group of builders: those with `tag` (below the tags of the enclosing groups), either
/// split further into `groups` or listed in `builders`.
#[derive(Debug, Clone, PartialEq)]
pub struct TagGroup<'a> {
    /// The tag, `None` for the builders without a further tag.
    pub tag: Option<&'a str>,
    /// The subgroups, when the group is split; empty otherwise.
    pub groups: Vec<TagGroup<'a>>,
    /// The builders, sorted by name, when the group is not split; empty otherwise.
    pub builders: Vec<&'a Builder>,
}

impl<'a> TagGroup<'a> {
    /// The builders of the group and its subgroups, in display order.
    pub fn columns(&self) -> Vec<&'a Builder> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<&'a Builder>) {
        out.extend(self.builders.iter().copied());
        for group in &self.groups {
            group.collect(out);
        }
    }

    /// How many levels of tag headers the group needs (1 for a group that is not split).
    pub fn depth(&self) -> usize {
        1 + self.groups.iter().map(TagGroup::depth).max().unwrap_or(0)
    }

    /// The number of builders in the group.
    pub fn width(&self) -> usize {
        self.builders.len() + self.groups.iter().map(TagGroup::width).sum::<usize>()
    }
}

/// Groups `builders` by their tags; the groups in display order.
pub fn group(builders: &[Builder]) -> Vec<TagGroup<'_>> {
    let mut sorted: Vec<&Builder> = builders.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name).then(a.builderid.cmp(&b.builderid)));
    split(sorted, &[])
}

/// The groups of `builders` (sorted by name) by the tags other than `used`.
fn split<'a>(builders: Vec<&'a Builder>, used: &[&'a str]) -> Vec<TagGroup<'a>> {
    let mut groups = Vec::new();
    let mut left = builders;
    while let Some(tag) = most_frequent(&left, used) {
        let (with, without): (Vec<&Builder>, Vec<&Builder>) = left
            .into_iter()
            .partition(|b| b.tags.iter().any(|t| t == tag));
        left = without;
        let mut below = used.to_vec();
        below.push(tag);
        let subgroups = if with.len() > 1 {
            split(with.clone(), &below)
        } else {
            Vec::new()
        };
        // A split that finds no further tag lists the builders directly.
        let (groups_below, listed) = match subgroups.as_slice() {
            [] => (Vec::new(), with),
            [only] if only.tag.is_none() => (Vec::new(), with),
            _ => (subgroups, Vec::new()),
        };
        groups.push(TagGroup {
            tag: Some(tag),
            groups: groups_below,
            builders: listed,
        });
    }
    if !left.is_empty() {
        groups.push(TagGroup {
            tag: None,
            groups: Vec::new(),
            builders: left,
        });
    }
    groups
}

/// The tag (not in `used`) the most of `builders` have; on ties the smallest name.
fn most_frequent<'a>(builders: &[&'a Builder], used: &[&str]) -> Option<&'a str> {
    let mut counts: BTreeMap<&'a str, usize> = BTreeMap::new();
    for builder in builders {
        for tag in &builder.tags {
            if !used.contains(&tag.as_str()) {
                *counts.entry(tag.as_str()).or_default() += 1;
            }
        }
    }
    // BTreeMap iterates by name, and max_by_key keeps the last maximum: compare reversed.
    counts
        .into_iter()
        .rev()
        .max_by_key(|(_, count)| *count)
        .map(|(tag, _)| tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(id: i64, name: &str, tags: &[&str]) -> Builder {
        Builder {
            builderid: id,
            name: name.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Builder::default()
        }
    }

    /// The groups as text: `tag[builder builder]` or `tag(subgroups)`; `-` for no tag.
    fn shape(groups: &[TagGroup]) -> String {
        groups
            .iter()
            .map(|g| {
                let tag = g.tag.unwrap_or("-");
                if g.groups.is_empty() {
                    let names: Vec<&str> = g.builders.iter().map(|b| b.name.as_str()).collect();
                    format!("{tag}[{}]", names.join(" "))
                } else {
                    format!("{tag}({})", shape(&g.groups))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn most_shared_tag_first_then_again_within_each_group() {
        let builders = crate::common::fixture::builders();
        let groups = group(&builders);
        assert_eq!(
            shape(&groups),
            "build(linux[linux-build] macos[mac-build] windows[win-build]) \
             test(linux[linux-test] windows[win-test]) <i>[x<b>\"&'] docs[docs] -[tools]"
        );
        let columns: Vec<i64> = groups
            .iter()
            .flat_map(|g| g.columns())
            .map(|b| b.builderid)
            .collect();
        assert_eq!(columns, [1, 6, 3, 2, 4, 9, 5, 8]);
        assert_eq!(groups.iter().map(TagGroup::depth).max(), Some(2));
        assert_eq!(groups[0].width(), 3);
    }

    #[test]
    fn ties_go_to_the_smallest_name_and_shared_tags_nest() {
        let builders = vec![
            builder(1, "b", &["x", "y", "arm"]),
            builder(2, "a", &["x", "y", "amd64"]),
            builder(3, "c", &["y"]),
            builder(4, "d", &["z"]),
        ];
        // y (3 builders) first; within it x (2), within that amd64 and arm (tie: by name)
        assert_eq!(shape(&group(&builders)), "y(x(amd64[a] arm[b]) -[c]) z[d]");
    }

    #[test]
    fn one_builder_or_no_further_tag_is_not_split() {
        let builders = vec![
            builder(1, "solo", &["a", "b", "c"]),
            builder(2, "p", &["g", "h"]),
            builder(3, "q", &["g", "h"]),
            builder(4, "r", &["g"]),
        ];
        let groups = group(&builders);
        // g: {p q r}; within it h: {p q} (no further tag: listed); r has no further tag
        assert_eq!(shape(&groups), "g(h[p q] -[r]) a[solo]");
        assert_eq!(groups[1].depth(), 1);
    }

    #[test]
    fn no_tags_at_all_is_one_group_by_name() {
        let builders = vec![builder(2, "b", &[]), builder(1, "a", &[])];
        assert_eq!(shape(&group(&builders)), "-[a b]");
        assert!(group(&[]).is_empty());
    }
}
