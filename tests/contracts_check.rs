//! `contracts/` as shipped loads; the embedded copy matches it; every kind of broken contract is
//! reported naming the file, the line, the operation and the bad name, all problems at once.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kuzet::contract::{BodyLogging, Contracts, EMBEDDED, LegalBasis, Problem, Role, check};

fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts")
}

/// A private copy of the shipped contracts to break.
fn copy_contracts() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(shipped_dir()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

/// Replaces the one occurrence of `from` in `file` with `to`; returns the 1-based line where
/// the replacement starts.
fn edit(dir: &Path, file: &str, from: &str, to: &str) -> usize {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} must occur once in {file}"
    );
    let at = text.find(from).unwrap();
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    1 + text[..at].matches('\n').count()
}

fn problems(dir: &Path) -> Vec<Problem> {
    match check(dir) {
        Ok(summary) => panic!("broken contracts were accepted: {summary}"),
        Err(errors) => errors.problems,
    }
}

/// Asserts that exactly one problem was found, at this place, mentioning `needle`.
fn assert_one(dir: &Path, file: &str, line: usize, operation: Option<&str>, needle: &str) {
    let found = problems(dir);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_problem(&found[0], file, line, operation, needle);
}

fn assert_problem(p: &Problem, file: &str, line: usize, operation: Option<&str>, needle: &str) {
    assert_eq!(p.file, file, "{p}");
    assert_eq!(p.line, Some(line), "{p}");
    assert_eq!(p.operation.as_deref(), operation, "{p}");
    assert!(p.message.contains(needle), "{p} should mention {needle}");
    let rendered = p.to_string();
    assert!(
        rendered.starts_with(&format!("{file}:{line}: ")),
        "{rendered}"
    );
    if let Some(op) = operation {
        assert!(
            rendered.contains(&format!("operation {op}: ")),
            "{rendered}"
        );
    }
}

#[test]
fn shipped_contracts_load_with_the_policy_rules() {
    let contracts = Contracts::load(&shipped_dir()).unwrap();
    let summary = contracts.summary();
    assert_eq!(summary.recipients, 3);
    assert_eq!(summary.operations, 5);
    assert_eq!(summary.fields, contracts.vocabulary().len());
    assert_eq!(
        summary.to_string(),
        format!(
            "contracts ok: 3 recipients, 5 operations, {} fields",
            summary.fields
        )
    );
    assert_eq!(check(&shipped_dir()).unwrap(), summary);

    let report = contracts.operation("fcb", "credit-report").unwrap();
    assert_eq!(report.callers, [Role::Underwriting]);
    assert_eq!(report.purposes, ["contract_performance"]);
    assert_eq!(report.legal_basis, LegalBasis::Consent);
    assert!(report.safe_to_retry);
    assert_eq!(report.body_logging, BodyLogging::Encrypted);
    assert_eq!(report.send, ["subject.iin"]);
    assert_eq!(report.receive, ["credit_history"]);
    assert_eq!(report.clause, "4.2.1");

    let upload = contracts.operation("fcb", "contract-upload").unwrap();
    assert_eq!(upload.callers, [Role::Reporting]);
    assert_eq!(upload.legal_basis, LegalBasis::Consent);
    assert!(!upload.safe_to_retry);
    assert_eq!(upload.clause, "4.5");

    let income = contracts.operation("gcvp", "income").unwrap();
    assert_eq!(income.send, ["subject.iin"]);
    assert_eq!(income.receive, ["income"]);

    let vehicle = contracts.operation("traffic", "vehicle").unwrap();
    assert_eq!(
        vehicle.send,
        ["subject.iin", "vehicle.vin", "vehicle.plate"]
    );

    let mark = contracts.operation("traffic", "user-mark").unwrap();
    assert_eq!(mark.callers, [Role::Servicing]);
    assert!(!mark.safe_to_retry);
    assert_eq!(
        mark.send,
        [
            "user.iin",
            "user.full_name",
            "contract.number",
            "contract.advance_account_number"
        ]
    );
    assert!(contracts.operation("fcb", "income").is_none());
    assert!(contracts.operation("nobody", "credit-report").is_none());

    // P1 may rest on consent because the bureau law requires it (Art. 26(1)).
    let p1 = contracts.purpose("contract_performance").unwrap();
    assert_eq!(p1.clause, "4.1 P1");
    for basis in [
        LegalBasis::Consent,
        LegalBasis::Contract,
        LegalBasis::LegalObligation,
    ] {
        assert!(p1.legal_bases.contains(&basis));
    }
    let keys: Vec<&str> = contracts.purposes().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "advertising",
            "claim_assignment",
            "contract_performance",
            "evidence",
            "marketing",
            "service_improvement",
            "website_analytics"
        ]
    );
}

