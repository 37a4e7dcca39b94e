//! The sections of a `CigResult/Result/Root`, read from the element tree into the domain types.
//!
//! The bureau's leaves are empty elements with a `value` attribute (and sometimes an `id`
//! code); a section or field that is missing is normal and leaves the field `None` or the list
//! empty. When a field is present but unreadable (a date like `31.02.2021`, an amount like
//! `"12,3,4 KZT"`) that one field is dropped and the rest of the report is kept: a credit
//! decision is better served by a report with a gap than by no report, and raw text in a typed
//! field would break every consumer. The drop is logged at debug level with the element's name
//! only, never its value. When an element repeats, the first readable value wins.

use time::{Date, PrimitiveDateTime};

use crate::report::*;
use crate::values::{self, InvalidValue};
use crate::wire::{Doc, NodeId};

/// Reads `Root` into a report.
pub(crate) fn read_root(doc: &Doc<'_>, root: NodeId) -> CreditReport {
    let r = Reader { doc };
    let mut history = CreditHistory::default();
    let mut identity = SubjectIdentity::default();
    let mut addresses = Vec::new();
    let mut documents = Vec::new();
    let mut related_subjects = Vec::new();
    let mut public_sources = None;
    let mut inquiries = Inquiries::default();

    for section in doc.children(root) {
        match doc.name(section) {
            b"Header" => r.header(section, &mut identity),
            b"SubjectDetails" => r.subject_details(section, &mut identity),
            b"SubjectsAddress" => {
                for a in r.named(section, b"Address") {
                    if let Some(address) = non_empty(r.address(a)) {
                        addresses.push(address);
                    }
                }
            }
            b"IdentificationDocuments" => {
                for d in r.named(section, b"Document") {
                    if let Some(document) = non_empty(r.document(d)) {
                        documents.push(document);
                    }
                }
            }
            b"ClassificationOfBorrower" => {
                fill(
                    &mut history.classification,
                    non_empty(r.classification(section)),
                );
            }
            b"NegativeData" => {
                fill(&mut history.negative_status, non_empty(r.negative(section)));
            }
            b"SummaryInformation" => {
                fill(
                    &mut history.summary,
                    non_empty(r.summary(section, &mut inquiries)),
                );
            }
            b"ExistingContracts" => {
                history.existing_contracts.extend(r.contracts(section));
            }
            b"TerminatedContracts" => {
                history.terminated_contracts.extend(r.contracts(section));
            }
            b"InterconnectedSubjects" => {
                for s in r.named(section, b"InterconnectedSubject") {
                    if let Some(subject) = non_empty(r.related(s)) {
                        related_subjects.push(subject);
                    }
                }
            }
            b"NumberOfQueries" => r.queries(section, &mut inquiries),
            b"PublicSources" => fill(&mut public_sources, non_empty(r.public_sources(section))),
            b"RWA170" => fill(&mut history.unsecured_debt, non_empty(r.unsecured(section))),
            // Title, Footer (labels only), RelatedCompanies, Sems and anything new: not read.
            _ => {}
        }
    }
    history.inquiries = non_empty(inquiries);
    CreditReport {
        credit_history: history,
        identity: non_empty(identity),
        addresses,
        documents,
        related_subjects,
        public_sources,
    }
}

/// `None` for a value with nothing in it, so that an empty section does not serialize as `{}`.
fn non_empty<T: Default + PartialEq>(value: T) -> Option<T> {
    (value != T::default()).then_some(value)
}

/// Keeps the first readable value of a repeated element.
fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

struct Reader<'d, 'a> {
    doc: &'d Doc<'a>,
}

impl Reader<'_, '_> {
    fn named<'s>(&'s self, parent: NodeId, name: &'s [u8]) -> impl Iterator<Item = NodeId> + 's {
        self.doc
            .children(parent)
            .filter(move |&c| self.doc.name(c) == name)
    }

