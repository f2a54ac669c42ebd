//! Scans the list pages named on the command line as a list read does (for instruction counts).
fn main() {
    let mut kept = 0usize;
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("read the page");
        let text = std::str::from_utf8(&bytes).expect("UTF-8");
        gljob::json::for_each_item(text, &gljob::model::Listed::FIELDS, |item| {
            kept += item.fields.len();
            Ok(())
        })
        .expect("a page");
    }
    println!("{kept}");
}