#[test]
fn embedded_copy_equals_the_files() {
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(shipped_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            on_disk.insert(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    let embedded: BTreeSet<String> = EMBEDDED.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(embedded, on_disk, "every contract file must be embedded");
    for (name, text) in EMBEDDED {
        let file = std::fs::read_to_string(shipped_dir().join(name)).unwrap();
        assert_eq!(*text, file, "{name} differs from its embedded copy");
    }
    let embedded = Contracts::load_embedded().unwrap();
    assert_eq!(
        embedded.summary(),
        Contracts::load(&shipped_dir()).unwrap().summary()
    );
}

#[test]
fn vocabulary_has_unique_paths_and_known_categories() {
    let contracts = Contracts::load_embedded().unwrap();
    let vocabulary = contracts.vocabulary();
    let policy_categories = [
        "call_recordings",
        "consent_information",
        "contact",
        "financial",
        "identification",
        "obligation_performance",
        "participation",
        "professional",
        "regulatory",
        "service_use",
        "source_of_funds",
        "vehicle",
        "website_actions",
    ];
    let declared: Vec<&str> = vocabulary.categories().keys().map(String::as_str).collect();
    assert_eq!(declared, policy_categories);

    let mut seen = BTreeSet::new();
    for field in vocabulary.iter() {
        assert!(seen.insert(&field.path), "duplicate path {}", field.path);
        assert!(
            vocabulary.categories().contains_key(&field.category),
            "{} has unknown category {}",
            field.path,
            field.category
        );
        assert!(
            !field.description.is_empty(),
            "{} has no description",
            field.path
        );
    }
    // The raw file too: TOML refuses a duplicated key, and the loader says so.
    let text = std::fs::read_to_string(shipped_dir().join("fields.toml")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("\"subject.iin\""))
        .unwrap();
    let doubled = text.replacen(line, &format!("{line}\n{line}"), 1);
    let mut sources: Vec<(&str, &str)> = EMBEDDED.to_vec();
    sources[0] = ("fields.toml", &doubled);
    let errors = Contracts::from_sources(&sources).unwrap_err();
    assert!(
        errors.problems[0].message.contains("invalid TOML"),
        "{errors}"
    );

    // The person, vehicle and user-mark paths the design names, with the policy's categories.
    for (path, category) in [
        ("subject.iin", "identification"),
        ("subject.last_name", "identification"),
        ("subject.first_name", "identification"),
        ("subject.middle_name", "identification"),
        ("subject.birth_date", "identification"),
        ("subject.gender", "identification"),
        ("subject.id_document", "identification"),
        ("subject.phone", "contact"),
        ("subject.email", "contact"),
        ("subject.address", "contact"),
        ("vehicle.vin", "vehicle"),
        ("vehicle.plate", "vehicle"),
        ("user.iin", "identification"),
        ("user.full_name", "identification"),
        ("contract.number", "obligation_performance"),
        ("contract.advance_account_number", "financial"),
        ("income.status", "financial"),
        ("income.contributions.amount.minor", "financial"),
        ("income.contributions.amount.currency", "financial"),
        ("vehicle_status.unpaid_fines.amount.minor", "vehicle"),
        ("public_sources.terror_list.status.code", "regulatory"),
    ] {
        let field = vocabulary
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing"));
        assert_eq!(field.category, category, "{path}");
    }
    // Money is always a minor/currency pair.
    for field in vocabulary.iter() {
        if let Some(stem) = field.path.strip_suffix(".minor") {
            assert!(vocabulary.contains(&format!("{stem}.currency")), "{stem}");
        }
    }
}

#[test]
fn unknown_field_path_in_send() {
    let dir = copy_contracts();
    let line = edit(
        dir.path(),
        "fcb.toml",
        "\"subject.iin\"",
        "\"subject.phonee\"",
    );
    assert_one(
        dir.path(),
        "fcb.toml",
        line,
        Some("credit-report"),
        "unknown field path \"subject.phonee\"",
    );
}

#[test]
fn receive_prefix_must_end_on_a_dot_boundary() {
    let dir = copy_contracts();
    let line = edit(
        dir.path(),
        "gcvp.toml",
        "\"income\",  ",
        "\"income.contrib\",  ",
    );
    assert_one(
        dir.path(),
        "gcvp.toml",
        line,
        Some("income"),
        "unknown field path \"income.contrib\" in \"receive\"",
    );
}

#[test]
fn unknown_purpose() {
    let dir = copy_contracts();
    let line = edit(
        dir.path(),
        "gcvp.toml",
        "purposes = [\"contract_performance\"]",
        "purposes = [\"contract_performanse\"]",
    );
    assert_one(
        dir.path(),
        "gcvp.toml",
        line,
        Some("income"),
        "unknown purpose \"contract_performanse\"",
    );
}

#[test]
fn unknown_role() {
    let dir = copy_contracts();
    let line = edit(
        dir.path(),
        "traffic.toml",
        "callers = [\"servicing\"]",
        "callers = [\"servicing\", \"collector\"]",
    );
    assert_one(
        dir.path(),
        "traffic.toml",
        line,
        Some("user-mark"),
        "unknown role \"collector\"",
    );
}

#[test]
fn unknown_legal_basis() {
    let dir = copy_contracts();
    let line = edit(
        dir.path(),
        "gcvp.toml",
        "legal_basis = \"consent\"",
        "legal_basis = \"goodwill\"",
    );
    assert_one(
        dir.path(),
        "gcvp.toml",
        line,
        Some("income"),
        "unknown legal basis \"goodwill\"",
    );
}

#[test]
fn legal_basis_the_purpose_does_not_allow() {
    let dir = copy_contracts();
    let line = edit(
        dir.path(),
        "fcb.toml",
        "\"consent\"              # Art. 26(1): the subject",
        "\"legitimate_interest\"  # Art. 26(1): the subject",
    );
    assert_one(
        dir.path(),
        "fcb.toml",
        line,
        Some("contract-upload"),
        "legal basis \"legitimate_interest\" is not allowed for purpose \"contract_performance\"",
    );
}

#[test]
fn unknown_keys_are_all_reported() {
    let dir = copy_contracts();
    let op_line = edit(
        dir.path(),
        "traffic.toml",
        "safe_to_retry = true                 # a read",
        "safe_to_retry = true\nretry_forever = true",
    ) + 1;
    let top_line = edit(
        dir.path(),
        "traffic.toml",
        "name = \"Road-traffic safety authority\"",
        "name = \"Road-traffic safety authority\"\nowner = \"police\"",
    ) + 1;
    let found = problems(dir.path());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_problem(
        &found[0],
        "traffic.toml",
        top_line,
        None,
        "unknown key \"owner\"",
    );
    assert_problem(
        &found[1],
        "traffic.toml",
        op_line + 1, // the first edit's line moved down by the second edit's inserted line
        Some("vehicle"),
        "unknown key \"retry_forever\"",
    );
}

#[test]
fn duplicate_recipient_and_mismatched_file_name() {
    let dir = copy_contracts();
    let line = edit(
        dir.path(),
        "gcvp.toml",
        "recipient = \"gcvp\"",
        "recipient = \"fcb\"",
    );
    let found = problems(dir.path());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_problem(
        &found[0],
        "gcvp.toml",
        line,
        None,
        "recipient \"fcb\" does not match the file name (expected \"gcvp\")",
    );
    assert_problem(
        &found[1],
        "gcvp.toml",
        line,
        None,
        "duplicate recipient \"fcb\" (also in fcb.toml)",
    );
}

#[test]
fn bad_body_logging() {
    let dir = copy_contracts();
    let line = edit(
        dir.path(),
        "fcb.toml",
        "body_logging = \"metadata\"",
        "body_logging = \"plaintext\"",
    );
    assert_one(
        dir.path(),
        "fcb.toml",
        line,
        Some("contract-upload"),
        "unknown body_logging \"plaintext\"",
    );
}

#[test]
fn empty_callers() {
    let dir = copy_contracts();
    let line = edit(
        dir.path(),
        "fcb.toml",
        "callers = [\"reporting\"]",
        "callers = []",
    );
    assert_one(
        dir.path(),
        "fcb.toml",
        line,
        Some("contract-upload"),
        "\"callers\" is empty",
    );
}

#[test]
fn unknown_data_category_in_fields_and_purposes() {
    let dir = copy_contracts();
    let field_line = edit(
        dir.path(),
        "fields.toml",
        "\"subject.email\" = { category = \"contact\"",
        "\"subject.email\" = { category = \"contacts\"",
    );
    let purpose_line = edit(
        dir.path(),
        "purposes.toml",
        "categories = [\"website_actions\"]",
        "categories = [\"web_actions\"]",
    );
    let found = problems(dir.path());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_problem(
        &found[0],
        "fields.toml",
        field_line,
        None,
        "unknown data category \"contacts\"",
    );
    assert_problem(
        &found[1],
        "purposes.toml",
        purpose_line,
        None,
        "unknown data category \"web_actions\"",
    );
}

#[test]
fn a_grant_outside_the_purposes_categories() {
    // P1 does not cover regulatory data: the bureau's public-source marks may not be received.
    let dir = copy_contracts();
    let line = edit(
        dir.path(),
        "fcb.toml",
        "\"credit_history\",",
        "\"credit_history\", \"public_sources\",",
    );
    assert_one(
        dir.path(),
        "fcb.toml",
        line,
        Some("credit-report"),
        "\"receive\" entry \"public_sources\" grants \"public_sources.alimony_debtors.",
    );
}

#[test]
fn operation_clause_must_be_one_of_the_recipients() {
    let dir = copy_contracts();
    let line = edit(
        dir.path(),
        "gcvp.toml",
        "clause = \"4.2.2\"",
        "clause = \"4.2.3\"",
    );
    assert_one(
        dir.path(),
        "gcvp.toml",
        line,
        Some("income"),
        "clause \"4.2.3\" is not one of the recipient's clauses",
    );
}

#[test]
fn toml_syntax_error_names_the_line() {
    let dir = copy_contracts();
    let line = edit(
        dir.path(),
        "traffic.toml",
        "[operations.user-mark]",
        "[operations.user-mark",
    );
    assert_one(dir.path(), "traffic.toml", line, None, "invalid TOML");
}

#[test]
fn missing_vocabulary() {
    let dir = copy_contracts();
    std::fs::remove_file(dir.path().join("fields.toml")).unwrap();
    let found = problems(dir.path());
    assert_eq!(found[0].file, "fields.toml");
    assert_eq!(found[0].line, None);
    assert!(found[0].message.contains("missing"), "{}", found[0]);
}

#[test]
fn several_problems_are_reported_together_in_order() {
    let dir = copy_contracts();
    let role_line = edit(
        dir.path(),
        "fcb.toml",
        "callers = [\"underwriting\"]",
        "callers = [\"underwriter\"]",
    );
    let field_line = edit(
        dir.path(),
        "fcb.toml",
        "\"subject.iin\"",
        "\"subject.iin\", \"subject.shoe_size\"",
    );
    let key_line = edit(
        dir.path(),
        "gcvp.toml",
        "body_logging = \"encrypted\"",
        "body_loging = \"encrypted\"",
    );
    let found = problems(dir.path());
    assert_eq!(found.len(), 4, "{found:#?}");
    assert_problem(
        &found[0],
        "fcb.toml",
        role_line,
        Some("credit-report"),
        "unknown role \"underwriter\"",
    );
    assert_problem(
        &found[1],
        "fcb.toml",
        field_line,
        Some("credit-report"),
        "unknown field path \"subject.shoe_size\"",
    );
    // The misspelt key is both unknown and leaves the real one missing.
    let gcvp: Vec<&Problem> = found[2..].iter().collect();
    assert!(gcvp.iter().all(|p| p.file == "gcvp.toml"));
    assert!(
        gcvp.iter()
            .any(|p| p.line == Some(key_line) && p.message.contains("unknown key \"body_loging\""))
    );
    assert!(
        gcvp.iter()
            .any(|p| p.message.contains("missing key \"body_logging\""))
    );
    // The whole report, one problem per line, for `kuzet contracts check`.
    let rendered = check(dir.path()).unwrap_err().to_string();
    assert_eq!(rendered.lines().count(), 4, "{rendered}");
}

#[test]
fn a_missing_directory_is_a_problem_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let found = problems(&dir.path().join("absent"));
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("cannot read"), "{}", found[0]);
}
