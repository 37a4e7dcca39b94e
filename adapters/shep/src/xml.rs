//! A small namespace-aware XML tree over quick-xml, for the three readers of this crate: the
//! answer and fault parser (`wire`), the canonicalizer (`c14n`) and the signature check
//! (`signature`). Elements keep their prefix, resolved namespace, attributes (normalized and
//! unescaped as an XML parser must), namespace declarations, and the byte range of their content
//! in the input, so that a service payload can be handed on verbatim.
//!
//! Strict by design: anything not well-formed, an undeclared prefix, a duplicate attribute, a
//! DOCTYPE (SOAP forbids it, and it is the door to entity tricks) or a document nested deeper than
//! [`MAX_DEPTH`] is an error. Errors name the problem and a byte offset, never a value from the
//! document: SHEP bodies carry IINs and names.

use quick_xml::events::{BytesStart, Event};

/// The namespace the `xml` prefix is bound to without a declaration.
pub(crate) const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// Deepest element nesting accepted; every reader here recurses over the tree.
pub(crate) const MAX_DEPTH: usize = 128;

/// A node of element content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Element(Element),
    /// Character data, references resolved, line ends normalized to `\n`.
    Text(String),
    /// A processing instruction: target and data.
    Pi(String, String),
}

/// An attribute that is not a namespace declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    pub prefix: Option<String>,
    pub local: String,
    /// The attribute's namespace: only a prefixed attribute has one.
    pub ns: Option<String>,
    /// Normalized and unescaped value.
    pub value: String,
}

/// An element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub prefix: Option<String>,
    pub local: String,
    /// The element's namespace (through its prefix, or the default namespace).
    pub ns: Option<String>,
    pub attrs: Vec<Attr>,
    /// `xmlns` / `xmlns:p` declared on this element: prefix (`""` for the default) and URI.
    pub ns_decls: Vec<(String, String)>,
    pub children: Vec<Node>,
    /// Byte range of the content between the start and the end tag (empty for `<a/>`).
    pub inner: (usize, usize),
}

impl Element {
    /// Whether this element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == Some(ns)
    }

    /// Child elements, in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The first child element with this local name, whatever its namespace.
    pub fn child(&self, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.local == local)
    }

    /// The first child element `{ns}local`.
    pub fn child_ns(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, local))
    }

    /// The element's text content (its direct text children joined).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            if let Node::Text(t) = c {
                out.push_str(t);
            }
        }
        out
    }

    /// Text of the child with this local name, trimmed; `None` when absent or empty.
    pub fn child_text(&self, local: &str) -> Option<String> {
        let text = self.child(local)?.text();
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// An attribute value by namespace (`None` for an unprefixed one) and local name.
    pub fn attr(&self, ns: Option<&str>, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.local == local && a.ns.as_deref() == ns)
            .map(|a| a.value.as_str())
    }
}

/// Why a document was refused: what, and where (a byte offset). Never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError {
    pub what: String,
    pub at: u64,
}

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {})", self.what, self.at)
    }
}

fn err(what: impl Into<String>, at: u64) -> XmlError {
    XmlError {
        what: what.into(),
        at,
    }
}

/// A parser message may quote a piece of the document; only its kind is kept.
fn parser_err(e: &quick_xml::Error, at: u64) -> XmlError {
    let what = match e {
        quick_xml::Error::Syntax(s) => format!("syntax error: {s}"),
        quick_xml::Error::IllFormed(_) => "ill-formed document".to_owned(),
        quick_xml::Error::Encoding(_) => "not UTF-8".to_owned(),
        quick_xml::Error::Escape(_) => "bad character or entity reference".to_owned(),
        quick_xml::Error::InvalidAttr(_) => "bad attribute syntax".to_owned(),
        _ => "unreadable XML".to_owned(),
    };
    err(what, at)
}

struct Open {
    element: Element,
    /// Namespace scope length before this element's declarations.
    scope_len: usize,
}

/// Parses a whole document into its root element.
pub(crate) fn parse(input: &[u8]) -> Result<Element, XmlError> {
    let mut nodes = parse_content(input, true)?;
    match nodes.pop() {
        Some(Node::Element(e)) if nodes.is_empty() => Ok(e),
        _ => Err(err("the document holds no single root element", 0)),
    }
}

/// Checks that `fragment` is well-formed element content (text, elements, no DOCTYPE or XML
/// declaration) whose every prefix is declared within it, so it can stand inside any element.
pub(crate) fn check_fragment(fragment: &[u8]) -> Result<(), XmlError> {
    parse_content(fragment, false).map(|_| ())
}