    /// An attribute, present (not empty, not `-`), owned.
    fn attr(&self, id: NodeId, key: &[u8]) -> Option<String> {
        let value = self.doc.attr(id, key)?;
        values::present(&value).map(str::to_owned)
    }

    /// The `value` attribute, present, owned.
    fn text(&self, id: NodeId) -> Option<String> {
        self.attr(id, b"value")
    }

    /// `id` and `value` together.
    fn coded(&self, id: NodeId) -> Option<Coded> {
        let code = self.attr(id, b"id");
        let label = self.text(id);
        (code.is_some() || label.is_some()).then_some(Coded { code, label })
    }

    /// Runs a value reader on an attribute; an unreadable value is dropped and logged by the
    /// element's name.
    fn typed<T>(
        &self,
        id: NodeId,
        key: &[u8],
        read: fn(&str) -> Result<Option<T>, InvalidValue>,
    ) -> Option<T> {
        let raw = self.doc.attr(id, key)?;
        match read(&raw) {
            Ok(v) => v,
            Err(InvalidValue) => {
                tracing::debug!(
                    element = %String::from_utf8_lossy(self.doc.name(id)),
                    attribute = %String::from_utf8_lossy(key),
                    "Dropped an unreadable bureau value."
                );
                None
            }
        }
    }

    fn money(&self, id: NodeId) -> Option<Money> {
        self.typed(id, b"value", values::parse_amount)
    }

    fn date(&self, id: NodeId) -> Option<Date> {
        self.typed(id, b"value", values::parse_date)
    }

    fn count(&self, id: NodeId) -> Option<u32> {
        self.typed(id, b"value", values::parse_count)
    }

    fn rate(&self, id: NodeId) -> Option<i64> {
        self.typed(id, b"value", values::parse_rate_bps)
    }

    fn header(&self, header: NodeId, out: &mut SubjectIdentity) {
        fill(&mut out.entity_type, self.attr(header, b"EntityType"));
        for f in self.doc.children(header) {
            match self.doc.name(f) {
                b"RegistrationID" => fill(&mut out.bureau_subject_id, self.text(f)),
                b"IIN" => fill(&mut out.iin, self.text(f)),
                b"RNN" => fill(&mut out.rnn, self.text(f)),
                b"DateOfBirth" => fill(&mut out.birth_date, self.date(f)),
                b"Gender" => fill(&mut out.gender, self.text(f).map(gender)),
                b"Surname" => fill(&mut out.last_name, self.text(f)),
                b"Name" => fill(&mut out.first_name, self.text(f)),
                b"FathersName" => fill(&mut out.middle_name, self.text(f)),
                b"BirthName" => fill(&mut out.birth_last_name, self.text(f)),
                b"CityOfBirth" => fill(&mut out.birth_city, self.text(f)),
                b"RegionOfBirth" => fill(&mut out.birth_region, self.text(f)),
                b"CountryOfBirth" => fill(&mut out.birth_country, self.text(f)),
                b"Education" => fill(&mut out.education, self.coded(f)),
                // The bureau's own spelling, and the correct one in case it is ever fixed.
                b"MatrialStatus" | b"MaritalStatus" => {
                    fill(&mut out.marital_status, self.coded(f));
                }
                _ => {}
            }
        }
    }

    fn subject_details(&self, details: NodeId, out: &mut SubjectIdentity) {
        let mut address = SubjectAddress::default();
        for f in self.doc.children(details) {
            match self.doc.name(f) {
                // The section repeats these elements as layout captions without a value.
                b"NumberOfDependents" => fill(&mut out.dependants_under_18, self.count(f)),
                b"NumberOfChildern" | b"NumberOfChildren" => {
                    fill(&mut out.dependants_over_18, self.count(f));
                }
                b"StreetAddress" | b"Street" => fill(&mut address.street, self.text(f)),
                b"Number" => fill(&mut address.house_number, self.text(f)),
                b"City" => fill(&mut address.city, self.text(f)),
                b"ZipCode" => fill(&mut address.zip_code, self.text(f)),
                b"Region" => fill(&mut address.region, self.text(f)),
                b"Country" => fill(&mut address.country, self.text(f)),
                b"CellularPhone" => fill(&mut out.mobile_phones, self.text(f)),
                b"HomePhone" => fill(&mut out.home_phones, self.text(f)),
                b"OfficePhone" => fill(&mut out.office_phones, self.text(f)),
                b"Email" => fill(&mut out.email, self.text(f)),
                b"EmployeesSalary" => fill(&mut out.net_salary_text, self.text(f)),
                _ => {}
            }
        }
        fill(&mut out.address, non_empty(address));
    }

