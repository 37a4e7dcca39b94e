//! Exclusive XML Canonicalization 1.0 without comments
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>) of one element and its descendants: the
//! document subset a WS-Security `Reference` to `#id` and a `SignedInfo` denote.
//!
//! Written here, on this crate's quick-xml tree, because no maintained pure-Rust crate was a fit:
//! the established ones bind libxml2, and the pure-Rust ones are young 0.1 releases that bring a
//! second XML parser and an X.509 stack we do not need. The subset implemented is what SOAP
//! messages use:
//! - elements as start/end tag pairs (no empty-element tags), in document order;
//! - namespace declarations output only where *visibly utilized* (by the element's own prefix or
//!   the default namespace it is in, or by a prefixed attribute) and not already output with the
//!   same URI by an output ancestor; `xmlns=""` when an unqualified element sits under an output
//!   ancestor with a default namespace; declarations sorted by prefix, the default first;
//! - attributes sorted by namespace URI, then local name (unqualified ones first);
//! - text escaped as `&amp;` `&lt;` `&gt;` `&#xD;`, attribute values as `&amp;` `&lt;` `&quot;`
//!   `&#x9;` `&#xA;` `&#xD;`; line ends and attribute values already normalized by the parser;
//!   CDATA sections as their escaped text; references resolved; comments dropped; processing
//!   instructions kept.
//!
//! Not implemented (refused or absent, never silently different): the `InclusiveNamespaces
//! PrefixList` parameter, and inherited `xml:*` attributes (exclusive c14n does not inherit them).
//!
//! This module must never decide what is signed: it only turns a subtree into bytes.

use crate::xml::{Element, Node};

/// The algorithm URI of exclusive canonicalization without comments.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// The canonical form of `apex` and its descendants. Ancestors of `apex` are outside the
/// subset: only declarations the subtree visibly uses are output, whatever was in scope above.
pub(crate) fn canonicalize(apex: &Element) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    let mut rendered: Vec<(String, String)> = Vec::new();
    element(apex, &mut rendered, &mut out);
    out
}

/// The URI a prefix (`""` for the default) is rendered with by the nearest output ancestor;
/// the default namespace starts out as empty.
fn rendered_uri<'a>(rendered: &'a [(String, String)], prefix: &str) -> Option<&'a str> {
    rendered
        .iter()
        .rev()
        .find(|(p, _)| p == prefix)
        .map(|(_, u)| u.as_str())
}

fn element(e: &Element, rendered: &mut Vec<(String, String)>, out: &mut Vec<u8>) {
    // Namespaces this element visibly utilizes: its own (prefix or default), and those of its
    // prefixed attributes. `xml` is never declared.
    let mut used: Vec<(String, String)> = Vec::new();
    let own_prefix = e.prefix.clone().unwrap_or_default();
    used.push((own_prefix, e.ns.clone().unwrap_or_default()));
    for a in &e.attrs {
        if let (Some(p), Some(ns)) = (&a.prefix, &a.ns)
            && p != "xml"
            && !used.iter().any(|(q, _)| q == p)
        {
            used.push((p.clone(), ns.clone()));
        }
    }
    used.sort_by(|a, b| a.0.cmp(&b.0));

    let scope_len = rendered.len();
    out.push(b'<');
    qname(e.prefix.as_deref(), &e.local, out);
    for (prefix, uri) in used {
        let before = rendered_uri(rendered, &prefix).unwrap_or("");
        if before == uri {
            continue;
        }
        if prefix.is_empty() {
            out.extend_from_slice(b" xmlns=\"");
        } else {
            out.extend_from_slice(b" xmlns:");
            out.extend_from_slice(prefix.as_bytes());
            out.extend_from_slice(b"=\"");
        }
        escape_attr(&uri, out);
        out.push(b'"');
        rendered.push((prefix, uri));
    }

    let mut attrs: Vec<_> = e.attrs.iter().collect();
    attrs.sort_by(|a, b| {
        (a.ns.as_deref().unwrap_or(""), a.local.as_str())
            .cmp(&(b.ns.as_deref().unwrap_or(""), b.local.as_str()))
    });
    for a in attrs {
        out.push(b' ');
        qname(a.prefix.as_deref(), &a.local, out);
        out.extend_from_slice(b"=\"");
        escape_attr(&a.value, out);
        out.push(b'"');
    }
    out.push(b'>');

    for child in &e.children {
        match child {
            Node::Element(c) => element(c, rendered, out),
            Node::Text(t) => escape_text(t, out),
            Node::Pi(target, data) => {
                out.extend_from_slice(b"<?");
                out.extend_from_slice(target.as_bytes());
                if !data.is_empty() {
                    out.push(b' ');
                    out.extend_from_slice(data.as_bytes());
                }
                out.extend_from_slice(b"?>");
            }
        }
    }

    out.extend_from_slice(b"</");
    qname(e.prefix.as_deref(), &e.local, out);
    out.push(b'>');
    rendered.truncate(scope_len);
}

