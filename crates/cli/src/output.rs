//! What the CLI prints for people: `== label` headings like the seed's scripts, colour only on a
//! terminal, and plain tables.
#![allow(clippy::print_stdout)]

use std::io::IsTerminal;

const CYAN: &str = "\x1b[1;36m";
const RESET: &str = "\x1b[0m";

/// Prints `== label` (cyan on a terminal), as the seed's `bin/db-*` scripts did.
pub(crate) fn heading(label: &str) {
    if std::io::stdout().is_terminal() {
        println!("{CYAN}== {label}{RESET}");
    } else {
        println!("== {label}");
    }
}

/// A handle from the pool or an old row, printable: control characters (a terminal's escape
/// sequences among them) escaped; `?` when there is none.
pub(crate) fn shown_handle(handle: Option<&str>) -> String {
    handle.map_or_else(|| "?".to_owned(), |h| h.escape_debug().to_string())
}

pub(crate) fn line(text: impl AsRef<str>) {
    println!("{}", text.as_ref());
}

/// Left-aligned columns sized to their widest cell.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    println!("{}", render(headers.to_vec()));
    println!(
        "{}",
        render(
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect()
        )
    );
    for row in rows {
        println!("{}", render(row.iter().map(String::as_str).collect()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_handle_cannot_drive_the_terminal() {
        assert_eq!(shown_handle(Some("bayko")), "bayko");
        assert_eq!(shown_handle(Some("evil\x1b[2J")), "evil\\u{1b}[2J");
        assert_eq!(shown_handle(None), "?");
    }
}