    fn address(&self, a: NodeId) -> SubjectAddress {
        let mut out = SubjectAddress {
            status: self.attr(a, b"type"),
            ..Default::default()
        };
        for f in self.doc.children(a) {
            match self.doc.name(f) {
                b"AddressType" => fill(&mut out.address_type, self.text(f)),
                b"Street" => fill(&mut out.street, self.text(f)),
                b"Number" => fill(&mut out.house_number, self.text(f)),
                b"ZipCode" => fill(&mut out.zip_code, self.text(f)),
                b"City" => fill(&mut out.city, self.text(f)),
                b"Region" => fill(&mut out.region, self.text(f)),
                b"Country" => fill(&mut out.country, self.text(f)),
                b"HomePhone" => fill(&mut out.home_phones, self.text(f)),
                b"OfficePhone" => fill(&mut out.office_phones, self.text(f)),
                b"CellularPhone" => fill(&mut out.mobile_phones, self.text(f)),
                b"EmailAddress" => fill(&mut out.email, self.text(f)),
                b"AddressInserted" => fill(&mut out.registered_date, self.date(f)),
                _ => {}
            }
        }
        out
    }

    fn document(&self, d: NodeId) -> IdentityDocument {
        let mut out = IdentityDocument {
            status: self.attr(d, b"type"),
            rank: self.attr(d, b"rank"),
            ..Default::default()
        };
        for f in self.doc.children(d) {
            match self.doc.name(f) {
                b"Name" => fill(&mut out.document_type, self.coded(f)),
                b"Number" => fill(&mut out.number, self.text(f)),
                b"DateOfRegistration" => fill(&mut out.registration_date, self.date(f)),
                b"DateOfIssuance" => fill(&mut out.issue_date, self.date(f)),
                b"DateOfExpiration" => fill(&mut out.expiry_date, self.date(f)),
                b"IssuanceLocation" => fill(&mut out.issued_by, self.text(f)),
                b"DateOfInserted" => fill(&mut out.bureau_received_date, self.date(f)),
                _ => {}
            }
        }
        out
    }

    fn classification(&self, c: NodeId) -> BorrowerClassification {
        let mut out = BorrowerClassification::default();
        for f in self.doc.children(c) {
            match self.doc.name(f) {
                b"BorrowerClassification" => fill(&mut out.borrower_type, self.coded(f)),
                b"Patent" => fill(&mut out.patent, self.text(f)),
                b"Resident" => fill(&mut out.residency, self.coded(f)),
                b"SubjectsPosition" => fill(&mut out.occupation, self.text(f)),
                b"Citizenship" => fill(&mut out.citizenship, self.coded(f)),
                b"SubjectsEmployment" => fill(&mut out.employment, self.text(f)),
                b"ForeignersCitizenship" => fill(&mut out.foreign_citizenship, self.text(f)),
                b"EconomicActivityGroup" => fill(&mut out.economic_sector, self.text(f)),
                _ => {}
            }
        }
        out
    }