fn qname(prefix: Option<&str>, local: &str, out: &mut Vec<u8>) {
    if let Some(p) = prefix {
        out.extend_from_slice(p.as_bytes());
        out.push(b':');
    }
    out.extend_from_slice(local.as_bytes());
}

fn escape_text(text: &str, out: &mut Vec<u8>) {
    for c in text.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '\r' => out.extend_from_slice(b"&#xD;"),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

fn escape_attr(text: &str, out: &mut Vec<u8>) {
    for c in text.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\t' => out.extend_from_slice(b"&#x9;"),
            '\n' => out.extend_from_slice(b"&#xA;"),
            '\r' => out.extend_from_slice(b"&#xD;"),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;
    use crate::xml::parse;

    fn c14n_of(doc: &str, path: &[&str]) -> String {
        let mut e = parse(doc.as_bytes()).unwrap();
        for name in path {
            e = e.child(name).unwrap().clone();
        }
        String::from_utf8(canonicalize(&e)).unwrap()
    }

    #[test]
    fn exclusive_namespaces_sorting_and_escaping() {
        // Shapes from the exc-c14n spec and the XML-DSig interop cases.
        let doc = concat!(
            r#"<n0:pdu xmlns:n0="http://a.example"><n1:elem1 xmlns:n1="http://b.example" "#,
            r#"xmlns:unused="urn:u" b="2" a='1&amp;&#xA;"' n1:z="x">"#,
            "content\r\n &#xD; &gt; <empty/><![CDATA[<&>]]><!-- gone --></n1:elem1></n0:pdu>"
        );
        assert_eq!(
            c14n_of(doc, &["elem1"]),
            concat!(
                r#"<n1:elem1 xmlns:n1="http://b.example" a="1&amp;&#xA;&quot;" b="2" n1:z="x">"#,
                "content\n &#xD; &gt; <empty></empty>&lt;&amp;&gt;</n1:elem1>"
            )
        );
    }

    /// The expected bytes are libxml2's (lxml `method="c14n", exclusive=True`) for the same input.
    #[test]
    fn agrees_with_libxml2_on_defaults_escapes_and_pis() {
        let doc = concat!(
            r#"<r xmlns:a="urn:a" xmlns="urn:d"><a:e z="1" a:y="2&#9;&#10;" b="x&lt;&quot;">"#,
            "<f xmlns=\"\">t\r\n&#13;&gt;<![CDATA[<&>]]><?pi  data?></f><g/></a:e></r>"
        );
        assert_eq!(
            c14n_of(doc, &["e"]),
            concat!(
                r#"<a:e xmlns:a="urn:a" b="x&lt;&quot;" z="1" a:y="2&#x9;&#xA;"><f>t"#,
                "\n&#xD;&gt;&lt;&amp;&gt;<?pi data?></f><g xmlns=\"urn:d\"></g></a:e>"
            )
        );
    }

    #[test]
    fn inherited_prefixes_are_declared_on_the_apex_only_once() {
        let doc = r#"<s:E xmlns:s="urn:s" xmlns:u="urn:u"><s:B u:Id="b"><s:x><y xmlns="urn:d"><z xmlns=""/></y></s:x></s:B></s:E>"#;
        assert_eq!(
            c14n_of(doc, &["B"]),
            r#"<s:B xmlns:s="urn:s" xmlns:u="urn:u" u:Id="b"><s:x><y xmlns="urn:d"><z xmlns=""></z></y></s:x></s:B>"#
        );
    }
}
