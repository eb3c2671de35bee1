//! What the CLI prints for people: `== label` headings like the seed's scripts, colour only on a
//! terminal, and plain tables.
#![allow(clippy::print_stdout)]

use std::io::IsTerminal;

const CYAN: &str = "\x1b[1;36m";
const RESET: &str = "\x1b[0m";

/// Prints `== label` (cyan on a terminal), as the seed's `bin/db-*` scripts did.
pub fn heading(label: &str) {
    if std::io::stdout().is_terminal() {
        println!("{CYAN}== {label}{RESET}");
    } else {
        println!("== {label}");
    }
}

pub fn line(text: impl AsRef<str>) {
    println!("{}", text.as_ref());
}

/// Left-aligned columns sized to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
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
