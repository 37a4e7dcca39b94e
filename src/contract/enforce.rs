//! Enforcement: who may call an operation and for what purpose, which fields may leave, and
//! which fields of an answer may come back.
//!
//! Field paths are object keys joined by `.`; arrays are transparent (every element of
//! `credit_history.existing_contracts` contributes `credit_history.existing_contracts.code`).
//! A leaf is any scalar, `null` included: `{"subject": {"phone": null}}` sends the field
//! `subject.phone`. On the way in (flattening, filtering) an empty object or array carries no
//! field and yields no path. On the way out it is a member all the same: under a field's name
//! (`"phone": []`) it is that field, under a name the vocabulary does not know it is unknown,
//! and only where the vocabulary has fields beneath (`{"subject": {}}`) or at the root does it
//! yield no path. A scalar at the root has the empty path `""`, which neither the vocabulary
//! nor any grant contains.
//!
//! Matching walks the JSON tree and the vocabulary/grant tries segment by segment, so a key
//! that itself contains a dot (`{"subject.iin": …}`) never matches a vocabulary path or a grant.
//!
//! This module must never put a field *value* into a [`Denial`] or a path list: only names.
//! It does no I/O and never logs.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use serde_json::Value;

use super::load::Contracts;
use super::model::{Operation, PathTrie, Role};

/// Why a transfer is refused. Carries names and paths only, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denial {
    /// The caller's role is not one of the operation's callers.
    #[error("role \"{role}\" may not call this operation")]
    ForbiddenRole {
        /// The caller's role.
        role: Role,
    },
    /// The stated purpose is unknown or not one of the operation's purposes. The stated
    /// purpose itself is not kept: it is caller input.
    #[error("the stated purpose is not one this operation allows (allowed: {})", allowed.join(", "))]
    PurposeNotAllowed {
        /// The purposes the operation allows.
        allowed: Vec<String>,
    },
    /// Outgoing paths that are not in the vocabulary (sorted).
    #[error("unknown field(s): {}", paths.join(", "))]
    UnknownField {
        /// The offending paths.
        paths: Vec<String>,
    },
    /// Outgoing paths in the vocabulary but not on the operation's `send` list (sorted).
    #[error("field(s) not allowed for this operation: {}", paths.join(", "))]
    FieldNotAllowed {
        /// The offending paths.
        paths: Vec<String>,
    },
    /// The operation's legal basis is consent and no valid consent record covers the subject,
    /// recipient and purpose (decided by the consent ledger, not here).
    #[error("no valid consent covers this subject, recipient and purpose")]
    ConsentMissing,
}

impl Denial {
    /// The stable error code of the API and the transfer log.
    pub fn code(&self) -> &'static str {
        match self {
            Denial::ForbiddenRole { .. } => "forbidden_role",
            Denial::PurposeNotAllowed { .. } => "purpose_not_allowed",
            Denial::UnknownField { .. } => "unknown_field",
            Denial::FieldNotAllowed { .. } => "field_not_allowed",
            Denial::ConsentMissing => "consent_missing",
        }
    }

    /// The offending field paths (empty for denials that are not about fields).
    pub fn paths(&self) -> &[String] {
        match self {
            Denial::UnknownField { paths } | Denial::FieldNotAllowed { paths } => paths,
            _ => &[],
        }
    }
}

/// The answer of an operation after filtering by its `receive` list.
#[derive(Debug, Clone, PartialEq)]
pub struct Filtered {
    /// The record with every non-granted branch pruned.
    pub kept: Value,
    /// The leaf paths kept, deduplicated and sorted.
    pub kept_fields: Vec<String>,
    /// The leaf paths dropped, deduplicated and sorted.
    pub dropped: Vec<String>,
}

/// The leaf paths of `value`, deduplicated and sorted (see the module header for the rules).
pub fn flatten(value: &Value) -> Vec<String> {
    let mut out = PathSet::default();
    let mut buf = String::new();
    collect_leaves(value, &mut buf, true, &mut out);
    sorted(out)
}

