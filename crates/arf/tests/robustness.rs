//! Hostile and odd input, namespace handling, gates.

use imprimatur_arf::*;

const ARF: &str = "http://scap.nist.gov/schema/asset-reporting-format/1.1";
const X12: &str = "http://checklists.nist.gov/xccdf/1.2";

fn arf_with(test_result: &str, request: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<arf:asset-report-collection xmlns:arf="{ARF}">
  <arf:report-requests><arf:report-request id="collection1"><arf:content>{request}</arf:content></arf:report-request></arf:report-requests>
  <arf:reports>
    <arf:report id="xccdf1"><arf:content>{test_result}</arf:content></arf:report>
  </arf:reports>
</arf:asset-report-collection>"#
    )
}

#[test]
fn namespaces_are_resolved_not_guessed() {
    let default_ns = format!(
        r#"<TestResult xmlns="{X12}" id="t"><rule-result idref="a" severity="high"><result>fail</result></rule-result><rule-result idref="b"><result>pass</result></rule-result></TestResult>"#
    );
    let prefixed = format!(
        r#"<q:TestResult xmlns:q="{X12}" id="t"><q:rule-result idref="a" severity="high"><q:result>fail</q:result></q:rule-result><q:rule-result idref="b"><q:result>pass</q:result></q:rule-result></q:TestResult>"#
    );
    // The usual prefix bound to another namespace, and the right local names in no
    // namespace: both must be ignored.
    let decoy = format!(
        r#"<TestResult xmlns="{X12}" xmlns:xccdf="urn:other" id="t"><xccdf:rule-result idref="z"><xccdf:result>fail</xccdf:result></xccdf:rule-result><rule-result idref="a" severity="high"><result>fail</result></rule-result><rule-result xmlns="" idref="y"><result>fail</result></rule-result><rule-result idref="b"><result>pass</result></rule-result></TestResult>"#
    );
    // A stale TestResult inside the report request must not count.
    let stale = format!(
        r#"<Benchmark xmlns="{X12}" id="b"><TestResult id="old"><rule-result idref="a"><result>fail</result></rule-result></TestResult></Benchmark>"#
    );
    let mut reports = Vec::new();
    for (tr, req) in [
        (&default_ns, ""),
        (&prefixed, ""),
        (&decoy, ""),
        (&default_ns, &stale),
    ] {
        let r = parse_report(arf_with(tr, req).as_bytes()).expect("parse");
        assert_eq!(r.test_results.len(), 1);
        reports.push(r.test_results[0].clone());
    }
    for tr in &reports {
        assert_eq!(tr.counts.get(ResultValue::Fail), 1);
        assert_eq!(tr.counts.get(ResultValue::Pass), 1);
        assert_eq!(tr.counts.total(), 2);
        assert_eq!(tr.severity_counts(Severity::High).get(ResultValue::Fail), 1);
        assert_eq!(tr.rule_results, reports[0].rule_results);
    }
    let r = parse_report(arf_with(&default_ns, &stale).as_bytes()).expect("parse");
    assert_eq!(r.ignored_test_results, 1);
}

