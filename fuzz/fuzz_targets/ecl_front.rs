//! The ECL front end on arbitrary text: the lexer, parser, checker and
//! formatter never panic, and formatting is idempotent and reparses.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let _ = erynoa_ecl::compile_expr(source);
    let checked = erynoa_ecl::check(source);
    if let Ok(formatted) = erynoa_ecl::format(source) {
        let again = erynoa_ecl::format(&formatted).expect("formatted source parses");
        assert_eq!(again, formatted, "formatting is not idempotent");
        // Formatting keeps the meaning: the same policies compile.
        if let Ok(programs) = checked {
            let after = erynoa_ecl::check(&formatted).expect("formatted source checks");
            // Debug text, not values: a NaN constant is not equal to itself.
            assert_eq!(format!("{programs:?}"), format!("{after:?}"), "formatting changed the program");
        }
    }
});