/// Checks the caller's role, then the stated purpose.
pub fn authorize(op: &Operation, role: Role, purpose: &str) -> Result<(), Denial> {
    if !op.allows_role(role) {
        return Err(Denial::ForbiddenRole { role });
    }
    if !op.allows_purpose(purpose) {
        return Err(Denial::PurposeNotAllowed {
            allowed: op.purposes.clone(),
        });
    }
    Ok(())
}

/// Checks an outgoing payload against the vocabulary and the operation's `send` list. Returns
/// the sent leaf paths (sorted). Every offending path is named; unknown fields take precedence
/// over known-but-not-allowed ones.
pub fn check_outgoing(
    contracts: &Contracts,
    op: &Operation,
    data: &Value,
) -> Result<Vec<String>, Denial> {
    let mut acc = Outgoing::default();
    let mut buf = String::new();
    let send = if op.send_trie.is_terminal() {
        Grant::All
    } else {
        Grant::Partial(&op.send_trie)
    };
    walk_outgoing(
        data,
        Some(&contracts.vocabulary().trie),
        send,
        &mut buf,
        true,
        &mut acc,
    );
    if !acc.unknown.is_empty() {
        return Err(Denial::UnknownField {
            paths: sorted(acc.unknown),
        });
    }
    if !acc.not_allowed.is_empty() {
        return Err(Denial::FieldNotAllowed {
            paths: sorted(acc.not_allowed),
        });
    }
    Ok(sorted(acc.sent))
}

/// Keeps only what the operation's `receive` list grants (prefix grants on dot boundaries:
/// `credit_history` grants `credit_history.x.y`, not `credit_history_extra`) and names what was
/// dropped.
///
/// Pruning: a branch nobody granted is removed whole; an object or array that loses all its
/// contents to pruning is removed too (so an array of objects may come back shorter: positions
/// carry no meaning here); inside a granted branch everything is kept as it is, empty objects
/// included. A scalar standing where only deeper paths are granted is dropped.
pub fn filter_incoming(op: &Operation, mut record: Value) -> Filtered {
    let mut kept = PathSet::default();
    let mut dropped = PathSet::default();
    let mut buf = String::new();
    let keep = filter(
        &mut record,
        Grant::Partial(&op.receive_trie),
        &mut buf,
        true,
        &mut kept,
        &mut dropped,
    );
    // The root itself is never removed: containers are already emptied in place; a scalar
    // root (never a record an adapter produces) becomes null.
    if !(keep || record.is_object() || record.is_array()) {
        record = Value::Null;
    }
    Filtered {
        kept: record,
        kept_fields: sorted(kept),
        dropped: sorted(dropped),
    }
}

/// Where a subtree stands with respect to a set of grants.
#[derive(Clone, Copy)]
enum Grant<'a> {
    /// Granted whole (an ancestor, or this node, is on the list).
    All,
    /// Some paths below are granted; this node is the trie position.
    Partial(&'a PathTrie),
    /// Nothing below is granted.
    None,
}

impl<'a> Grant<'a> {
    fn child(self, key: &str) -> Grant<'a> {
        match self {
            Grant::All => Grant::All,
            Grant::None => Grant::None,
            Grant::Partial(node) => match node.child(key) {
                Some(child) if child.is_terminal() => Grant::All,
                Some(child) if child.has_children() => Grant::Partial(child),
                _ => Grant::None,
            },
        }
    }
}

/// Appends one key to the path buffer; the caller truncates back to the returned length.
fn push_segment(buf: &mut String, root: bool, key: &str) -> usize {
    let len = buf.len();
    if !root {
        buf.push('.');
    }
    buf.push_str(key);
    len
}

