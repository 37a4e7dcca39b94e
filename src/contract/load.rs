//! Loading and validating `contracts/`: the field vocabulary, the purposes and one file per
//! recipient.
//!
//! Everything is checked at start-up (and by `kuzet contracts check`), and every problem is
//! collected, not just the first, each naming the file, the line, the operation and the bad
//! name. The files are walked as spanned TOML trees (`toml::de::DeTable`) rather than through
//! serde so that several unknown keys in one file are all reported with their lines.
//!
//! This module must never accept a contract it could not fully check: a problem anywhere means
//! no `Contracts` value at all (the gateway then refuses to start).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::model::{
    BodyLogging, FieldDef, LegalBasis, Operation, PathTrie, Purpose, Recipient, Retention, Role,
    Vocabulary,
};

/// The default contracts, compiled into the binary: `(file name, content)`. The gateway falls
/// back to them when `./contracts` does not exist; a test keeps them equal to the files.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("fields.toml", include_str!("../../contracts/fields.toml")),
    (
        "purposes.toml",
        include_str!("../../contracts/purposes.toml"),
    ),
    ("fcb.toml", include_str!("../../contracts/fcb.toml")),
    ("gcvp.toml", include_str!("../../contracts/gcvp.toml")),
    ("traffic.toml", include_str!("../../contracts/traffic.toml")),
];

const FIELDS_FILE: &str = "fields.toml";
const PURPOSES_FILE: &str = "purposes.toml";

/// One problem found in the contracts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file name, e.g. `fcb.toml`.
    pub file: String,
    /// The 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// The operation the problem is in, for recipient files.
    pub operation: Option<String>,
    /// What is wrong, naming the bad name (never a personal value: contracts hold none).
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if let Some(operation) = &self.operation {
            write!(f, "operation {operation}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found while loading the contracts, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ContractErrors {
    /// The problems; never empty.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ContractErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// What `kuzet contracts check` reports when the contracts are sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Recipient files.
    pub recipients: usize,
    /// Operations over all recipients.
    pub operations: usize,
    /// Vocabulary paths.
    pub fields: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "contracts ok: {} recipients, {} operations, {} fields",
            self.recipients, self.operations, self.fields
        )
    }
}

/// Validates the contracts in `dir` (for `kuzet contracts check`).
pub fn check(dir: &Path) -> Result<Summary, ContractErrors> {
    Contracts::load(dir).map(|contracts| contracts.summary())
}

/// The loaded, validated contracts.
#[derive(Debug, Clone)]
pub struct Contracts {
    vocabulary: Vocabulary,
    purposes: BTreeMap<String, Purpose>,
    recipients: BTreeMap<String, Recipient>,
}

