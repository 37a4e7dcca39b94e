//! Files of JSON lines from other systems (`kuzet consents import`, the reporting source): what
//! their tools write that is still a good file (a byte order mark, CRLF line ends), and what
//! no such file is (an archive, UTF-16 or Windows-1251 text, a line of megabytes), refused
//! before a run reads on rather than line by line or by filling the memory.

use std::io::{self, BufRead, Read, Seek, SeekFrom};

/// The byte order mark some tools write at the start of a text file: a file of JSON lines
/// may open with it; a request body may not.
pub const BOM: char = '\u{feff}';

/// The longest line read: a contract or a consent takes one or two KiB, so a longer line is
/// not one of them (a file without line ends), and is skipped rather than held in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// How much of a file's start [`not_text`] looks at.
const SNIFF_BYTES: usize = 64 * 1024;

/// Why a file is not UTF-8 text of JSON lines, judged on its first 64 KiB (the file is then
/// read again from its start), or `None` when it may be.
pub fn not_text(file: &mut (impl Read + Seek)) -> io::Result<Option<&'static str>> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    file.by_ref()
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(sniff(&head, head.len() < SNIFF_BYTES))
}

fn sniff(head: &[u8], whole: bool) -> Option<&'static str> {
    if head.starts_with(&[0x1f, 0x8b]) {
        return Some("it is gzip-compressed, not text: decompress it first");
    }
    if head.starts_with(b"PK\x03\x04") {
        return Some("it is a ZIP archive (a spreadsheet?), not JSON lines");
    }
    if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
        return Some("it is UTF-16 text: save it as UTF-8");
    }
    if head.contains(&0) {
        return Some("it holds NUL bytes: a binary file, not JSON lines");
    }
    match std::str::from_utf8(head) {
        Ok(_) => None,
        // Cut inside a character at the end of what was read: what came before is UTF-8.
        Err(e) if !whole && e.error_len().is_none() => None,
        Err(_) => Some("it is not UTF-8 text (an export in Windows-1251?): save it as UTF-8"),
    }
}

/// One line read into `line` (cleared first), its end included: `Ok(None)` at the end of the
/// input, else the bytes taken from the input and whether the line was longer than
/// [`MAX_LINE_BYTES`], in which case `line` holds only its start and the rest was skipped.
pub fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<(u64, bool)>> {
    line.clear();
    let n = input
        .by_ref()
        .take(MAX_LINE_BYTES as u64)
        .read_until(b'\n', line)?;
    if n == 0 {
        return Ok(None);
    }
    if n < MAX_LINE_BYTES || line.ends_with(b"\n") {
        return Ok(Some((n as u64, false)));
    }
    // Too long: skip to the end of the line without keeping it.
    let mut skipped = 0u64;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                skipped += i as u64 + 1;
                break;
            }
            None => {
                let len = buf.len();
                input.consume(len);
                skipped += len as u64;
            }
        }
    }
    Ok(Some((n as u64 + skipped, true)))
}

/// The text of line `line` (from 1) as [`read_line`] read it: UTF-8, without the byte order
/// mark that may open the file, trimmed; the reason it is not text otherwise.
pub fn text(line: u64, bytes: &[u8]) -> Result<&str, &'static str> {
    let t = std::str::from_utf8(bytes).map_err(|_| "the line is not UTF-8")?;
    let t = match line {
        1 => t.strip_prefix(BOM).unwrap_or(t),
        _ => t,
    };
    Ok(t.trim())
}

/// The refusal of a line longer than [`MAX_LINE_BYTES`].
pub const LINE_TOO_LONG: &str =
    "the line is longer than 1 MiB: not one contract or consent (a file without line ends?)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_other_encodings_and_binary_files_are_not_text() {
        let says = |head: &[u8], what: &str| sniff(head, true).is_some_and(|m| m.contains(what));
        assert!(says(&[0x1f, 0x8b, 8, 0, 0, 0], "gzip"));
        assert!(says(b"PK\x03\x04rest", "ZIP"));
        assert!(says(&[0xff, 0xfe, b'{', 0], "UTF-16"));
        assert!(says(b"{\"a\":\0}", "NUL"));
        // "Ахметов" in Windows-1251.
        assert!(says(
            b"{\"last_name\": \"\xc0\xf5\xec\xe5\xf2\xee\xe2\"}\n",
            "Windows-1251"
        ));
        assert_eq!(
            sniff("\u{feff}{\"a\": \"Ахметов\"}\r\n".as_bytes(), true),
            None
        );
        assert_eq!(sniff(b"", true), None);
        // A character cut by the end of the sniffed part is not a fault; at the file's end it is.
        let cut = &"{\"a\": \"Ж".as_bytes()[..8];
        assert_eq!(sniff(cut, false), None);
        assert!(sniff(cut, true).is_some());
    }

    #[test]
    fn a_byte_order_mark_opens_the_first_line_only() {
        let marked = "\u{feff}{}\r\n".as_bytes();
        assert_eq!(text(1, marked), Ok("{}"));
        assert_eq!(text(2, marked), Ok("\u{feff}{}"));
        assert!(text(1, b"\xe0{}").is_err());
    }

    #[test]
    fn a_line_too_long_is_skipped_to_its_end_and_the_next_line_is_read_whole() {
        let mut text = vec![b'x'; MAX_LINE_BYTES * 3 + 17];
        text.extend_from_slice(b"\n{\"next\": 1}\r\nlast");
        let mut input = io::BufReader::with_capacity(4096, &text[..]);
        let mut line = Vec::new();
        let (n, long) = read_line(&mut input, &mut line)
            .expect("read")
            .expect("a line");
        assert!(long);
        assert_eq!(n, MAX_LINE_BYTES as u64 * 3 + 18);
        assert!(line.len() <= MAX_LINE_BYTES);
        assert_eq!(
            read_line(&mut input, &mut line).expect("read"),
            Some((13, false))
        );
        assert_eq!(line, b"{\"next\": 1}\r\n");
        assert_eq!(
            read_line(&mut input, &mut line).expect("read"),
            Some((4, false))
        );
        assert_eq!(line, b"last");
        assert_eq!(read_line(&mut input, &mut line).expect("read"), None);
        // A line of exactly the limit, its end included, is whole.
        let mut exact = vec![b'y'; MAX_LINE_BYTES - 1];
        exact.push(b'\n');
        let mut input = io::BufReader::new(&exact[..]);
        assert_eq!(
            read_line(&mut input, &mut line).expect("read"),
            Some((MAX_LINE_BYTES as u64, false))
        );
    }
}
