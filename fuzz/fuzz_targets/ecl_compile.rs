//! The back ends on arbitrary input: every program the checker accepts
//! compiles to a valid component, and `.eclc` bytes are read strictly and
//! round-trip.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(code) = erynoa_ecl::eclc::read(data) {
        // Bytes, not values: a NaN constant is not equal to itself.
        let again = erynoa_ecl::eclc::write(&code);
        let reread = erynoa_ecl::eclc::read(&again).expect("written bytecode reads");
        assert_eq!(erynoa_ecl::eclc::write(&reread), again);
    }
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(programs) = erynoa_ecl::check(source) {
        for program in &programs {
            // wit-component validates the component it builds.
            erynoa_ecl::component::compile(program).expect("a checked program compiles");
        }
    }
});