impl Contracts {
    /// Loads every `*.toml` file in `dir`: `fields.toml`, `purposes.toml` and one file per
    /// recipient (any other `.toml` file).
    pub fn load(dir: &Path) -> Result<Self, ContractErrors> {
        let dir_name = dir.display().to_string();
        let fail = |message: String| ContractErrors {
            problems: vec![Problem {
                file: dir_name.clone(),
                line: None,
                operation: None,
                message,
            }],
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| fail(format!("cannot read the contracts directory: {e}")))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| fail(format!("cannot list the directory: {e}")))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".toml") && entry.path().is_file() {
                names.push(name);
            }
        }
        names.sort();
        let mut problems = Vec::new();
        let mut sources = Vec::new();
        for name in names {
            match std::fs::read_to_string(dir.join(&name)) {
                Ok(text) => sources.push((name, text)),
                Err(e) => problems.push(Problem {
                    file: name,
                    line: None,
                    operation: None,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        let borrowed: Vec<(&str, &str)> = sources
            .iter()
            .map(|(name, text)| (name.as_str(), text.as_str()))
            .collect();
        match Self::from_sources(&borrowed) {
            Ok(contracts) if problems.is_empty() => Ok(contracts),
            Ok(_) => Err(ContractErrors { problems }),
            Err(mut errors) => {
                problems.append(&mut errors.problems);
                Err(ContractErrors { problems })
            }
        }
    }

    /// Loads the contracts compiled into the binary ([`EMBEDDED`]).
    pub fn load_embedded() -> Result<Self, ContractErrors> {
        Self::from_sources(EMBEDDED)
    }

    /// What `serve` loads: the contracts in `dir`, or the embedded copy where `dir` does not
    /// exist (then `true`).
    pub fn load_or_embedded(dir: &Path) -> Result<(Self, bool), ContractErrors> {
        if dir.exists() {
            Self::load(dir).map(|c| (c, false))
        } else {
            Self::load_embedded().map(|c| (c, true))
        }
    }

    /// Parses and validates contracts given as `(file name, content)` pairs. `fields.toml` and
    /// `purposes.toml` are required; every other file is a recipient file named after its
    /// recipient (`fcb.toml` holds `recipient = "fcb"`).
    pub fn from_sources(sources: &[(&str, &str)]) -> Result<Self, ContractErrors> {
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        for (name, _) in sources {
            if !seen.insert(*name) {
                problems.push(file_problem(name, "the file is given twice"));
            }
        }
        let find = |wanted: &str| sources.iter().find(|(name, _)| *name == wanted);

        let vocabulary = match find(FIELDS_FILE) {
            Some((name, text)) => parse_fields(&mut Diag::new(name, text, &mut problems)),
            None => {
                problems.push(file_problem(FIELDS_FILE, "missing: the field vocabulary"));
                None
            }
        };
        let purposes = match find(PURPOSES_FILE) {
            Some((name, text)) => parse_purposes(
                &mut Diag::new(name, text, &mut problems),
                vocabulary.as_ref(),
            ),
            None => {
                problems.push(file_problem(PURPOSES_FILE, "missing: the purposes"));
                None
            }
        };

        let mut recipients: BTreeMap<String, Recipient> = BTreeMap::new();
        let mut recipient_files: BTreeMap<String, String> = BTreeMap::new();
        for (name, text) in sources {
            if *name == FIELDS_FILE || *name == PURPOSES_FILE {
                continue;
            }
            let mut diag = Diag::new(name, text, &mut problems);
            let Some((recipient, span)) =
                parse_recipient(&mut diag, vocabulary.as_ref(), purposes.as_ref())
            else {
                continue;
            };
            if let Some(other) = recipient_files.get(&recipient.key) {
                let message = format!(
                    "duplicate recipient \"{}\" (also in {other})",
                    recipient.key
                );
                diag.at(&span, None, message);
                continue;
            }
            recipient_files.insert(recipient.key.clone(), (*name).to_owned());
            recipients.insert(recipient.key.clone(), recipient);
        }

        // Report in reading order: files as given, lines ascending within a file (stable, so
        // problems on one line keep the order they were found in).
        problems.sort_by_key(|p| {
            let file = sources.iter().position(|(name, _)| *name == p.file);
            (file, p.line)
        });
        match (vocabulary, purposes) {
            (Some(vocabulary), Some(purposes)) if problems.is_empty() => Ok(Contracts {
                vocabulary,
                purposes,
                recipients,
            }),
            _ => Err(ContractErrors { problems }),
        }
    }

    /// The operation `op` of `recipient`.
    pub fn operation(&self, recipient: &str, op: &str) -> Option<&Operation> {
        self.recipients.get(recipient)?.operations.get(op)
    }

    /// The recipient with this key.
    pub fn recipient(&self, key: &str) -> Option<&Recipient> {
        self.recipients.get(key)
    }

    /// All recipients, sorted by key.
    pub fn recipients(&self) -> impl Iterator<Item = &Recipient> {
        self.recipients.values()
    }

    /// All operations, sorted by recipient then name.
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.recipients.values().flat_map(|r| r.operations.values())
    }

    /// The purpose with this key.
    pub fn purpose(&self, key: &str) -> Option<&Purpose> {
        self.purposes.get(key)
    }

    /// All purposes, sorted by key.
    pub fn purposes(&self) -> impl Iterator<Item = &Purpose> {
        self.purposes.values()
    }

    /// The field vocabulary.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// Counts for `kuzet contracts check`.
    pub fn summary(&self) -> Summary {
        Summary {
            recipients: self.recipients.len(),
            operations: self.operations().count(),
            fields: self.vocabulary.len(),
        }
    }
}

fn file_problem(file: &str, message: &str) -> Problem {
    Problem {
        file: file.to_owned(),
        line: None,
        operation: None,
        message: message.to_owned(),
    }
}

/// A string read from a contract, with where it was.
struct Named {
    value: String,
    span: Range<usize>,
}

/// Collects the problems of one file, turning byte spans into lines.
struct Diag<'a> {
    file: &'a str,
    text: &'a str,
    problems: &'a mut Vec<Problem>,
}