fn parse_content(input: &[u8], document: bool) -> Result<Vec<Node>, XmlError> {
    let mut reader = quick_xml::Reader::from_reader(input);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    // Bindings in scope: prefix ("" for the default) and URI; innermost last.
    let mut scope: Vec<(String, String)> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut top: Vec<Node> = Vec::new();
    loop {
        let at = reader.buffer_position();
        let event = reader.read_event().map_err(|e| parser_err(&e, at))?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err("elements nested too deep", at));
                }
                if document && stack.is_empty() && top.iter().any(|n| matches!(n, Node::Element(_)))
                {
                    return Err(err("more than one root element", at));
                }
                let scope_len = scope.len();
                let mut element = open(&start, &mut scope, at)?;
                let content_start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                element.inner = (content_start, content_start);
                stack.push(Open { element, scope_len });
            }
            Event::Empty(start) => {
                if document && stack.is_empty() && top.iter().any(|n| matches!(n, Node::Element(_)))
                {
                    return Err(err("more than one root element", at));
                }
                let scope_len = scope.len();
                let element = open(&start, &mut scope, at)?;
                scope.truncate(scope_len);
                push(&mut stack, &mut top, Node::Element(element));
            }
            Event::End(_) => {
                let Some(mut open) = stack.pop() else {
                    return Err(err("end tag without a start tag", at));
                };
                open.element.inner.1 = usize::try_from(at).unwrap_or(usize::MAX);
                scope.truncate(open.scope_len);
                push(&mut stack, &mut top, Node::Element(open.element));
            }
            Event::Text(text) => {
                let raw = std::str::from_utf8(&text).map_err(|_| err("not UTF-8", at))?;
                if document && stack.is_empty() {
                    if raw.trim().is_empty() {
                        continue;
                    }
                    return Err(err("text outside the root element", at));
                }
                push_text(&mut stack, &mut top, &normalize_line_ends(raw));
            }
            Event::CData(cdata) => {
                let raw = std::str::from_utf8(&cdata).map_err(|_| err("not UTF-8", at))?;
                if document && stack.is_empty() {
                    return Err(err("text outside the root element", at));
                }
                push_text(&mut stack, &mut top, &normalize_line_ends(raw));
            }
            Event::GeneralRef(reference) => {
                if document && stack.is_empty() {
                    return Err(err("text outside the root element", at));
                }
                let c = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = std::str::from_utf8(&reference)
                            .map_err(|_| err("bad entity reference", at))?;
                        quick_xml::escape::resolve_predefined_entity(name)
                            .ok_or_else(|| err("unknown entity", at))?
                            .to_owned()
                    }
                    Err(_) => return Err(err("bad character reference", at)),
                };
                push_text(&mut stack, &mut top, &c);
            }
            Event::PI(pi) => {
                let target = std::str::from_utf8(pi.target()).map_err(|_| err("not UTF-8", at))?;
                let content =
                    std::str::from_utf8(pi.content()).map_err(|_| err("not UTF-8", at))?;
                let node = Node::Pi(target.to_owned(), content.trim_start().to_owned());
                if !stack.is_empty() {
                    push(&mut stack, &mut top, node);
                }
            }
            Event::Comment(_) => {}
            Event::Decl(_) => {
                if !document || at != 0 {
                    return Err(err("XML declaration out of place", at));
                }
            }
            Event::DocType(_) => return Err(err("DOCTYPE is not allowed", at)),
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(err(
            "the document ends inside an element",
            reader.buffer_position(),
        ));
    }
    Ok(top)
}

fn push(stack: &mut [Open], top: &mut Vec<Node>, node: Node) {
    match stack.last_mut() {
        Some(parent) => parent.element.children.push(node),
        None => top.push(node),
    }
}

fn push_text(stack: &mut [Open], top: &mut Vec<Node>, text: &str) {
    let children = match stack.last_mut() {
        Some(parent) => &mut parent.element.children,
        None => top,
    };
    if let Some(Node::Text(before)) = children.last_mut() {
        before.push_str(text);
    } else {
        children.push(Node::Text(text.to_owned()));
    }
}

/// XML 1.0 §2.11: `\r\n` and a lone `\r` read as `\n`.
fn normalize_line_ends(raw: &str) -> String {
    if !raw.contains('\r') {
        return raw.to_owned();
    }
    raw.replace("\r\n", "\n").replace('\r', "\n")
}

fn split_qname(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, name),
    }
}

fn lookup<'s>(scope: &'s [(String, String)], prefix: &str) -> Option<&'s str> {
    if prefix == "xml" {
        return Some(XML_NS);
    }
    scope
        .iter()
        .rev()
        .find(|(p, _)| p == prefix)
        .map(|(_, uri)| uri.as_str())
}