/// An Fx-style hasher (eight bytes per step): paths are hashed once per leaf, where SipHash's
/// flood resistance buys nothing (a caller controls at most its own payload's cost) and a
/// `BTreeSet` would compare long shared prefixes several times per leaf.
#[derive(Default)]
struct PathHasher(u64);

impl Hasher for PathHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut hash = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            hash = (hash.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        hash = (hash.rotate_left(5) ^ u64::from_le_bytes(tail) ^ rest.len() as u64).wrapping_mul(K);
        self.0 = hash;
    }
}

/// A set of leaf paths, deduplicated while walking and sorted once at the end.
type PathSet = HashSet<String, BuildHasherDefault<PathHasher>>;

fn sorted(set: PathSet) -> Vec<String> {
    let mut paths: Vec<String> = set.into_iter().collect();
    paths.sort_unstable();
    paths
}

/// Inserts the current path, allocating only the first time it is seen.
fn note(set: &mut PathSet, path: &str) {
    if !set.contains(path) {
        set.insert(path.to_owned());
    }
}

fn collect_leaves(value: &Value, buf: &mut String, root: bool, out: &mut PathSet) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let len = push_segment(buf, root, key);
                collect_leaves(child, buf, false, out);
                buf.truncate(len);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_leaves(item, buf, root, out);
            }
        }
        _ => note(out, buf),
    }
}

/// Filters `value` in place; returns whether it should stay in its parent.
fn filter(
    value: &mut Value,
    grant: Grant<'_>,
    buf: &mut String,
    root: bool,
    kept: &mut PathSet,
    dropped: &mut PathSet,
) -> bool {
    match grant {
        Grant::All => {
            collect_leaves(value, buf, root, kept);
            true
        }
        Grant::None => {
            collect_leaves(value, buf, root, dropped);
            false
        }
        Grant::Partial(_) => match value {
            Value::Object(map) => {
                map.retain(|key, child| {
                    let len = push_segment(buf, root, key);
                    let keep = filter(child, grant.child(key), buf, false, kept, dropped);
                    buf.truncate(len);
                    keep
                });
                !map.is_empty()
            }
            Value::Array(items) => {
                items.retain_mut(|item| filter(item, grant, buf, root, kept, dropped));
                !items.is_empty()
            }
            _ => {
                note(dropped, buf);
                false
            }
        },
    }
}

#[derive(Default)]
struct Outgoing {
    sent: PathSet,
    unknown: PathSet,
    not_allowed: PathSet,
}

fn walk_outgoing(
    value: &Value,
    vocabulary: Option<&PathTrie>,
    send: Grant<'_>,
    buf: &mut String,
    root: bool,
    acc: &mut Outgoing,
) {
    let empty = match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    match value {
        // An empty object or array below the root: a member all the same. Under a name the
        // vocabulary does not know it is unknown; standing for a field it is that field; where
        // the vocabulary has fields beneath (`{"subject": {}}`) it sends none.
        _ if empty && !root => match vocabulary {
            None => note(&mut acc.unknown, buf),
            Some(node) if node.is_terminal() => note_field(send, buf, acc),
            Some(_) => {}
        },
        Value::Object(map) => {
            for (key, child) in map {
                let len = push_segment(buf, root, key);
                let vocab_child = vocabulary.and_then(|node| node.child(key));
                walk_outgoing(child, vocab_child, send.child(key), buf, false, acc);
                buf.truncate(len);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk_outgoing(item, vocabulary, send, buf, root, acc);
            }
        }
        _ => {
            let known = !root && vocabulary.is_some_and(PathTrie::is_terminal);
            if known {
                note_field(send, buf, acc);
            } else {
                note(&mut acc.unknown, buf);
            }
        }
    }
}

/// A field of the vocabulary at `buf`: sent if the grant allows it, else not allowed.
fn note_field(send: Grant<'_>, buf: &str, acc: &mut Outgoing) {
    if matches!(send, Grant::All) {
        note(&mut acc.sent, buf);
    } else {
        note(&mut acc.not_allowed, buf);
    }
}