impl<'a> Diag<'a> {
    fn new(file: &'a str, text: &'a str, problems: &'a mut Vec<Problem>) -> Self {
        Diag {
            file,
            text,
            problems,
        }
    }

    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
    }

    fn at(&mut self, span: &Range<usize>, operation: Option<&str>, message: String) {
        let line = Some(self.line(span.start));
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line,
            operation: operation.map(str::to_owned),
            message,
        });
    }

    /// Parses the file; a syntax error (or a duplicate key, which TOML forbids) is reported and
    /// the file skipped.
    fn parse(&mut self) -> Option<Spanned<DeTable<'a>>> {
        match DeTable::parse(self.text) {
            Ok(table) => Some(table),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let message = format!("invalid TOML: {}", e.message().trim());
                self.at(&span, None, message);
                None
            }
        }
    }

    fn check_keys(&mut self, op: Option<&str>, table: &DeTable<'_>, allowed: &[&str]) {
        for (key, _) in table.iter() {
            let name: &str = key.get_ref();
            if !allowed.contains(&name) {
                let message = format!(
                    "unknown key \"{name}\" (expected one of: {})",
                    allowed.join(", ")
                );
                self.at(&key.span(), op, message);
            }
        }
    }

    fn required<'t, 'i>(
        &mut self,
        op: Option<&str>,
        table: &'t DeTable<'i>,
        table_span: &Range<usize>,
        key: &str,
    ) -> Option<&'t Spanned<DeValue<'i>>> {
        let value = table.get(key);
        if value.is_none() {
            self.at(table_span, op, format!("missing key \"{key}\""));
        }
        value
    }

    fn string(
        &mut self,
        op: Option<&str>,
        key: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<Named> {
        match value.get_ref() {
            DeValue::String(s) => Some(Named {
                value: s.to_string(),
                span: value.span(),
            }),
            other => {
                let message = format!("\"{key}\" must be a string, not {}", other.type_str());
                self.at(&value.span(), op, message);
                None
            }
        }
    }

    fn boolean(
        &mut self,
        op: Option<&str>,
        key: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                let message = format!("\"{key}\" must be true or false, not {}", other.type_str());
                self.at(&value.span(), op, message);
                None
            }
        }
    }

    fn strings(
        &mut self,
        op: Option<&str>,
        key: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<Vec<Named>> {
        let DeValue::Array(items) = value.get_ref() else {
            let message = format!(
                "\"{key}\" must be an array of strings, not {}",
                value.get_ref().type_str()
            );
            self.at(&value.span(), op, message);
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut seen = BTreeSet::new();
        for item in items.iter() {
            if let Some(named) = self.string(op, key, item) {
                if !seen.insert(named.value.clone()) {
                    let message = format!("\"{key}\" lists \"{}\" twice", named.value);
                    self.at(&named.span, op, message);
                }
                out.push(named);
            }
        }
        Some(out)
    }

    fn table<'t, 'i>(
        &mut self,
        op: Option<&str>,
        key: &str,
        value: &'t Spanned<DeValue<'i>>,
    ) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                let message = format!("\"{key}\" must be a table, not {}", other.type_str());
                self.at(&value.span(), op, message);
                None
            }
        }
    }
}