/// The parser's own namespace resolver (scopes, rebinding, undeclaring): every
/// document below must give exactly the rule results `a` = fail (high) and `b` = pass.
#[test]
fn namespace_scopes_rebinding_and_undeclaring() {
    let ok = [
        // The same namespace bound to two prefixes, and as default, mixed.
        format!(
            r#"<p:TestResult xmlns:p="{X12}" xmlns:q="{X12}" id="t"><q:rule-result idref="a" severity="high"><p:result>fail</p:result></q:rule-result><rule-result xmlns="{X12}" idref="b"><q:result>pass</q:result></rule-result></p:TestResult>"#
        ),
        // The default namespace redeclared in a subtree (a foreign element in
        // between whose children are in no namespace and ignored), then back in scope.
        format!(
            r#"<TestResult xmlns="{X12}" id="t"><x xmlns="urn:other"><rule-result idref="z"><result>fail</result></rule-result></x><rule-result idref="a" severity="high"><result>fail</result></rule-result><rule-result idref="b"><result>pass</result></rule-result></TestResult>"#
        ),
        // The default namespace undeclared on one rule result (ignored), and a
        // declaration on a sibling does not leak to the next element.
        format!(
            r#"<x:TestResult xmlns:x="{X12}" id="t"><rule-result xmlns="" idref="y"><result>fail</result></rule-result><rule-result xmlns="{X12}" idref="a" severity="high"><result>fail</result></rule-result><rule-result idref="n"><result>fail</result></rule-result><x:rule-result idref="b"><x:result>pass</x:result></x:rule-result></x:TestResult>"#
        ),
        // A prefix rebound in a subtree (to another namespace, then back), and the
        // declaration on the element itself applying to that element.
        format!(
            r#"<p:TestResult xmlns:p="{X12}" id="t"><p:rule-result xmlns:p="urn:other" idref="z"><p:result>fail</p:result></p:rule-result><p:rule-result idref="a" severity="high"><p:result xmlns:p="urn:other">pass</p:result><p:result>fail</p:result></p:rule-result><q:rule-result xmlns:q="{X12}" idref="b"><q:result>pass</q:result></q:rule-result></p:TestResult>"#
        ),
        // A prefix bound on an ancestor that the parser skips past (the ARF
        // wrapper) and used deep inside; an element with an undeclared prefix.
        arf_with(
                r#"<u:rule-result idref="z"><u:result>fail</u:result></u:rule-result><x:TestResult id="t"><x:rule-result idref="a" severity="high"><x:result>fail</x:result></x:rule-result><x:rule-result idref="b"><x:result>pass</x:result></x:rule-result></x:TestResult>"#,
            "",
        )
        .replacen(
            &format!(r#"xmlns:arf="{ARF}""#),
            &format!(r#"xmlns:arf="{ARF}" xmlns:x="{X12}""#),
            1,
        ),
    ];
    for (i, doc) in ok.iter().enumerate() {
        for opts in [ParseOptions::full(), ParseOptions::summary()] {
            let r = parse(doc.as_bytes(), &opts).unwrap_or_else(|e| panic!("doc {i}: {e}"));
            assert_eq!(r.test_results.len(), 1, "doc {i}");
            let tr = &r.test_results[0];
            assert_eq!(tr.counts.get(ResultValue::Fail), 1, "doc {i}");
            assert_eq!(tr.counts.get(ResultValue::Pass), 1, "doc {i}");
            assert_eq!(tr.counts.total(), 2, "doc {i}");
            assert_eq!(
                tr.severity_counts(Severity::High).get(ResultValue::Fail),
                1,
                "doc {i}"
            );
            if opts.mode == Mode::Full {
                let ids: Vec<_> = tr.rule_results.iter().map(|r| r.idref.as_str()).collect();
                assert_eq!(ids, ["a", "b"], "doc {i}");
            }
        }
    }
    // `xmlns:p=""` undeclares `p` (XML 1.1 style): the element is not XCCDF.
    let undeclared = format!(
        r#"<p:TestResult xmlns:p="{X12}" id="t"><p:rule-result xmlns:p="" idref="z"><p:result>fail</p:result></p:rule-result></p:TestResult>"#
    );
    let r = parse_report(undeclared.as_bytes()).expect("parse");
    assert_eq!(r.test_results[0].counts.total(), 0);
    // Reserved prefixes and namespaces.
    for bad in [
        format!(r#"<TestResult xmlns="{X12}" xmlns:xml="urn:x" id="t"/>"#),
        format!(r#"<TestResult xmlns="{X12}" xmlns:xmlns="urn:x" id="t"/>"#),
        format!(
            r#"<TestResult xmlns="{X12}" xmlns:p="http://www.w3.org/XML/1998/namespace" id="t"/>"#
        ),
    ] {
        match parse_report(bad.as_bytes()) {
            Err(Error::Xml { .. }) => {}
            other => panic!("{bad}: {:?}", other.err()),
        }
    }
    // The binding limit holds on the path of resolved elements.
    let mut limits = Limits::default();
    limits.max_namespace_bindings = 3;
    let many = format!(
        r#"<TestResult xmlns="{X12}" xmlns:a="urn:a" xmlns:b="urn:b" id="t"><target xmlns:c="urn:c">x</target></TestResult>"#
    );
    match parse(many.as_bytes(), &ParseOptions::full().with_limits(limits)) {
        Err(Error::Limit {
            kind: LimitKind::Namespaces,
            limit: 3,
            ..
        }) => {}
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn doctype_and_entities_are_refused() {
    let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<TestResult xmlns="http://checklists.nist.gov/xccdf/1.2" id="t"><target>&xxe;</target></TestResult>"#;
    match parse_report(xxe.as_bytes()) {
        Err(Error::Doctype { position }) => assert_eq!(position.line, 2),
        other => panic!("{:?}", other.err()),
    }
    let laughs = r#"<TestResult xmlns="http://checklists.nist.gov/xccdf/1.2" id="t">
  <target>&lol9;</target></TestResult>"#;
    match parse_report(laughs.as_bytes()) {
        Err(Error::Entity { name, position }) => {
            assert_eq!(name, "lol9");
            assert_eq!(position.line, 2);
        }
        other => panic!("{:?}", other.err()),
    }
    // In an attribute as well.
    let attr = r#"<TestResult xmlns="http://checklists.nist.gov/xccdf/1.2" id="&ext;"/>"#;
    assert!(matches!(
        parse_report(attr.as_bytes()),
        Err(Error::Entity { .. })
    ));
    // The predefined ones and character references are fine.
    let ok = r#"<TestResult xmlns="http://checklists.nist.gov/xccdf/1.2" id="a&amp;b"><target>x &lt;&#65;&#x42;&gt; &quot;y&apos;</target></TestResult>"#;
    let r = parse_report(ok.as_bytes()).expect("parse");
    assert_eq!(r.test_results[0].id, "a&b");
    assert_eq!(
        r.test_results[0].target.name.as_deref(),
        Some("x <AB> \"y'")
    );
}

#[test]
fn not_results_files_are_named() {
    let html = "<!DOCTYPE html>\n<html lang=\"en\"><head><title>OpenSCAP Evaluation Report</title></head><body></body></html>";
    match parse_summary(html.as_bytes()) {
        Err(e @ Error::NotResults { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("HTML"), "{msg}");
        }
        other => panic!("{:?}", other.err()),
    }
    let xhtml = r#"<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>"#;
    assert!(matches!(
        parse_summary(xhtml.as_bytes()),
        Err(Error::NotResults { .. })
    ));
    let ds =
        r#"<ds:data-stream-collection xmlns:ds="http://scap.nist.gov/schema/scap/source/1.2"/>"#;
    match parse_summary(ds.as_bytes()) {
        Err(e @ Error::NotResults { .. }) => assert!(e.to_string().contains("data stream")),
        other => panic!("{:?}", other.err()),
    }
    // Right local name, wrong namespace.
    let wrong = r#"<asset-report-collection xmlns="urn:not-arf"/>"#;
    assert!(matches!(
        parse_summary(wrong.as_bytes()),
        Err(Error::NotResults { .. })
    ));
    assert!(matches!(parse_summary(&b""[..]), Err(Error::Xml { .. })));
    assert!(matches!(
        parse_summary(&b"just text"[..]),
        Err(Error::Xml { .. })
    ));
}

#[test]
fn malformed_and_truncated_xml_have_positions() {
    let bad = format!(
        "<TestResult xmlns=\"{X12}\" id=\"t\">\n  <target>x</target>\n  <rule-result idref=\"a\"><result>pass</wrong></rule-result>\n</TestResult>"
    );
    match parse_report(bad.as_bytes()) {
        Err(Error::Xml { position, .. }) => assert_eq!(position.line, 3, "{position:?}"),
        other => panic!("{:?}", other.err()),
    }
    let full = format!(
        "<TestResult xmlns=\"{X12}\" id=\"t\">\n{}\n</TestResult>\n",
        "  <rule-result idref=\"a\"><result>pass</result></rule-result>\n".repeat(50)
    );
    // Cut after a complete element: truncated document.
    let cut = &full[..full.find("</TestResult>").expect("end")];
    match parse_report(cut.as_bytes()) {
        Err(e @ Error::Truncated { .. }) => {
            assert_eq!(e.position().expect("pos").line, 53, "{e}");
        }
        other => panic!("{:?}", other.err()),
    }
    // Cut inside a tag.
    let cut = &full[..full.len() / 2 + 3];
    let err = parse_report(cut.as_bytes()).expect_err("truncated");
    assert!(err.position().expect("pos").line > 20, "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
    // Invalid result value.
    let inv = format!(
        "<TestResult xmlns=\"{X12}\" id=\"t\">\n<rule-result idref=\"a\"><result>maybe</result></rule-result></TestResult>"
    );
    match parse_report(inv.as_bytes()) {
        Err(Error::Invalid { position, message }) => {
            assert_eq!(position.line, 2);
            assert!(message.contains("maybe"));
        }
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn limits_hold() {
    let deep = format!(
        "<TestResult xmlns=\"{X12}\" id=\"t\">{}{}</TestResult>",
        "<a>".repeat(10_000),
        "</a>".repeat(10_000)
    );
    match parse_summary(deep.as_bytes()) {
        Err(Error::Limit {
            kind: LimitKind::Depth,
            limit: 256,
            ..
        }) => {}
        other => panic!("{:?}", other.err()),
    }
    let limits = Limits::default().with_max_event_bytes(1000);
    let big_attr = format!(
        "<TestResult xmlns=\"{X12}\" id=\"{}\"/>",
        "x".repeat(100_000)
    );
    match parse(
        big_attr.as_bytes(),
        &ParseOptions::full().with_limits(limits),
    ) {
        Err(Error::Limit {
            kind: LimitKind::EventSize,
            ..
        }) => {}
        other => panic!("{:?}", other.err()),
    }
    let big_text = format!(
        "<TestResult xmlns=\"{X12}\" id=\"t\"><target>{}</target></TestResult>",
        "y".repeat(2 << 20)
    );
    match parse_report(big_text.as_bytes()) {
        Err(Error::Limit {
            kind: LimitKind::TextSize,
            ..
        }) => {}
        other => panic!("{:?}", other.err()),
    }
    let many = format!(
        "<TestResult xmlns=\"{X12}\" id=\"t\">{}</TestResult>",
        "<rule-result idref=\"a\"><result>pass</result></rule-result>".repeat(200)
    );
    let limits = Limits::default().with_max_items(100);
    match parse(many.as_bytes(), &ParseOptions::full().with_limits(limits)) {
        Err(Error::Limit {
            kind: LimitKind::Items,
            ..
        }) => {}
        other => panic!("{:?}", other.err()),
    }
    // Summary mode stores no rule results, so the item limit does not bite.
    let s = parse(
        many.as_bytes(),
        &ParseOptions::summary().with_limits(limits),
    )
    .expect("summary");
    assert_eq!(s.test_results[0].counts.get(ResultValue::Pass), 200);
}

fn report_for_gate() -> Report {
    let xml = format!(
        r#"<Benchmark xmlns="{X12}" id="b">
  <Rule id="r-high" severity="high"><title>High rule</title></Rule>
  <TestResult id="t">
    <rule-result idref="r-high" severity="high"><result>fail</result><ident system="http://cve.mitre.org">CVE-2024-0001</ident></rule-result>
    <rule-result idref="r-med1" severity="medium"><result>fail</result></rule-result>
    <rule-result idref="r-med2" severity="medium"><result>error</result></rule-result>
    <rule-result idref="r-low" severity="low"><result>unknown</result></rule-result>
    <rule-result idref="r-ok" severity="high"><result>pass</result></rule-result>
    <rule-result idref="r-na" severity="high"><result>notapplicable</result></rule-result>
  </TestResult>
</Benchmark>"#
    );
    parse_report(xml.as_bytes()).expect("parse")
}

#[test]
fn gates() {
    let r = report_for_gate();
    // Default: anything failed fails, with one reason per severity.
    let out = Gate::default().evaluate(&r);
    assert!(!out.passed);
    assert_eq!(out.reasons.len(), 3, "{:?}", out.reasons);
    assert!(out.reasons[0].contains("r-high"));

    let g = Gate::from_yaml("maxFailed:\n  high: 0\n  medium: 5\n").expect("yaml");
    let out = g.evaluate(&r);
    assert!(!out.passed);
    assert_eq!(out.reasons.len(), 1);
    assert!(
        out.reasons[0].contains("severity high"),
        "{:?}",
        out.reasons
    );

    // Waive the high one by CVE: passes.
    let g = Gate::from_yaml(
        "maxFailed: {high: 0, medium: 2}\nwaivers:\n  - cve: CVE-2024-0001\n    reason: not reachable\n",
    )
    .expect("yaml");
    let out = g.evaluate(&r);
    assert!(out.passed, "{:?}", out.reasons);
    assert_eq!(
        out.findings.iter().filter(|f| f.waived.is_some()).count(),
        1
    );

    // medium: 1 counts error as failed by default (fail + error = 2)...
    let g = Gate::from_yaml("maxFailed: {medium: 1}").expect("yaml");
    assert!(!g.evaluate(&r).passed);
    // ...but not when errors are not failures.
    let g = Gate::from_yaml("maxFailed: {medium: 1}\nerrorAsFailed: false").expect("yaml");
    assert!(g.evaluate(&r).passed);
    // Total, and a rule waiver.
    let g = Gate::from_yaml(
        "maxFailedTotal: 2\nunknownAsFailed: false\nwaivers: [{rule: r-med1, reason: ticket 7}]",
    )
    .expect("yaml");
    assert!(g.evaluate(&r).passed);
    let g = Gate::from_yaml("maxFailedTotal: 1\nunknownAsFailed: false").expect("yaml");
    let out = g.evaluate(&r);
    assert!(!out.passed);
    assert!(out.reasons[0].contains("3 failed"), "{:?}", out.reasons);

    // Same gate as JSON.
    let g = Gate::from_json(r#"{"maxFailed":{"high":0,"medium":5}}"#).expect("json");
    assert_eq!(
        g,
        Gate::from_yaml("maxFailed: {high: 0, medium: 5}").expect("yaml")
    );

    // Bad gates: the specific reason, and where for syntax errors.
    for bad in ["maxFailed: {critical: 0}", "nonsense: 1"] {
        let e = Gate::from_yaml(bad).expect_err(bad);
        assert!(
            matches!(e, Error::Gate(GateError::Syntax { format: "YAML", .. })),
            "{bad}: {e:?}"
        );
        let cause = std::error::Error::source(&e)
            .and_then(std::error::Error::source)
            .expect("the YAML error is the source");
        assert!(cause.to_string().contains("line 1"), "{bad}: {cause}");
    }
    assert!(matches!(
        Gate::from_json(r#"{"maxFailed":{"critical":0}}"#),
        Err(Error::Gate(GateError::Syntax { format: "JSON", .. }))
    ));
    assert!(matches!(
        Gate::from_yaml("waivers: [{rule: x}]"),
        Err(Error::Gate(GateError::Syntax { .. }))
    ));
    assert!(matches!(
        Gate::from_yaml("waivers: [{reason: why}]"),
        Err(Error::Gate(GateError::WaiverWithoutTarget { index: 1 }))
    ));
    assert!(matches!(
        Gate::from_yaml("waivers: [{rule: x, reason: ' '}]"),
        Err(Error::Gate(GateError::WaiverWithoutReason { index: 1 }))
    ));
    assert!(matches!(
        Gate::from_yaml("waivers: [{rule: x, reason: y}, {rule: z, reason: y, expires: soon}]"),
        Err(Error::Gate(GateError::BadExpiry { index: 2, .. }))
    ));
    let big = format!("# {}\n", "x".repeat(MAX_GATE_BYTES));
    for r in [Gate::from_yaml(&big), Gate::from_json(&big)] {
        assert!(
            matches!(r, Err(Error::Gate(GateError::TooLarge { .. }))),
            "{r:?}"
        );
    }
}

/// Parses `xml` completely with quick-xml (end names checked, attributes
/// and entity references validated) and returns every element name in
/// document order; panics with the position when it is not well-formed.
fn xml_elements(xml: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let (mut names, mut depth, mut roots) = (Vec::new(), 0usize, 0usize);
    let fail = |reader: &quick_xml::Reader<&[u8]>, what: String| -> ! {
        panic!(
            "not well-formed XML at byte {}: {what}\n{xml}",
            reader.buffer_position()
        )
    };
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => fail(&reader, e.to_string()),
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if depth == 0 {
                    roots += 1;
                }
                for a in e.attributes() {
                    let a = a.unwrap_or_else(|err| fail(&reader, err.to_string()));
                    let value = a.value.to_string();
                    if let Err(err) = quick_xml::escape::unescape(&value) {
                        fail(&reader, format!("attribute value {value:?}: {err}"));
                    }
                }
                names.push(e.name().as_ref().to_owned());
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth -= 1,
            Event::GeneralRef(ref r) => {
                let ok = if r.is_char_ref() {
                    matches!(r.resolve_char_ref(), Ok(Some(c)) if c != '\0')
                } else {
                    matches!(r.as_ref(), "amp" | "lt" | "gt" | "quot" | "apos")
                };
                if !ok {
                    fail(&reader, format!("reference {:?}", r.as_ref()));
                }
            }
            Event::Text(ref t) if depth == 0 && !t.as_ref().trim().is_empty() => {
                fail(&reader, "text outside the root element".to_owned())
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unclosed elements");
    assert_eq!(roots, 1, "exactly one root element");
    names
}

#[test]
fn outputs_are_well_formed() {
    let r = report_for_gate();
    let json: serde_json::Value =
        serde_json::from_str(&output::summary_json(&r.summary()).expect("json")).expect("valid");
    assert_eq!(json["schemaVersion"], 1);
    let tr = &json["testResults"][0];
    assert_eq!(tr["results"].as_object().expect("obj").len(), 9);
    assert_eq!(tr["results"]["fail"], 2);
    assert_eq!(tr["results"]["notselected"], 0);
    assert_eq!(tr["scanResult"]["passedRules"], 1);
    assert_eq!(tr["scanResult"]["failedRules"], 2);
    assert_eq!(tr["scanResult"]["totalRules"], 5);
    assert_eq!(tr["oscap"]["exitCode"], 2);
    let full: serde_json::Value =
        serde_json::from_str(&output::report_json(&r).expect("json")).expect("valid");
    assert_eq!(
        full["testResults"][0]["ruleResults"][0]["title"],
        "High rule"
    );
    assert_eq!(
        full["testResults"][0]["ruleResults"][0]["cves"][0],
        "CVE-2024-0001"
    );

    // JUnit and HTML parse back as XML with our own parser's engine (quick-xml):
    // one root, every end tag matching, attributes and references valid.
    let junit = output::junit_report(&r);
    assert!(
        junit.contains("failures=\"2\" errors=\"2\" skipped=\"1\""),
        "{junit}"
    );
    let names = xml_elements(&junit);
    assert_eq!(names[0], "testsuites", "{junit}");
    assert_eq!(
        names.iter().filter(|n| *n == "testcase").count(),
        6,
        "one testcase per rule result (tests=\"6\"): {junit}"
    );
    assert_eq!(
        names.iter().filter(|n| *n == "failure").count(),
        2,
        "{junit}"
    );
    let html = output::html_report(&r);
    assert!(html.contains("<svg") && html.contains("High rule"));
    let names = xml_elements(&html);
    assert_eq!(names[0], "html");
    for needed in ["head", "body", "svg", "table", "td"] {
        assert!(names.iter().any(|n| n == needed), "no <{needed}> in {html}");
    }
    // Hostile text is escaped, so the documents stay well-formed.
    let hostile = parse_report(
        format!(
            r#"<Benchmark xmlns="{X12}" id="b">
  <Rule id="r&lt;&amp;&gt;&quot;'" severity="high"><title>&lt;script&gt;&amp;amp; "x" 'y' ]]&gt;&lt;/script&gt;</title></Rule>
  <TestResult id="t">
    <rule-result idref="r&lt;&amp;&gt;&quot;'" severity="high"><result>fail</result><message>&lt;b&gt; &amp; ]]&gt;</message></rule-result>
  </TestResult>
</Benchmark>"#
        )
        .as_bytes(),
    )
    .expect("parse");
    assert!(
        output::html_report(&hostile).contains("&lt;script&gt;"),
        "the title is shown, escaped"
    );
    xml_elements(&output::junit_report(&hostile));
    xml_elements(&output::html_report(&hostile));
    assert!(
        !html.contains("http://") || !html.contains("<link"),
        "no external assets"
    );
    let text = output::summary_text(&r.summary());
    assert!(
        text.contains("passedRules 1, failedRules 2, totalRules 5"),
        "{text}"
    );
}

#[test]
fn positions_are_exact_across_buffers_and_readers() {
    // ~300 KB: several internal buffers; the error is on line 5003.
    let mut doc = format!("<TestResult xmlns=\"{X12}\" id=\"t\">\n<target>x</target>\n");
    for _ in 0..5000 {
        doc.push_str("  <rule-result idref=\"xccdf_org.example_rule_aaaaaaaaaaaa\"><result>pass</result></rule-result>\n");
    }
    doc.push_str("  <rule-result idref=\"b\"><result>pass</oops></rule-result>\n</TestResult>\n");
    let col = "  <rule-result idref=\"b\"><result>pass".len() as u64 + 1;
    for cap in [1usize, 7, 4096, 1 << 20] {
        let r = std::io::BufReader::with_capacity(cap, doc.as_bytes());
        match parse_summary(r) {
            Err(Error::Xml { position, .. }) => {
                assert_eq!(position.line, 5003, "capacity {cap}");
                assert_eq!(position.column, col, "capacity {cap}");
            }
            other => panic!("{:?}", other.err()),
        }
    }
    // A too-large event is caught while streaming, before it is buffered whole.
    let big_attr = format!(
        "<TestResult xmlns=\"{X12}\" id=\"{}\"/>",
        "x".repeat(1 << 20)
    );
    let limits = Limits::default().with_max_event_bytes(64 * 1024);
    let r = std::io::BufReader::with_capacity(4096, big_attr.as_bytes());
    match parse(r, &ParseOptions::summary().with_limits(limits)) {
        Err(Error::Limit {
            kind: LimitKind::EventSize,
            ..
        }) => {}
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn descriptions_keep_text_of_inline_markup() {
    let xml = format!(
        r#"<Benchmark xmlns="{X12}" xmlns:h="http://www.w3.org/1999/xhtml" id="b">
  <Rule id="r" severity="low"><title>T &amp; U</title>
    <description>Set <h:code>PermitRootLogin <h:i>no</h:i></h:code> in
      <h:b>sshd_config</h:b>.</description></Rule>
  <TestResult id="t"><rule-result idref="r"><result>pass</result></rule-result></TestResult>
</Benchmark>"#
    );
    let r = parse_report(xml.as_bytes()).expect("parse");
    let rule = &r.rules["r"];
    assert_eq!(rule.title.as_deref(), Some("T & U"));
    assert_eq!(
        rule.description.as_deref(),
        Some("Set PermitRootLogin no in sshd_config.")
    );
}

/// Long descriptions are collected only until the excerpt is known: the excerpt
/// must not depend on where collection stops (inline markup, entity references,
/// whitespace runs and multi-byte characters around the cut, every excerpt size).
#[test]
fn description_excerpts_of_long_text() {
    let mut body = String::new();
    let mut plain = String::new();
    for i in 0..300 {
        let (xml, text) = match i % 5 {
            0 => (format!("wörd{i} "), format!("wörd{i} ")),
            1 => (
                format!("<h:code>c{i}</h:code>\n      "),
                format!("c{i}\n      "),
            ),
            2 => (format!("a&amp;b{i}   "), format!("a&b{i}   ")),
            3 => (format!("<h:i>x<h:b>é{i}</h:b></h:i>"), format!("xé{i}")),
            _ => (
                format!("{}€{i} ", " ".repeat(i % 40)),
                format!("{}€{i} ", " ".repeat(i % 40)),
            ),
        };
        body.push_str(&xml);
        plain.push_str(&text);
    }
    let xml = format!(
        r#"<Benchmark xmlns="{X12}" xmlns:h="http://www.w3.org/1999/xhtml" id="b">
  <Rule id="r" severity="low"><title>T</title><description>{body}</description><ident system="s">I-1</ident></Rule>
  <TestResult id="t"><rule-result idref="r"><result>pass</result></rule-result></TestResult>
</Benchmark>"#
    );
    // Expected, computed independently: whitespace collapsed, the first `max`
    // characters, then `…` if anything is left.
    let collapsed: Vec<char> = plain
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect();
    for max in [
        0,
        1,
        5,
        17,
        100,
        399,
        400,
        401,
        1000,
        3000,
        collapsed.len(),
        100_000,
    ] {
        let mut expected: String = collapsed.iter().take(max).collect();
        if collapsed.len() > max {
            expected.push('…');
        }
        let opts =
            ParseOptions::full().with_limits(Limits::default().with_description_excerpt(max));
        let r = parse(xml.as_bytes(), &opts).expect("parse");
        let rule = &r.rules["r"];
        assert_eq!(
            rule.description.as_deref(),
            Some(expected.as_str()),
            "max {max}"
        );
        assert_eq!(rule.idents.len(), 1, "max {max}");
        assert_eq!(rule.title.as_deref(), Some("T"));
    }
}
