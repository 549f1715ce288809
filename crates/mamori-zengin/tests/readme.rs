//! The README's layout tables say what the code does.

use mamori_zengin::layout::{self, Field, FieldKind};

#[test]
fn readme_lists_every_field_where_the_code_puts_it() {
    let readme = include_str!("../README.md");
    let all: Vec<&Field> = layout::header::FIELDS
        .iter()
        .chain(&layout::data::FIELDS)
        .chain([&layout::data::EDI])
        .chain(&layout::trailer::FIELDS)
        .chain(&layout::end::FIELDS)
        .collect();
    for f in all {
        let kind = match f.kind {
            FieldKind::Numeric => "N",
            FieldKind::Text => "C",
            FieldKind::Code => "code",
            FieldKind::Filler => "filler",
        };
        let row = format!("| {} | {}-{} | {} | {kind} |", f.name, f.start, f.end(), f.width);
        assert!(readme.contains(&row), "README.md lacks the row {row}");
    }
}
