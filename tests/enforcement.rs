//! Enforcement against the shipped contracts: roles and purposes, outgoing fields (unknown vs
//! not allowed), incoming filtering with prefix grants, and a property test over arbitrary trees.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::sync::OnceLock;

use kuzet::contract::{
    Contracts, Denial, EMBEDDED, Operation, Role, authorize, check_outgoing, filter_incoming,
    flatten,
};
use kuzet_ident::Iin;
use proptest::prelude::*;
use serde_json::{Value, json};

fn shipped() -> Contracts {
    Contracts::load_embedded().unwrap()
}

/// The shipped contracts plus a test recipient whose grants mix whole branches and deep leaves.
fn with_lab() -> &'static Contracts {
    static LAB_CONTRACTS: OnceLock<Contracts> = OnceLock::new();
    LAB_CONTRACTS.get_or_init(load_with_lab)
}

fn load_with_lab() -> Contracts {
    const LAB: &str = r#"
recipient = "lab"
name = "Test recipient"
clauses = ["4.2.1"]

[operations.mixed]
clause = "4.2.1"
callers = ["underwriting"]
purposes = ["contract_performance"]
legal_basis = "consent"
safe_to_retry = true
body_logging = "metadata"
send = ["subject.iin", "loan.borrower"]
receive = ["credit_history", "income.contributions.amount", "vehicle_status.registration.vin"]
"#;
    let mut sources = EMBEDDED.to_vec();
    sources.push(("lab.toml", LAB));
    Contracts::from_sources(&sources).unwrap()
}

fn op<'a>(contracts: &'a Contracts, recipient: &str, name: &str) -> &'a Operation {
    contracts.operation(recipient, name).unwrap()
}