/// A key of a category, purpose or role: lower-case ASCII words joined by `_`.
fn is_key(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// An operation or recipient name: lower-case ASCII words joined by `-` or `_`. Every key a
/// contract declares (purposes and categories too) is one.
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A field path: one or more keys joined by dots.
fn is_path(path: &str) -> bool {
    path.split('.').all(is_key)
}

fn parse_fields(diag: &mut Diag<'_>) -> Option<Vocabulary> {
    let root = diag.parse()?;
    let root_span = root.span();
    let root = root.get_ref();
    diag.check_keys(None, root, &["categories", "fields"]);

    let mut vocabulary = Vocabulary::default();
    let categories_table = diag
        .required(None, root, &root_span, "categories")
        .and_then(|v| diag.table(None, "categories", v));
    for (key, value) in categories_table.into_iter().flat_map(|t| t.iter()) {
        let name: &str = key.get_ref();
        if !is_key(name) {
            diag.at(&key.span(), None, format!("bad category key \"{name}\""));
        }
        if let Some(description) = diag.string(None, name, value) {
            vocabulary
                .categories
                .insert(name.to_owned(), description.value);
        }
    }

    let fields_table = diag
        .required(None, root, &root_span, "fields")
        .and_then(|v| diag.table(None, "fields", v));
    let mut lines = BTreeMap::new();
    for (key, value) in fields_table.into_iter().flat_map(|t| t.iter()) {
        let path: &str = key.get_ref();
        if !is_path(path) {
            let message =
                format!("bad field path \"{path}\" (lower-case keys joined by dots expected)");
            diag.at(&key.span(), None, message);
            continue;
        }
        let Some(entry) = diag.table(None, path, value) else {
            continue;
        };
        let context = format!("field \"{path}\": ");
        let before = diag.problems.len();
        diag.check_keys(None, entry, &["category", "description"]);
        let category = diag
            .required(None, entry, &key.span(), "category")
            .and_then(|v| diag.string(None, "category", v));
        let description = diag
            .required(None, entry, &key.span(), "description")
            .and_then(|v| diag.string(None, "description", v));
        for problem in &mut diag.problems[before..] {
            problem.message.insert_str(0, &context);
        }
        let (Some(category), Some(description)) = (category, description) else {
            continue;
        };
        if categories_table.is_some() && !vocabulary.categories.contains_key(&category.value) {
            let message = format!(
                "field \"{path}\": unknown data category \"{}\"",
                category.value
            );
            diag.at(&category.span, None, message);
        }
        lines.insert(path.to_owned(), key.span());
        vocabulary.trie.insert(path);
        vocabulary.fields.insert(
            path.to_owned(),
            FieldDef {
                path: path.to_owned(),
                category: category.value,
                description: description.value,
            },
        );
    }

    // A path is a leaf or a branch, never both: otherwise `{"a": {"b": 1}}` and `{"a": 1}` would
    // both be "the field a" and prefix grants would become ambiguous.
    for (path, span) in &lines {
        let branch_of = vocabulary
            .under(path)
            .find(|field| field.path.len() > path.len());
        if let Some(field) = branch_of {
            let message = format!(
                "field path \"{path}\" is both a leaf and a branch (of \"{}\")",
                field.path
            );
            diag.at(span, None, message);
        }
    }
    Some(vocabulary)
}

fn parse_purposes(
    diag: &mut Diag<'_>,
    vocabulary: Option<&Vocabulary>,
) -> Option<BTreeMap<String, Purpose>> {
    let root = diag.parse()?;
    let root_span = root.span();
    let root = root.get_ref();
    diag.check_keys(None, root, &["purposes"]);
    let table = diag
        .required(None, root, &root_span, "purposes")
        .and_then(|v| diag.table(None, "purposes", v))?;

    let mut purposes = BTreeMap::new();
    for (key, value) in table.iter() {
        let name: &str = key.get_ref();
        if !is_key(name) {
            diag.at(&key.span(), None, format!("bad purpose key \"{name}\""));
        }
        let Some(entry) = diag.table(None, name, value) else {
            continue;
        };
        let before = diag.problems.len();
        diag.check_keys(
            None,
            entry,
            &["clause", "description", "legal_bases", "categories"],
        );
        let span = key.span();
        let clause = diag
            .required(None, entry, &span, "clause")
            .and_then(|v| diag.string(None, "clause", v));
        let description = diag
            .required(None, entry, &span, "description")
            .and_then(|v| diag.string(None, "description", v));
        let bases = diag
            .required(None, entry, &span, "legal_bases")
            .and_then(|v| diag.strings(None, "legal_bases", v))
            .unwrap_or_default();
        let categories = diag
            .required(None, entry, &span, "categories")
            .and_then(|v| diag.strings(None, "categories", v))
            .unwrap_or_default();

        let mut legal_bases = Vec::new();
        for basis in &bases {
            match basis.value.parse::<LegalBasis>() {
                Ok(b) => legal_bases.push(b),
                Err(e) => diag.at(&basis.span, None, e.to_string()),
            }
        }
        if bases.is_empty() {
            diag.at(&span, None, "\"legal_bases\" is empty".to_owned());
        }
        if let Some(vocabulary) = vocabulary {
            for category in &categories {
                if !vocabulary.categories.contains_key(&category.value) {
                    let message = format!("unknown data category \"{}\"", category.value);
                    diag.at(&category.span, None, message);
                }
            }
        }
        let context = format!("purpose {name}: ");
        for problem in &mut diag.problems[before..] {
            problem.message.insert_str(0, &context);
        }
        if let (Some(clause), Some(description)) = (clause, description) {
            purposes.insert(
                name.to_owned(),
                Purpose {
                    key: name.to_owned(),
                    clause: clause.value,
                    description: description.value,
                    legal_bases,
                    categories: categories.into_iter().map(|c| c.value).collect(),
                },
            );
        }
    }
    Some(purposes)
}

/// Parses one recipient file; returns the recipient (possibly with problems already reported:
/// the caller only builds `Contracts` when there are none) and the span of its `recipient` key.
fn parse_recipient(
    diag: &mut Diag<'_>,
    vocabulary: Option<&Vocabulary>,
    purposes: Option<&BTreeMap<String, Purpose>>,
) -> Option<(Recipient, Range<usize>)> {
    let Some(stem) = diag.file.strip_suffix(".toml") else {
        diag.at(
            &(0..0),
            None,
            "a contract file name must end in .toml".to_owned(),
        );
        return None;
    };
    let stem = stem.to_owned();
    let root = diag.parse()?;
    let root_span = root.span();
    let root = root.get_ref();
    diag.check_keys(None, root, &["recipient", "name", "clauses", "operations"]);

    let key = diag
        .required(None, root, &root_span, "recipient")
        .and_then(|v| diag.string(None, "recipient", v));
    let name = diag
        .required(None, root, &root_span, "name")
        .and_then(|v| diag.string(None, "name", v));
    let clauses = diag
        .required(None, root, &root_span, "clauses")
        .and_then(|v| diag.strings(None, "clauses", v))
        .unwrap_or_default();
    let key = key?;
    if key.value != stem {
        let message = format!(
            "recipient \"{}\" does not match the file name (expected \"{stem}\")",
            key.value
        );
        diag.at(&key.span, None, message);
    } else if !is_name(&key.value) {
        let message = format!("bad recipient key \"{}\"", key.value);
        diag.at(&key.span, None, message);
    }
    let clause_names: Vec<String> = clauses.into_iter().map(|c| c.value).collect();

    let mut operations = BTreeMap::new();
    let operations_table = diag
        .required(None, root, &root_span, "operations")
        .and_then(|v| diag.table(None, "operations", v));
    if let Some(table) = operations_table {
        if table.is_empty() {
            let span = root.get("operations").map(|v| v.span()).unwrap_or(0..0);
            diag.at(&span, None, "no operations".to_owned());
        }
        for (op_key, value) in table.iter() {
            let op_name: &str = op_key.get_ref();
            let span = op_key.span();
            if !is_name(op_name) {
                diag.at(&span, None, format!("bad operation name \"{op_name}\""));
            }
            let Some(entry) = diag.table(Some(op_name), op_name, value) else {
                continue;
            };
            let context = OperationContext {
                recipient: &key.value,
                name: op_name,
                span,
                clauses: &clause_names,
                vocabulary,
                purposes,
            };
            if let Some(operation) = parse_operation(diag, &context, entry) {
                operations.insert(op_name.to_owned(), operation);
            }
        }
    }

    let recipient = Recipient {
        key: key.value.clone(),
        name: name.map(|n| n.value).unwrap_or_default(),
        clauses: clause_names,
        operations,
    };
    Some((recipient, key.span))
}

struct OperationContext<'a> {
    recipient: &'a str,
    name: &'a str,
    span: Range<usize>,
    clauses: &'a [String],
    vocabulary: Option<&'a Vocabulary>,
    purposes: Option<&'a BTreeMap<String, Purpose>>,
}