/// Reads a start tag: declarations first (they apply to the tag's own names), then the names.
fn open(
    start: &BytesStart<'_>,
    scope: &mut Vec<(String, String)>,
    at: u64,
) -> Result<Element, XmlError> {
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(|_| err("not UTF-8", at))?
        .to_owned();
    let mut raw_attrs: Vec<(String, String)> = Vec::new();
    let mut ns_decls = Vec::new();
    for attr in start.attributes().with_checks(true) {
        let attr = attr.map_err(|_| err("bad or duplicate attribute", at))?;
        let key = std::str::from_utf8(attr.key.as_ref()).map_err(|_| err("not UTF-8", at))?;
        let raw = std::str::from_utf8(&attr.value).map_err(|_| err("not UTF-8", at))?;
        let value = attribute_value(raw).ok_or_else(|| err("bad attribute value", at))?;
        if key == "xmlns" {
            ns_decls.push((String::new(), value));
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            if value.is_empty() {
                return Err(err("a prefix cannot be undeclared in XML 1.0", at));
            }
            ns_decls.push((prefix.to_owned(), value));
        } else {
            raw_attrs.push((key.to_owned(), value));
        }
    }
    scope.extend(ns_decls.iter().cloned());
    let (prefix, local) = split_qname(&name);
    let ns = match prefix {
        Some(p) => Some(
            lookup(scope, p)
                .ok_or_else(|| err("undeclared namespace prefix", at))?
                .to_owned(),
        ),
        None => lookup(scope, "")
            .filter(|u| !u.is_empty())
            .map(str::to_owned),
    };
    let mut attrs: Vec<Attr> = Vec::with_capacity(raw_attrs.len());
    for (key, value) in raw_attrs {
        let (prefix, local) = split_qname(&key);
        let ns = match prefix {
            Some(p) => Some(
                lookup(scope, p)
                    .ok_or_else(|| err("undeclared namespace prefix", at))?
                    .to_owned(),
            ),
            None => None,
        };
        if attrs.iter().any(|a| a.local == local && a.ns == ns) {
            return Err(err("duplicate attribute", at));
        }
        attrs.push(Attr {
            prefix: prefix.map(str::to_owned),
            local: local.to_owned(),
            ns,
            value,
        });
    }
    Ok(Element {
        prefix: prefix.map(str::to_owned),
        local: local.to_owned(),
        ns,
        attrs,
        ns_decls,
        children: Vec::new(),
        inner: (0, 0),
    })
}

/// XML 1.0 §3.3.3 for CDATA-typed attributes: literal whitespace reads as a space (after line
/// end normalization), references are resolved. `None` for `<` or a bad reference.
fn attribute_value(raw: &str) -> Option<String> {
    let raw = raw.replace("\r\n", "\n");
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw.as_str();
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => return None,
            '&' => {
                let end = rest.find(';')?;
                let name = &rest[1..end];
                if let Some(num) = name.strip_prefix('#') {
                    let code = match num.strip_prefix('x') {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    out.push(char::from_u32(code).filter(|&c| c != '\0')?);
                } else {
                    out.push_str(quick_xml::escape::resolve_predefined_entity(name)?);
                }
                rest = &rest[end + 1..];
                continue;
            }
            '\t' | '\n' | '\r' => out.push(' '),
            other => out.push(other),
        }
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn reads_names_namespaces_and_content_ranges() {
        let doc = br#"<?xml version="1.0"?>
<a:r xmlns:a="urn:a" xmlns="urn:d"><b x="1&amp;2&#x9;"> t&lt;<![CDATA[<c>]]></b><e/></a:r>"#;
        let root = parse(doc).unwrap();
        assert!(root.is("urn:a", "r"));
        let b = root.child("b").unwrap();
        assert_eq!(b.ns.as_deref(), Some("urn:d"));
        assert_eq!(b.attr(None, "x"), Some("1&2\t"));
        assert_eq!(b.text(), " t<<c>");
        assert_eq!(
            &doc[b.inner.0..b.inner.1],
            b" t&lt;<![CDATA[<c>]]>".as_slice()
        );
        let e = root.child("e").unwrap();
        assert_eq!(e.inner.0, e.inner.1);
    }

    #[test]
    fn refuses_what_is_not_well_formed() {
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"<p:a/>",
            b"<a x='1' x='2'/>",
            b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
            b"<a/><b/>",
            b"<a>&unknown;</a>",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(check_fragment(b"<x>1</x><y/>text").is_ok());
        assert!(check_fragment(b"<x>").is_err());
        assert!(check_fragment(b"</data><data>").is_err());
        assert!(check_fragment(b"<?xml version='1.0'?><x/>").is_err());
    }
}