fn synthetic_iin() -> String {
    let birth = time::macros::date!(1987 - 05 - 12);
    Iin::synthesize(birth, true, 4321)
        .unwrap()
        .expose()
        .to_owned()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A bureau answer as the adapter's typed record serialises: the credit history plus the parts
/// of the report that policy 4.2.1 does not let the lender receive.
fn bureau_record() -> Value {
    json!({
        "credit_history": {
            "summary": {
                "existing_contracts": 2,
                "total_outstanding_debt": {"minor": 120_000_000_i64, "currency": "KZT"}
            },
            "existing_contracts": [
                {
                    "code": "C-1",
                    "total_amount": {"minor": 50_000_000_i64, "currency": "KZT"},
                    "collaterals": [
                        {"type": "car", "value": {"minor": 300_000_000_i64, "currency": "KZT"}},
                        {"type": "deposit", "value": {"minor": 1_000_000_i64, "currency": "KZT"}}
                    ],
                    "payments": [{"month": "2025-01", "days_overdue": 0}]
                },
                {"code": "C-2", "collaterals": [], "days_overdue": null}
            ]
        },
        "identity": {"iin": synthetic_iin(), "last_name": "Testova", "first_name": "Aigerim"},
        "addresses": [{"type": "residence", "text": "Almaty, Test street 1"}],
        "documents": [{"type": "id_card", "number": "000000001"}],
        "related_subjects": [],
        "public_sources": {"terror_list": false}
    })
}

#[test]
fn flatten_joins_keys_and_sees_through_arrays() {
    let paths = flatten(&bureau_record());
    assert!(paths.contains(&"credit_history.existing_contracts.code".to_owned()));
    assert!(
        paths.contains(&"credit_history.existing_contracts.collaterals.value.minor".to_owned())
    );
    assert!(paths.contains(&"addresses.text".to_owned()));
    // A null leaf is a field; empty containers carry none.
    assert!(paths.contains(&"credit_history.existing_contracts.days_overdue".to_owned()));
    assert!(!paths.iter().any(|p| p.starts_with("related_subjects")));
    // Deduplicated and sorted.
    let sorted: Vec<String> = paths
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(paths, sorted);
    assert_eq!(
        paths
            .iter()
            .filter(|p| *p == "credit_history.existing_contracts.code")
            .count(),
        1
    );

    assert!(flatten(&json!({})).is_empty());
    assert!(flatten(&json!({"subject": {}})).is_empty());
    assert!(flatten(&json!({"a": [[], {}]})).is_empty());
    assert_eq!(flatten(&json!({"a": [[1, {"b": 2}]]})), ["a", "a.b"]);
    assert_eq!(
        flatten(&json!({"subject": {"phone": null}})),
        ["subject.phone"]
    );
    assert_eq!(flatten(&json!(5)), [""]);
}

#[test]
fn roles_and_purposes_for_every_shipped_operation() {
    let contracts = shipped();
    let expected: &[(&str, &str, &[Role])] = &[
        ("fcb", "credit-report", &[Role::Underwriting]),
        ("fcb", "contract-upload", &[Role::Reporting]),
        ("gcvp", "income", &[Role::Underwriting]),
        ("traffic", "vehicle", &[Role::Underwriting]),
        ("traffic", "user-mark", &[Role::Servicing]),
    ];
    assert_eq!(contracts.operations().count(), expected.len());
    for (recipient, name, callers) in expected {
        let op = op(&contracts, recipient, name);
        for role in Role::ALL {
            let result = authorize(op, *role, "contract_performance");
            if callers.contains(role) {
                assert_eq!(result, Ok(()), "{recipient}/{name} as {role}");
            } else {
                let denial = result.unwrap_err();
                assert_eq!(
                    denial.code(),
                    "forbidden_role",
                    "{recipient}/{name} as {role}"
                );
                assert_eq!(denial, Denial::ForbiddenRole { role: *role });
            }
        }
        let caller = callers[0];
        for purpose in contracts.purposes() {
            let result = authorize(op, caller, &purpose.key);
            if purpose.key == "contract_performance" {
                assert_eq!(result, Ok(()));
            } else {
                assert_eq!(
                    result.unwrap_err().code(),
                    "purpose_not_allowed",
                    "{}",
                    purpose.key
                );
            }
        }
        let unknown = authorize(op, caller, "curiosity").unwrap_err();
        assert_eq!(unknown.code(), "purpose_not_allowed");
        assert!(
            !unknown.to_string().contains("curiosity"),
            "caller input is not echoed"
        );
        assert!(unknown.paths().is_empty());
        // The role is checked before the purpose.
        let wrong_role = if caller == Role::Auditor {
            Role::Admin
        } else {
            Role::Auditor
        };
        assert_eq!(
            authorize(op, wrong_role, "curiosity").unwrap_err().code(),
            "forbidden_role"
        );
    }
}

#[test]
fn a_credit_report_request_sends_only_the_iin() {
    let contracts = shipped();
    let op = op(&contracts, "fcb", "credit-report");
    let iin = synthetic_iin();
    assert_eq!(
        check_outgoing(&contracts, op, &json!({"subject": {"iin": iin}})),
        Ok(strings(&["subject.iin"]))
    );

    let phone = json!({"subject": {"iin": iin, "phone": "+77010000000"}});
    let denial = check_outgoing(&contracts, op, &phone).unwrap_err();
    assert_eq!(denial.code(), "field_not_allowed");
    assert_eq!(denial.paths(), ["subject.phone"]);

    let shoe = json!({"subject": {"iin": iin, "shoe_size": 42}});
    let denial = check_outgoing(&contracts, op, &shoe).unwrap_err();
    assert_eq!(denial.code(), "unknown_field");
    assert_eq!(denial.paths(), ["subject.shoe_size"]);

    // Values never appear in a denial, only paths.
    let text = format!("{denial} {denial:?}");
    assert!(!text.contains(&iin) && !text.contains("42"), "{text}");
    let denial = check_outgoing(&contracts, op, &phone).unwrap_err();
    let text = format!("{denial} {denial:?}");
    assert!(!text.contains("+7701") && !text.contains(&iin), "{text}");
}

#[test]
fn every_offending_path_is_named_and_unknown_wins() {
    let contracts = shipped();
    let op = op(&contracts, "fcb", "credit-report");
    let several = json!({
        "subject": {"iin": "x", "phone": "p", "email": "e", "address": "a"},
        "vehicle": {"vin": "v"}
    });
    let denial = check_outgoing(&contracts, op, &several).unwrap_err();
    assert_eq!(
        denial,
        Denial::FieldNotAllowed {
            paths: strings(&[
                "subject.address",
                "subject.email",
                "subject.phone",
                "vehicle.vin"
            ])
        }
    );
    let mixed = json!({
        "subject": {"iin": "x", "phone": "p", "shoe_size": 1, "hat": {"size": 2}},
        "zodiac": "leo"
    });
    let denial = check_outgoing(&contracts, op, &mixed).unwrap_err();
    assert_eq!(
        denial,
        Denial::UnknownField {
            paths: strings(&["subject.hat.size", "subject.shoe_size", "zodiac"])
        }
    );
    assert_eq!(denial.code(), "unknown_field");
}

#[test]
fn outgoing_edge_cases() {
    let contracts = shipped();
    let report = op(&contracts, "fcb", "credit-report");
    // Nothing is sent: nothing to refuse (the API decides whether that is a valid request).
    assert_eq!(check_outgoing(&contracts, report, &json!({})), Ok(vec![]));
    assert_eq!(
        check_outgoing(&contracts, report, &json!({"subject": {}})),
        Ok(vec![])
    );
    // A null leaf is a field being sent; so is an empty object or array in a field's place.
    for empty in [json!(null), json!([]), json!({}), json!([{}])] {
        let denial =
            check_outgoing(&contracts, report, &json!({"subject": {"phone": empty}})).unwrap_err();
        assert_eq!(
            (denial.code(), denial.paths()),
            ("field_not_allowed", &["subject.phone".to_owned()][..]),
            "{empty}"
        );
    }
    // An empty object or array under a name the vocabulary does not know is unknown.
    let denial = check_outgoing(
        &contracts,
        report,
        &json!({"subject": {"iin": "x", "hat": {}}, "zodiac": []}),
    )
    .unwrap_err();
    assert_eq!(
        (denial.code(), denial.paths()),
        (
            "unknown_field",
            &["subject.hat".to_owned(), "zodiac".to_owned()][..]
        )
    );
    // A key that contains a dot is not the path it spells.
    assert_eq!(
        check_outgoing(&contracts, report, &json!({"subject.iin": "x"}))
            .unwrap_err()
            .code(),
        "unknown_field"
    );
    // A leaf path is not a branch.
    assert_eq!(
        check_outgoing(
            &contracts,
            report,
            &json!({"subject": {"iin": {"digits": "x"}}})
        )
        .unwrap_err()
        .paths(),
        ["subject.iin.digits"]
    );
    assert_eq!(
        check_outgoing(&contracts, report, &json!({"subject": "x"}))
            .unwrap_err()
            .paths(),
        ["subject"]
    );
    // Arrays are transparent outgoing too.
    assert_eq!(
        check_outgoing(
            &contracts,
            report,
            &json!({"subject": [{"iin": "a"}, {"iin": "b"}]})
        ),
        Ok(strings(&["subject.iin"]))
    );

    let vehicle = op(&contracts, "traffic", "vehicle");
    for data in [
        json!({"subject": {"iin": "x"}}),
        json!({"vehicle": {"vin": "x"}}),
        json!({"vehicle": {"plate": "x"}}),
    ] {
        assert_eq!(
            check_outgoing(&contracts, vehicle, &data).map(|p| p.len()),
            Ok(1)
        );
    }

    let mark = op(&contracts, "traffic", "user-mark");
    let data = json!({
        "user": {"iin": "x", "full_name": "y"},
        "contract": {"number": "n", "advance_account_number": "a"}
    });
    assert_eq!(
        check_outgoing(&contracts, mark, &data),
        Ok(strings(&[
            "contract.advance_account_number",
            "contract.number",
            "user.full_name",
            "user.iin"
        ]))
    );
    assert_eq!(
        check_outgoing(&contracts, mark, &json!({"subject": {"iin": "x"}}))
            .unwrap_err()
            .code(),
        "field_not_allowed"
    );
}

#[test]
fn prefix_grants_apply_to_send() {
    let contracts = shipped();
    let upload = op(&contracts, "fcb", "contract-upload");
    let loan = json!({"loan": {
        "contract_code": "C-1",
        "borrower": {"iin": "x", "addresses": [{"kato_id": "1", "street": "s"}]},
        "collaterals": [{"type": "1", "value": {"minor": 0, "currency": "KZT"}}]
    }});
    let sent = check_outgoing(&contracts, upload, &loan).unwrap();
    assert!(sent.contains(&"loan.borrower.addresses.kato_id".to_owned()));
    assert!(sent.contains(&"loan.collaterals.value.currency".to_owned()));
    let outside = json!({"loan": {"contract_code": "C-1"}, "subject": {"iin": "x"}});
    assert_eq!(
        check_outgoing(&contracts, upload, &outside)
            .unwrap_err()
            .paths(),
        ["subject.iin"]
    );

    let lab = with_lab();
    let mixed = op(lab, "lab", "mixed");
    let data = json!({"loan": {"borrower": {"iin": "x"}, "contract_code": "c"}});
    assert_eq!(
        check_outgoing(lab, mixed, &data),
        Err(Denial::FieldNotAllowed {
            paths: strings(&["loan.contract_code"])
        })
    );
}

#[test]
fn a_bureau_report_keeps_only_the_credit_history() {
    let contracts = shipped();
    let op = op(&contracts, "fcb", "credit-report");
    let record = bureau_record();
    let expected_kept = json!({"credit_history": record["credit_history"].clone()});
    let filtered = filter_incoming(op, record);
    assert_eq!(filtered.kept, expected_kept);
    assert_eq!(
        filtered.dropped,
        strings(&[
            "addresses.text",
            "addresses.type",
            "documents.number",
            "documents.type",
            "identity.first_name",
            "identity.iin",
            "identity.last_name",
            "public_sources.terror_list",
        ])
    );
    assert_eq!(filtered.kept_fields, flatten(&filtered.kept));
    assert!(
        filtered
            .kept_fields
            .contains(&"credit_history.existing_contracts.collaterals.type".to_owned())
    );
    // Dropped names only: the value of a dropped field is nowhere in the result.
    let text = format!("{:?}", filtered);
    assert!(!text.contains(&synthetic_iin()) && !text.contains("Testova"));
}

#[test]
fn grants_end_on_dot_boundaries() {
    let contracts = shipped();
    let op = op(&contracts, "fcb", "credit-report");
    let filtered = filter_incoming(
        op,
        json!({
            "credit_history": {"x": 1},
            "credit_history_extra": {"y": 2},
            "credit_historyz": 3,
            "credit_history.smuggled": 4
        }),
    );
    assert_eq!(filtered.kept, json!({"credit_history": {"x": 1}}));
    assert_eq!(filtered.kept_fields, ["credit_history.x"]);
    assert_eq!(
        filtered.dropped,
        [
            "credit_history.smuggled",
            "credit_history_extra.y",
            "credit_historyz"
        ]
    );
}

#[test]
fn deep_grants_prune_arrays_and_emptied_branches() {
    let lab = with_lab();
    let op = op(lab, "lab", "mixed");
    let record = json!({
        "income": {
            "contributions": [
                {"month": "2025-01", "amount": {"minor": 100, "currency": "KZT"}},
                {"month": "2025-02", "employer": {"bin": "b"}},
                {"month": "2025-03", "amount": null}
            ],
            "no_data": false
        },
        "vehicle_status": {
            "registration": {"vin": "V", "plate": "P", "make": null},
            "owner": {"full_name": "N"},
            "inspection": {}
        }
    });
    let filtered = filter_incoming(op, record);
    assert_eq!(
        filtered.kept,
        json!({
            "income": {"contributions": [
                {"amount": {"minor": 100, "currency": "KZT"}},
                {"amount": null}
            ]},
            "vehicle_status": {"registration": {"vin": "V"}}
        })
    );
    assert_eq!(
        filtered.kept_fields,
        [
            "income.contributions.amount",
            "income.contributions.amount.currency",
            "income.contributions.amount.minor",
            "vehicle_status.registration.vin"
        ]
    );
    assert_eq!(
        filtered.dropped,
        [
            "income.contributions.employer.bin",
            "income.contributions.month",
            "income.no_data",
            "vehicle_status.owner.full_name",
            "vehicle_status.registration.make",
            "vehicle_status.registration.plate"
        ]
    );

    // A scalar where only deeper paths are granted is dropped by its own path.
    let filtered = filter_incoming(op, json!({"income": {"contributions": "none"}}));
    assert_eq!(filtered.kept, json!({}));
    assert_eq!(filtered.dropped, ["income.contributions"]);
}

#[test]
fn empty_and_null_records() {
    let contracts = shipped();
    let op = op(&contracts, "gcvp", "income");
    let filtered = filter_incoming(op, json!({}));
    assert_eq!(filtered.kept, json!({}));
    assert!(filtered.kept_fields.is_empty() && filtered.dropped.is_empty());

    let filtered = filter_incoming(
        op,
        json!({"income": {"no_data": true, "contributions": []}}),
    );
    assert_eq!(
        filtered.kept,
        json!({"income": {"no_data": true, "contributions": []}})
    );
    assert_eq!(filtered.kept_fields, ["income.no_data"]);

    let filtered = filter_incoming(op, json!({"income": null, "subject": {"iin": null}}));
    assert_eq!(filtered.kept, json!({"income": null}));
    assert_eq!(filtered.kept_fields, ["income"]);
    assert_eq!(filtered.dropped, ["subject.iin"]);

    let filtered = filter_incoming(op, json!("just text"));
    assert_eq!(filtered.kept, Value::Null);
    assert_eq!(filtered.dropped, [""]);
}

#[test]
fn denial_codes_are_stable() {
    let cases = [
        (
            Denial::ForbiddenRole { role: Role::Admin },
            "forbidden_role",
        ),
        (
            Denial::PurposeNotAllowed { allowed: vec![] },
            "purpose_not_allowed",
        ),
        (Denial::UnknownField { paths: vec![] }, "unknown_field"),
        (
            Denial::FieldNotAllowed { paths: vec![] },
            "field_not_allowed",
        ),
        (Denial::ConsentMissing, "consent_missing"),
    ];
    for (denial, code) in cases {
        assert_eq!(denial.code(), code);
    }
}

/// Keys that hit grants, near-misses of grants, vocabulary segments and noise (dots, empty).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "credit_history", "income", "contributions", "amount", "minor", "vehicle_status",
            "registration", "vin", "existing_contracts", "collaterals",
        ]).prop_map(str::to_owned),
        2 => prop::sample::select(vec![
            "credit_history_extra", "subject", "iin", "identity", "plate", "month", "employer",
            "credit_history.x", "income.contributions", "",
        ]).prop_map(str::to_owned),
        1 => "[a-z_.]{0,8}",
    ]
}