fn parse_operation(
    diag: &mut Diag<'_>,
    ctx: &OperationContext<'_>,
    entry: &DeTable<'_>,
) -> Option<Operation> {
    let op = Some(ctx.name);
    let span = &ctx.span;
    diag.check_keys(
        op,
        entry,
        &[
            "description",
            "clause",
            "callers",
            "purposes",
            "legal_basis",
            "safe_to_retry",
            "body_logging",
            "retention",
            "send",
            "receive",
        ],
    );
    let description = entry
        .get("description")
        .and_then(|v| diag.string(op, "description", v));
    let clause = diag
        .required(op, entry, span, "clause")
        .and_then(|v| diag.string(op, "clause", v));
    let callers = diag
        .required(op, entry, span, "callers")
        .and_then(|v| diag.strings(op, "callers", v).map(|list| (list, v.span())));
    let purposes = diag
        .required(op, entry, span, "purposes")
        .and_then(|v| diag.strings(op, "purposes", v).map(|list| (list, v.span())));
    let legal_basis = diag
        .required(op, entry, span, "legal_basis")
        .and_then(|v| diag.string(op, "legal_basis", v));
    let safe_to_retry = diag
        .required(op, entry, span, "safe_to_retry")
        .and_then(|v| diag.boolean(op, "safe_to_retry", v));
    let body_logging = diag
        .required(op, entry, span, "body_logging")
        .and_then(|v| diag.string(op, "body_logging", v));
    let retention = entry.get("retention").and_then(|v| {
        let text = diag.string(op, "retention", v)?;
        match text.value.parse::<Retention>() {
            Ok(r) => Some(r),
            Err(e) => {
                diag.at(&text.span, op, e);
                None
            }
        }
    });
    let send = diag
        .required(op, entry, span, "send")
        .and_then(|v| diag.strings(op, "send", v).map(|list| (list, v.span())));
    let receive = diag
        .required(op, entry, span, "receive")
        .and_then(|v| diag.strings(op, "receive", v));

    if let Some(clause) = &clause
        && !ctx.clauses.contains(&clause.value)
    {
        let message = format!(
            "clause \"{}\" is not one of the recipient's clauses ({})",
            clause.value,
            ctx.clauses.join(", ")
        );
        diag.at(&clause.span, op, message);
    }

    let mut roles = Vec::new();
    if let Some((list, list_span)) = &callers {
        if list.is_empty() {
            diag.at(
                list_span,
                op,
                "\"callers\" is empty: nobody could call it".to_owned(),
            );
        }
        for caller in list {
            match caller.value.parse::<Role>() {
                Ok(role) => roles.push(role),
                Err(e) => diag.at(&caller.span, op, e.to_string()),
            }
        }
    }

    let basis = legal_basis
        .as_ref()
        .and_then(|b| match b.value.parse::<LegalBasis>() {
            Ok(basis) => Some(basis),
            Err(e) => {
                diag.at(&b.span, op, e.to_string());
                None
            }
        });

    // The purposes this operation may serve, as loaded (for the basis and category checks).
    let mut known_purposes: Vec<&Purpose> = Vec::new();
    if let Some((list, list_span)) = &purposes {
        if list.is_empty() {
            diag.at(list_span, op, "\"purposes\" is empty".to_owned());
        }
        for purpose in list {
            match ctx.purposes.map(|all| all.get(&purpose.value)) {
                Some(Some(p)) => known_purposes.push(p),
                Some(None) => {
                    let message = format!("unknown purpose \"{}\"", purpose.value);
                    diag.at(&purpose.span, op, message);
                }
                // purposes.toml itself is broken; its problems are already reported.
                None => {}
            }
        }
    }
    if let (Some(basis), Some(named)) = (basis, &legal_basis) {
        for purpose in &known_purposes {
            if !purpose.legal_bases.contains(&basis) {
                let allowed: Vec<&str> = purpose.legal_bases.iter().map(|b| b.as_str()).collect();
                let message = format!(
                    "legal basis \"{basis}\" is not allowed for purpose \"{}\" ({} allows: {})",
                    purpose.key,
                    purpose.clause,
                    allowed.join(", ")
                );
                diag.at(&named.span, op, message);
            }
        }
    }

    let body = body_logging
        .as_ref()
        .and_then(|b| match b.value.parse::<BodyLogging>() {
            Ok(mode) => Some(mode),
            Err(e) => {
                diag.at(&b.span, op, e.to_string());
                None
            }
        });

    if body == Some(BodyLogging::Encrypted)
        && retention.is_none()
        && !entry.contains_key("retention")
    {
        diag.at(
            span,
            op,
            "missing key \"retention\": an operation that logs bodies says how long they stay \
             readable (policy 8.2), e.g. retention = \"5y\""
                .to_owned(),
        );
    }
    if let Some((list, list_span)) = &send
        && list.is_empty()
    {
        diag.at(list_span, op, "\"send\" is empty".to_owned());
    }
    let send = send.map(|(list, _)| list).unwrap_or_default();
    let receive = receive.unwrap_or_default();
    let allowed_categories: BTreeSet<&str> = known_purposes
        .iter()
        .flat_map(|p| p.categories.iter().map(String::as_str))
        .collect();
    let purposes_complete = purposes
        .as_ref()
        .is_some_and(|(list, _)| list.len() == known_purposes.len());
    for (direction, grants) in [("send", &send), ("receive", &receive)] {
        for grant in grants.iter() {
            check_grant(
                diag,
                op,
                direction,
                grant,
                ctx.vocabulary,
                purposes_complete.then_some(&allowed_categories),
            );
        }
    }

    let operation = Operation {
        recipient: ctx.recipient.to_owned(),
        name: ctx.name.to_owned(),
        description: description.map(|d| d.value).unwrap_or_default(),
        clause: clause?.value,
        callers: roles,
        purposes: purposes?.0.into_iter().map(|p| p.value).collect(),
        legal_basis: basis?,
        safe_to_retry: safe_to_retry?,
        body_logging: body?,
        retention,
        send_trie: trie_of(&send),
        receive_trie: trie_of(&receive),
        send: send.into_iter().map(|n| n.value).collect(),
        receive: receive.into_iter().map(|n| n.value).collect(),
    };
    Some(operation)
}