    fn negative(&self, data: NodeId) -> NegativeStatus {
        let mut out = NegativeStatus::default();
        for group in self.named(data, b"NegativeStatus") {
            let group_name = self.attr(group, b"type");
            for part in self.doc.children(group) {
                match self.doc.name(part) {
                    b"NegativeStatusOfClient" => {
                        for f in self.doc.children(part) {
                            match self.doc.name(f) {
                                b"NegativeStatusOfClient" => {
                                    fill(&mut out.client_status, self.coded(f));
                                }
                                b"RegistrationDate" => {
                                    fill(&mut out.client_status_date, self.date(f));
                                }
                                _ => {}
                            }
                        }
                    }
                    b"list" => {
                        for entry in self.named(part, b"NegativeStatusOfContract") {
                            if let Some(mut status) = non_empty(self.contract_negative(entry)) {
                                status.group = group_name.clone();
                                out.contract_statuses.push(status);
                            }
                        }
                    }
                    b"NegativeStatusOfContract" => {
                        if let Some(mut status) = non_empty(self.contract_negative(part)) {
                            status.group = group_name.clone();
                            out.contract_statuses.push(status);
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }

    fn contract_negative(&self, entry: NodeId) -> ContractNegativeStatus {
        let mut out = ContractNegativeStatus::default();
        let mut role_ru = None;
        for f in self.doc.children(entry) {
            match self.doc.name(f) {
                b"NegativeStatusOfContract" => fill(&mut out.status, self.coded(f)),
                b"RegistrationDate" => fill(&mut out.registration_date, self.date(f)),
                b"SubjectRoleEn" => fill(&mut out.subject_role, self.text(f)),
                b"SubjectRole" => fill(&mut role_ru, self.text(f)),
                _ => {}
            }
        }
        fill(&mut out.subject_role, role_ru);
        out
    }

    fn summary(&self, s: NodeId, inquiries: &mut Inquiries) -> Summary {
        let mut out = Summary::default();
        for part in self.doc.children(s) {
            match self.doc.name(part) {
                b"ExistingContracts" => out.existing.extend(self.role_totals(part)),
                b"TerminatedContracts" => out.terminated.extend(self.role_totals(part)),
                b"TerminatedContractsDateLimit" => {
                    out.terminated_over_5_years_ago
                        .extend(self.role_totals(part));
                }
                b"WithdrawnApplications" => fill(&mut out.withdrawn_applications, self.count(part)),
                b"NumberOfApplications" => {
                    fill(&mut out.refused_or_withdrawn_applications, self.count(part));
                }
                b"NumberOfInquiries" => {
                    fill(&mut inquiries.last_12_months, self.count(part));
                    for q in self.doc.children(part) {
                        let slot = match self.doc.name(q) {
                            b"FirstQuarter" => &mut inquiries.first_quarter,
                            b"SecondQuarter" => &mut inquiries.second_quarter,
                            b"ThirdQuarter" => &mut inquiries.third_quarter,
                            b"FourthQuarter" => &mut inquiries.fourth_quarter,
                            _ => continue,
                        };
                        fill(slot, self.count(q));
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn role_totals(&self, group: NodeId) -> Vec<RoleTotals> {
        let mut all = Vec::new();
        for role in self.named(group, b"SubjectRole") {
            let mut out = RoleTotals {
                role: self.attr(role, b"type"),
                ..Default::default()
            };
            for f in self.doc.children(role) {
                match self.doc.name(f) {
                    b"NumberOfContracts" => fill(&mut out.contract_count, self.count(f)),
                    b"NumberOfCreditLines" => fill(&mut out.credit_line_count, self.count(f)),
                    b"TotalOutstandingDebt" => {
                        fill(&mut out.total_outstanding_debt, self.money(f));
                    }
                    b"TotalDebtOverdue" => fill(&mut out.total_overdue_debt, self.money(f)),
                    b"TotalFine" => fill(&mut out.total_fine, self.money(f)),
                    b"TotalPenalty" => fill(&mut out.total_penalty, self.money(f)),
                    b"ContractStatuses" => {
                        for st in self.named(f, b"ContractStatus") {
                            let entry = StatusCount {
                                status: self.text(st),
                                count: self.typed(st, b"count", values::parse_count),
                            };
                            if entry.status.is_some() || entry.count.is_some() {
                                out.statuses.push(entry);
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let Some(totals) = non_empty(out) {
                all.push(totals);
            }
        }
        all
    }

    fn contracts(&self, section: NodeId) -> Vec<CreditContract> {
        self.named(section, b"Contract")
            .map(|c| self.contract(c))
            .filter(|c| *c != CreditContract::default())
            .collect()
    }

    fn contract(&self, c: NodeId) -> CreditContract {
        let mut out = CreditContract {
            contract_type: self.attr(c, b"ContractType"),
            contract_type_code: self.attr(c, b"ContractTypeCode"),
            ..Default::default()
        };
        for f in self.doc.children(c) {
            match self.doc.name(f) {
                b"CodeOfContract" => fill(&mut out.code, self.text(f)),
                b"AgreementNumber" => fill(&mut out.agreement_number, self.text(f)),
                b"AgreementNumberGuarantee" => {
                    fill(&mut out.guarantee_agreement_number, self.text(f));
                }
                b"TypeOfFounding" => fill(&mut out.funding_type, self.coded(f)),
                b"PurposeOfCredit" => fill(&mut out.purpose, self.coded(f)),
                b"CreditObject" => fill(&mut out.credit_object, self.coded(f)),
                b"CurrencyCode" => fill(&mut out.currency, self.text(f)),
                b"ContractStatus" => fill(&mut out.status, self.coded(f)),
                b"ClassificationOfContract" => fill(&mut out.classification, self.text(f)),
                b"SubjectRole" => fill(&mut out.subject_role, self.text(f)),
                b"FinancialInstitution" => fill(&mut out.financial_institution, self.coded(f)),
                b"DateOfApplication" => fill(&mut out.application_date, self.date(f)),
                b"DateOfCreditStart" => fill(&mut out.start_date, self.date(f)),
                b"DateOfCreditEnd" => fill(&mut out.end_date, self.date(f)),
                b"DateOfRealRepayment" => fill(&mut out.real_repayment_date, self.date(f)),
                b"ActualDate" => fill(&mut out.disbursement_date, self.date(f)),
                b"LastUpdate" => fill(&mut out.last_update, self.date(f)),
                b"DateOfInserted" => fill(&mut out.bureau_received_date, self.date(f)),
                b"DateAgreementGuarantee" => {
                    fill(&mut out.guarantee_agreement_date, self.date(f));
                }
                b"GuaranteeEvent" => fill(&mut out.guarantee_termination_event, self.text(f)),
                b"TotalAmount" => fill(&mut out.total_amount, self.money(f)),
                b"Amount" => fill(&mut out.used_amount, self.money(f)),
                b"ResidualAmount" => fill(&mut out.residual_amount, self.money(f)),
                b"CreditLimit" => fill(&mut out.credit_limit, self.money(f)),
                b"OutstandingAmount" => fill(&mut out.outstanding_amount, self.money(f)),
                b"OverdueAmount" => fill(&mut out.overdue_amount, self.money(f)),
                b"NumberOfOverdueInstalments" => fill(&mut out.overdue_days, self.count(f)),
                b"InstalmentAmount" => fill(&mut out.instalment_amount, self.money(f)),
                b"MonthlyInstalmentAmount" => fill(&mut out.minimum_payment, self.money(f)),
                b"NumberOfInstalments" => fill(&mut out.instalment_count, self.count(f)),
                b"NumberOfOutstandingInstalments" => {
                    fill(&mut out.outstanding_instalment_count, self.count(f));
                }
                b"PeriodicityOfPayments" => fill(&mut out.payment_periodicity, self.coded(f)),
                b"MethodOfPayments" => fill(&mut out.payment_method, self.coded(f)),
                b"InterestRate" => fill(&mut out.interest_rate_bps, self.rate(f)),
                b"AnnualEffectiveRate" => fill(&mut out.annual_effective_rate_bps, self.rate(f)),
                b"NominalRate" => fill(&mut out.nominal_rate_bps, self.rate(f)),
                b"Fine" => fill(&mut out.fine, self.money(f)),
                b"Penalty" => fill(&mut out.penalty, self.money(f)),
                b"AmountProvisions" => fill(&mut out.provisions_amount, self.money(f)),
                b"ProlongationCount" => fill(&mut out.prolongation_count, self.count(f)),
                b"NumberOfOverdueInstalmentsMax" => fill(&mut out.max_overdue_days, self.count(f)),
                b"NumberOfOverdueInstalmentsMaxDate" => {
                    fill(&mut out.max_overdue_days_date, self.date(f));
                }
                b"NumberOfOverdueInstalmentsMaxAmount" => {
                    fill(&mut out.max_overdue_days_amount, self.money(f));
                }
                b"OverdueAmountMax" => fill(&mut out.max_overdue_amount, self.money(f)),
                b"OverdueAmountMaxDate" => fill(&mut out.max_overdue_amount_date, self.date(f)),
                b"OverdueAmountMaxCount" => {
                    fill(&mut out.max_overdue_amount_days, self.count(f));
                }
                b"SpecialRelationship" => fill(&mut out.special_relationship, self.text(f)),
                b"ContractThirdParty" => fill(&mut out.assignee, self.text(f)),
                b"ParentContractCode" => fill(&mut out.parent_contract_code, self.text(f)),
                b"ParentContractStatus" => {
                    fill(&mut out.parent_contract_status, self.coded(f));
                }
                b"GracePrincipal" => fill(&mut out.grace_period_principal, self.text(f)),
                b"GracePay" => fill(&mut out.grace_period_interest, self.text(f)),
                b"Collateral" => {
                    out.collaterals.extend(non_empty(self.collateral(f)));
                }
                b"Collaterals" => {
                    for col in self.named(f, b"Collateral") {
                        out.collaterals.extend(non_empty(self.collateral(col)));
                    }
                }
                b"PaymentsCalendar" => self.calendar(f, &mut out.payments_calendar),
                _ => {}
            }
        }
        fill(&mut out.currency, self.attr(c, b"Currency"));
        out
    }

    fn collateral(&self, c: NodeId) -> Collateral {
        let mut out = Collateral::default();
        for f in self.doc.children(c) {
            match self.doc.name(f) {
                b"TypeOfGuarantee" => fill(&mut out.guarantee_type, self.text(f)),
                b"ValueOfGuarantee" => fill(&mut out.value, self.money(f)),
                b"TypeOfValueOfGuarantee" => fill(&mut out.value_type, self.text(f)),
                b"TypeOfCollateral" => fill(&mut out.collateral_type, self.text(f)),
                b"CollateralStatus" => fill(&mut out.status, self.text(f)),
                b"CollateralName" => fill(&mut out.name, self.text(f)),
                _ => {}
            }
        }
        out
    }

    /// `PaymentsCalendar/Year@title/Payment@number`. A payment whose year or month cannot be
    /// read is dropped: without them its figures mean nothing.
    fn calendar(&self, calendar: NodeId, out: &mut Vec<CalendarPayment>) {
        for year_node in self.named(calendar, b"Year") {
            let Some(year) = self
                .attr(year_node, b"title")
                .or_else(|| self.attr(year_node, b"value"))
                .and_then(|y| y.parse::<i32>().ok())
            else {
                tracing::debug!("Dropped a payment-calendar year without a readable year.");
                continue;
            };
            for p in self.named(year_node, b"Payment") {
                let Some(month) = self
                    .attr(p, b"number")
                    .and_then(|m| m.parse::<u8>().ok())
                    .filter(|m| (1..=12).contains(m))
                else {
                    tracing::debug!("Dropped a payment-calendar month without a readable number.");
                    continue;
                };
                out.push(CalendarPayment {
                    year,
                    month,
                    days_overdue: self.typed(p, b"value", values::parse_count),
                    overdue_amount: self.typed(p, b"overdue", values::parse_amount),
                    fine: self.typed(p, b"fine", values::parse_amount),
                    penalty: self.typed(p, b"penalty", values::parse_amount),
                });
            }
        }
    }

    fn related(&self, s: NodeId) -> RelatedSubject {
        let mut out = RelatedSubject::default();
        for f in self.doc.children(s) {
            match self.doc.name(f) {
                b"TypeOfLink" => fill(&mut out.link_type, self.text(f)),
                b"SubjectCode" => fill(&mut out.bureau_subject_id, self.text(f)),
                b"SubjectName" => fill(&mut out.name, self.text(f)),
                b"SubjectIIN" => fill(&mut out.iin, self.text(f)),
                b"SubjectRNN" => fill(&mut out.rnn, self.text(f)),
                _ => {}
            }
        }
        out
    }

    fn queries(&self, q: NodeId, out: &mut Inquiries) {
        fill(&mut out.queries_total, self.count(q));
        for f in self.doc.children(q) {
            let slot = match self.doc.name(f) {
                b"DetailsQueries7days" => {
                    let mut listed = 0u32;
                    for query in self.named(f, b"query") {
                        listed += 1;
                        let at: Option<PrimitiveDateTime> =
                            self.typed(query, b"value", values::parse_datetime);
                        out.last_7_days_times.extend(at);
                    }
                    fill(&mut out.last_7_days, Some(listed));
                    continue;
                }
                b"Days30" => &mut out.last_30_days,
                b"Days90" => &mut out.last_90_days,
                b"Days120" => &mut out.last_120_days,
                b"Days180" => &mut out.last_180_days,
                b"Days360" => &mut out.last_360_days,
                _ => continue,
            };
            fill(slot, self.count(f));
        }
    }

    fn public_sources(&self, p: NodeId) -> PublicSources {
        let mut out = PublicSources::default();
        for src in self.doc.children(p) {
            let slot = match self.doc.name(src) {
                b"TerrorList" => &mut out.terror_list,
                b"QamqorList" => &mut out.wanted_persons,
                b"KgdWanted" => &mut out.tax_wanted,
                b"QamqorAlimony" => &mut out.alimony_debtors,
                b"RNUGosZakup" => &mut out.unreliable_suppliers,
                b"FalseBusi" => &mut out.false_business,
                b"Areears" => &mut out.tax_arrears,
                b"Bankruptcy" => &mut out.bankruptcy,
                b"L150o10" => &mut out.tax_debtors,
                _ => continue,
            };
            let mut check = PublicSourceCheck::default();
            for f in self.doc.children(src) {
                match self.doc.name(f) {
                    b"Status" => fill(&mut check.status, self.coded(f)),
                    b"Source" => fill(&mut check.source_url, self.text(f)),
                    b"RefreshDate" => fill(&mut check.refreshed_date, self.date(f)),
                    b"ActualDate" => fill(&mut check.bureau_received_date, self.date(f)),
                    _ => {}
                }
            }
            fill(slot, non_empty(check));
        }
        out
    }

    fn unsecured(&self, rwa: NodeId) -> UnsecuredDebt {
        let mut out = UnsecuredDebt::default();
        for list in self.named(rwa, b"Contracts") {
            fill(
                &mut out.total,
                self.typed(list, b"ContractsSumm", values::parse_amount),
            );
            for c in self.named(list, b"Contract") {
                let mut entry = UnsecuredContractDebt::default();
                for f in self.doc.children(c) {
                    match self.doc.name(f) {
                        b"ContractCode" => fill(&mut entry.code, self.text(f)),
                        b"ContractSumm" => fill(&mut entry.debt, self.money(f)),
                        _ => {}
                    }
                }
                out.contracts.extend(non_empty(entry));
            }
        }
        out
    }
}

/// The bureau writes gender as a Russian word; the two it uses become `male` and `female`.
fn gender(label: String) -> String {
    match label.to_lowercase().as_str() {
        "мужской" | "male" | "m" => "male".to_owned(),
        "женский" | "female" | "f" => "female".to_owned(),
        _ => label,
    }
}