fn json_tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z0-9 ]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 120, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Top-level keys lean towards the granted branches so that most records keep something.
fn root_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["credit_history", "income", "vehicle_status"])
            .prop_map(str::to_owned),
        2 => key(),
    ]
}

/// Paths that reach the lab operation's deep grants, just miss them, or run past them.
const SPINES: &[&str] = &[
    "income.contributions.amount",
    "income.contributions.amount.minor",
    "income.contributions.month",
    "income.contributions",
    "vehicle_status.registration.vin",
    "vehicle_status.registration.vin.check",
    "vehicle_status.registration.plate",
    "credit_history.existing_contracts.collaterals.value.minor",
];

/// Puts `leaf` at `path` inside `root`, turning each level into a one-element array when asked,
/// and leaving the tree alone where a scalar is in the way.
fn graft(root: &mut Value, path: &str, arrays: &[bool], leaf: Value) {
    let segments: Vec<&str> = path.split('.').collect();
    let mut node = root;
    for (i, segment) in segments.iter().enumerate() {
        let Value::Object(map) = node else { return };
        let last = i + 1 == segments.len();
        let fresh = if last {
            leaf.clone()
        } else {
            Value::Object(Default::default())
        };
        let fresh = if arrays.get(i).copied().unwrap_or(false) {
            Value::Array(vec![fresh])
        } else {
            fresh
        };
        let mut next = map.entry(segment.to_string()).or_insert(fresh);
        if let Value::Array(items) = next {
            match items.last_mut() {
                Some(item) => next = item,
                None => return,
            }
        }
        node = next;
    }
}