/// Checks one `send`/`receive` entry: it must name a vocabulary path or a prefix of some (on a
/// dot boundary), and every field it grants must be of a category one of the operation's
/// purposes covers (policy 4.1's table).
fn check_grant(
    diag: &mut Diag<'_>,
    op: Option<&str>,
    direction: &str,
    grant: &Named,
    vocabulary: Option<&Vocabulary>,
    allowed_categories: Option<&BTreeSet<&str>>,
) {
    if !is_path(&grant.value) {
        let message = format!("bad field path \"{}\" in \"{direction}\"", grant.value);
        diag.at(&grant.span, op, message);
        return;
    }
    let Some(vocabulary) = vocabulary else {
        return;
    };
    let mut granted = vocabulary.under(&grant.value).peekable();
    if granted.peek().is_none() {
        let message = format!("unknown field path \"{}\" in \"{direction}\"", grant.value);
        diag.at(&grant.span, op, message);
        return;
    }
    let Some(allowed) = allowed_categories else {
        return;
    };
    let mut reported = BTreeSet::new();
    for field in granted {
        if !allowed.contains(field.category.as_str()) && reported.insert(field.category.as_str()) {
            let message = format!(
                "\"{direction}\" entry \"{}\" grants \"{}\" of data category \"{}\", which none of the operation's purposes allows",
                grant.value, field.path, field.category
            );
            diag.at(&grant.span, op, message);
        }
    }
}

fn trie_of(paths: &[Named]) -> PathTrie {
    let mut trie = PathTrie::default();
    for path in paths {
        trie.insert(&path.value);
    }
    trie
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn embedded_contracts_load() {
        let contracts = Contracts::load_embedded().unwrap();
        let op = contracts.operation("fcb", "credit-report").unwrap();
        assert_eq!(op.legal_basis, LegalBasis::Consent);
        assert_eq!(op.callers, vec![Role::Underwriting]);
        assert!(op.may_receive("credit_history.existing_contracts.code"));
        assert!(!op.may_receive("identity.iin"));
    }

    #[test]
    fn lines_are_one_based() {
        let mut problems = Vec::new();
        let diag = Diag::new("x.toml", "a\nb\nc", &mut problems);
        assert_eq!(diag.line(0), 1);
        assert_eq!(diag.line(2), 2);
        assert_eq!(diag.line(4), 3);
        assert_eq!(diag.line(99), 3);
    }
}