fn record() -> impl Strategy<Value = Value> {
    let base = prop::collection::btree_map(root_key(), json_tree(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()));
    let grafts = prop::collection::vec(
        (
            prop::sample::select(SPINES),
            prop::collection::vec(any::<bool>(), 6),
            json_tree(),
        ),
        0..4,
    );
    (base, grafts).prop_map(|(mut root, grafts)| {
        for (path, arrays, leaf) in grafts {
            graft(&mut root, path, &arrays, leaf);
        }
        root
    })
}

/// The paths of a request's members: its scalar leaves, and every empty object or array below
/// the root (a member all the same on the way out).
fn members(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, path: &str, root: bool, out: &mut BTreeSet<String>) {
        let join = |key: &str| match root {
            true => key.to_owned(),
            false => format!("{path}.{key}"),
        };
        let empty = match value {
            Value::Object(map) => map.is_empty(),
            Value::Array(items) => items.is_empty(),
            _ => false,
        };
        match value {
            _ if empty && !root => {
                out.insert(path.to_owned());
            }
            Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, &join(k), false, out)),
            Value::Array(items) => items.iter().for_each(|v| walk(v, path, root, out)),
            _ => {
                out.insert(path.to_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(value, "", true, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn filtering_keeps_only_granted_paths_and_names_everything(input in record()) {
        let lab = with_lab();
        for op in [op(lab, "lab", "mixed"), op(lab, "fcb", "credit-report")] {
            let all: BTreeSet<String> = flatten(&input).into_iter().collect();
            let filtered = filter_incoming(op, input.clone());
            let remaining = flatten(&filtered.kept);
            for path in &remaining {
                prop_assert!(op.may_receive(path), "{} kept but not granted", path);
            }
            prop_assert_eq!(&filtered.kept_fields, &remaining);
            let named: BTreeSet<String> =
                filtered.kept_fields.iter().chain(&filtered.dropped).cloned().collect();
            prop_assert_eq!(named, all);
            // Filtering what was kept changes nothing and drops nothing.
            let again = filter_incoming(op, filtered.kept.clone());
            prop_assert_eq!(&again.kept, &filtered.kept);
            prop_assert!(again.dropped.is_empty());
        }
    }

    #[test]
    fn outgoing_accepts_exactly_the_known_granted_paths(input in record()) {
        let lab = with_lab();
        let op = op(lab, "lab", "mixed");
        let paths = flatten(&input);
        let members = members(&input);
        match check_outgoing(lab, op, &input) {
            Ok(sent) => {
                // Every scalar leaf is sent; beyond them, only empty members standing for
                // fields.
                for path in &paths {
                    prop_assert!(sent.contains(path), "{} not among the sent", path);
                }
                for path in &sent {
                    prop_assert!(members.contains(path), "{} sent but not given", path);
                }
                for path in &sent {
                    prop_assert!(lab.vocabulary().contains(path) && op.may_send(path));
                }
            }
            Err(Denial::UnknownField { paths: bad }) => {
                prop_assert!(!bad.is_empty());
                for path in &bad {
                    prop_assert!(members.contains(path));
                }
            }
            Err(Denial::FieldNotAllowed { paths: bad }) => {
                prop_assert!(!bad.is_empty());
                for path in &bad {
                    prop_assert!(lab.vocabulary().contains(path) && !op.may_send(path));
                }
            }
            Err(other) => prop_assert!(false, "unexpected denial {other:?}"),
        }
    }
}
